import CSecp256k1

/// A recoverable ECDSA signature over secp256k1: r‖s‖v, 65 bytes, low-s only (EIP-2).
public struct Signature: Hashable, Sendable, CustomStringConvertible {
    /// r‖s followed by the recovery id (0 or 1).
    private let rsv: [UInt8]

    init(validatedRSV: [UInt8]) { rsv = validatedRSV }

    /// How the last byte, v, of a 65-byte signature may be written.
    public enum VEncoding: Sendable {
        /// 27 or 28 only: what `ecrecover` takes. Envelopes, and everything stored or exported for redemption.
        case ethereum
        /// 27/28 or the raw recovery id 0/1 some signers emit: generic messages (`paratii eth recover-*`).
        case lenient
    }

    /// Parses 65 bytes r‖s‖v with v in {27, 28} (with `.lenient`, also the raw recovery id 0/1).
    /// r or s out of range, and high s, are refused: this core never accepts a malleable signature.
    /// Whatever was read, `bytes` always writes v as 27/28.
    public init(bytes: some Collection<UInt8>, v encoding: VEncoding = .lenient) throws(EthereumError) {
        let input = Array(bytes)
        guard input.count == 65 else { throw .invalidSignature("expected 65 bytes, got \(input.count)") }
        let recoveryID: UInt8
        switch input[64] {
        case 0, 1:
            guard encoding == .lenient else {
                throw .invalidSignature("v must be 27 or 28, got \(input[64]): ecrecover refuses a raw recovery id")
            }
            recoveryID = input[64]
        case 27, 28: recoveryID = input[64] - 27
        default: throw .invalidSignature("v must be 27 or 28, got \(input[64])")
        }
        try Self.checkCompact(input)
        var rsv = input
        rsv[64] = recoveryID
        self.rsv = rsv
    }

    public init(hex: String, v encoding: VEncoding = .lenient) throws(EthereumError) {
        try self.init(bytes: try [UInt8](hex: hex), v: encoding)
    }

    /// Builds a signature from a raw r‖s (as a smartcard returns it) for a key known in advance:
    /// normalises s to the lower half, then finds the recovery id by trial recovery and verifies.
    public init(rawRS: some Collection<UInt8>, digest: some Collection<UInt8>, signer: PublicKey) throws(EthereumError) {
        let raw = Array(rawRS)
        guard raw.count == 64 else { throw .invalidSignature("expected 64 bytes r‖s, got \(raw.count)") }
        var plain = secp256k1_ecdsa_signature()
        guard secp256k1_ecdsa_signature_parse_compact(Secp256k1.context, &plain, raw) == 1 else {
            throw .invalidSignature("r or s out of range")
        }
        var normalised = secp256k1_ecdsa_signature()
        _ = secp256k1_ecdsa_signature_normalize(Secp256k1.context, &normalised, &plain)
        var compact = [UInt8](repeating: 0, count: 64)
        _ = secp256k1_ecdsa_signature_serialize_compact(Secp256k1.context, &compact, &normalised)
        for recoveryID: UInt8 in 0...1 {
            let candidate = Signature(validatedRSV: compact + [recoveryID])
            if let key = try? candidate.recoverPublicKey(digest: digest), key == signer {
                self = candidate
                return
            }
        }
        throw .invalidSignature("does not verify against the expected public key")
    }

    /// Checks r‖s, the first 64 bytes of `compact`.
    private static func checkCompact(_ compact: [UInt8]) throws(EthereumError) {
        var plain = secp256k1_ecdsa_signature()
        guard secp256k1_ecdsa_signature_parse_compact(Secp256k1.context, &plain, compact) == 1 else {
            throw .invalidSignature("r or s out of range")
        }
        guard !compact[0..<32].allSatisfy({ $0 == 0 }), !compact[32..<64].allSatisfy({ $0 == 0 }) else {
            throw .invalidSignature("r or s is zero")
        }
        var normalised = secp256k1_ecdsa_signature()
        if secp256k1_ecdsa_signature_normalize(Secp256k1.context, &normalised, &plain) == 1 {
            throw .invalidSignature("high s value (EIP-2): malleable signature refused")
        }
    }

    public var r: [UInt8] { Array(rsv[0..<32]) }
    public var s: [UInt8] { Array(rsv[32..<64]) }
    public var recoveryID: UInt8 { rsv[64] }
    /// 27 or 28, as personal_sign and EIP-712 signatures carry it.
    public var v: UInt8 { rsv[64] + 27 }

    /// r‖s‖v with v = 27/28.
    public var bytes: [UInt8] {
        var out = rsv
        out[64] += 27
        return out
    }

    public var description: String { bytes.hexString }

    public func recoverPublicKey(digest: some Collection<UInt8>) throws(EthereumError) -> PublicKey {
        PublicKey(parsed: try recoverKey(digest: digest))
    }

    private func recoverKey(digest: some Collection<UInt8>) throws(EthereumError) -> secp256k1_pubkey {
        guard digest.count == 32 else { throw .invalidSignature("digest must be 32 bytes") }
        let message = Array(digest)
        let ctx = Secp256k1.context
        var recoverable = secp256k1_ecdsa_recoverable_signature()
        var key = secp256k1_pubkey()
        let ok = rsv.withUnsafeBufferPointer { buffer in
            secp256k1_ecdsa_recoverable_signature_parse_compact(ctx, &recoverable, buffer.baseAddress!, Int32(buffer[64])) == 1
                && secp256k1_ecdsa_recover(ctx, &key, &recoverable, message) == 1
        }
        guard ok else { throw .invalidSignature("no public key recovers from this signature") }
        return key
    }

    /// The signer's address: the key serialized on the stack and hashed there (no `PublicKey` arrays),
    /// since a payee recovers one per voucher.
    public func recoverAddress(digest: some Collection<UInt8>) throws(EthereumError) -> Address {
        var key = try recoverKey(digest: digest)
        return withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 65) { out in
            var length = 65
            _ = secp256k1_ec_pubkey_serialize(Secp256k1.context, out.baseAddress!, &length, &key, UInt32(SECP256K1_EC_UNCOMPRESSED))
            return PublicKey.address(xy: UnsafeRawBufferPointer(UnsafeMutableBufferPointer(rebasing: out[1..<65])))
        }
    }

    /// Plain ECDSA verification (low-s enforced by libsecp256k1).
    public func isValid(digest: some Collection<UInt8>, publicKey: PublicKey) -> Bool {
        guard digest.count == 32 else { return false }
        var plain = secp256k1_ecdsa_signature()
        var key = publicKey.parsed
        let compact = Array(rsv[0..<64])
        return secp256k1_ecdsa_signature_parse_compact(Secp256k1.context, &plain, compact) == 1
            && secp256k1_ecdsa_verify(Secp256k1.context, &plain, Array(digest), &key) == 1
    }
}
