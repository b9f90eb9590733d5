import CSecp256k1

/// A secp256k1 public key, kept as its 64-byte uncompressed X‖Y form.
public struct PublicKey: Hashable, Sendable {
    /// X‖Y, 64 bytes, without the 0x04 prefix.
    public let xy: [UInt8]

    init(parsed key: secp256k1_pubkey) {
        var key = key
        var out = [UInt8](repeating: 0, count: 65)
        var length = 65
        _ = secp256k1_ec_pubkey_serialize(Secp256k1.context, &out, &length, &key, UInt32(SECP256K1_EC_UNCOMPRESSED))
        xy = Array(out[1...])
    }

    /// Accepts SEC1 compressed (33), uncompressed (65, 0x04) or bare X‖Y (64) encodings.
    public init(bytes: some Collection<UInt8>) throws(EthereumError) {
        var input = Array(bytes)
        if input.count == 64 { input.insert(0x04, at: 0) }
        var key = secp256k1_pubkey()
        guard input.count == 33 || input.count == 65,
            secp256k1_ec_pubkey_parse(Secp256k1.context, &key, input, input.count) == 1
        else { throw .invalidPublicKey }
        self.init(parsed: key)
    }

    public var uncompressed: [UInt8] { [0x04] + xy }

    public var compressed: [UInt8] {
        [xy[63] & 1 == 0 ? 0x02 : 0x03] + xy[0..<32]
    }

    /// The Ethereum address: the last 20 bytes of Keccak-256(X‖Y).
    public var address: Address { xy.withUnsafeBytes { Self.address(xy: $0) } }

    /// The address of a key given as its 64 X‖Y bytes (`Signature.recoverAddress` hashes them from the stack).
    static func address(xy: UnsafeRawBufferPointer) -> Address {
        var hasher = Keccak256()
        hasher.update(xy)
        return Address(validated: Array(hasher.finalize().suffix(20)))
    }

    var parsed: secp256k1_pubkey {
        var key = secp256k1_pubkey()
        _ = secp256k1_ec_pubkey_parse(Secp256k1.context, &key, uncompressed, 65)
        return key
    }
}
