import CSecp256k1

/// A secp256k1 private key. Its 32 bytes live in their own allocation, are zeroised when the
/// key is dropped, and never appear in a description, a dump or a log line.
public final class PrivateKey: @unchecked Sendable {
    private let secret: UnsafeMutableRawBufferPointer
    public let publicKey: PublicKey

    /// Takes a copy of `bytes`; the caller should zeroise its own copy.
    public init(bytes: some Collection<UInt8>) throws(EthereumError) {
        guard bytes.count == 32 else { throw .invalidPrivateKey }
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 32, alignment: 16)
        buffer.copyBytes(from: bytes)
        let ctx = Secp256k1.context
        var pubkey = secp256k1_pubkey()
        let base = buffer.baseAddress!.assumingMemoryBound(to: UInt8.self)
        guard secp256k1_ec_seckey_verify(ctx, base) == 1,
            secp256k1_ec_pubkey_create(ctx, &pubkey, base) == 1
        else {
            secureZero(buffer)
            buffer.deallocate()
            throw .invalidPrivateKey
        }
        self.secret = buffer
        self.publicKey = PublicKey(parsed: pubkey)
    }

    public convenience init(hex: String) throws(EthereumError) {
        var bytes = try [UInt8](hex: hex)
        defer { secureZero(&bytes) }
        try self.init(bytes: bytes)
    }

    /// A fresh key from the system CSPRNG.
    public static func generate() -> PrivateKey {
        while true {
            var candidate = SystemRandom.bytes(32)
            defer { secureZero(&candidate) }
            if let key = try? PrivateKey(bytes: candidate) { return key }
        }
    }

    deinit {
        secureZero(secret)
        secret.deallocate()
    }

    public var address: Address { publicKey.address }

    /// Signs a 32-byte digest: RFC 6979 deterministic nonce, low-s, recovery id attached.
    public func sign(digest message: [UInt8]) throws(EthereumError) -> Signature {
        guard message.count == 32 else { throw .invalidSignature("digest must be 32 bytes") }
        var signature = secp256k1_ecdsa_recoverable_signature()
        let ok = secp256k1_ecdsa_sign_recoverable(
            Secp256k1.context, &signature, message,
            secret.baseAddress!.assumingMemoryBound(to: UInt8.self), nil, nil)
        guard ok == 1 else { throw .invalidPrivateKey }
        var compact = [UInt8](repeating: 0, count: 65)
        var recoveryID: Int32 = 0
        _ = secp256k1_ecdsa_recoverable_signature_serialize_compact(Secp256k1.context, &compact, &recoveryID, &signature)
        compact[64] = UInt8(recoveryID)
        return Signature(validatedRSV: compact)
    }

    /// Lends the raw secret for export (keystores). Do not keep or print it.
    public func withUnsafeSecret<R, E: Error>(_ body: (UnsafeRawBufferPointer) throws(E) -> R) throws(E) -> R {
        try body(UnsafeRawBufferPointer(secret))
    }
}

extension PrivateKey: CustomStringConvertible, CustomDebugStringConvertible, CustomReflectable {
    public var description: String { "PrivateKey(\(address), secret redacted)" }
    public var debugDescription: String { description }
    public var customMirror: Mirror { Mirror(self, children: ["address": address.checksummed]) }
}
