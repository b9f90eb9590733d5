/// EIP-191 version 0x45, `personal_sign`: keccak256("\x19Ethereum Signed Message:\n" ‖ len ‖ message).
public enum PersonalMessage {
    public static func prefixed(_ message: [UInt8]) -> [UInt8] {
        Array("\u{19}Ethereum Signed Message:\n\(message.count)".utf8) + message
    }

    public static func hash(_ message: [UInt8]) -> [UInt8] {
        Keccak256.hash(prefixed(message))
    }

    public static func sign(_ message: [UInt8], with key: PrivateKey) throws(EthereumError) -> Signature {
        try key.sign(digest: hash(message))
    }

    public static func recover(_ message: [UInt8], signature: Signature) throws(EthereumError) -> Address {
        try signature.recoverAddress(digest: hash(message))
    }
}
