/// Every way the Ethereum core refuses input. One closed set, each case with a one-line description.
public enum EthereumError: Error, Equatable, Sendable, CustomStringConvertible {
    case invalidHex(String)
    case invalidPrivateKey
    case invalidPublicKey
    case invalidSignature(String)
    case invalidAddress(String)
    case invalidJSON(String)
    case invalidTypedData(String)
    case invalidABI(String)
    case invalidRLP(String)
    case invalidTransaction(String)
    case invalidKeystore(String)
    case unsupportedKeystore(String)
    case wrongPassword
    case invalidMnemonic(String)
    case invalidDerivation(String)
    case io(String)

    public var description: String {
        switch self {
        case .invalidHex(let why): "invalid hex: \(why)"
        case .invalidPrivateKey: "invalid private key (must be 32 bytes in 1..n-1)"
        case .invalidPublicKey: "invalid public key"
        case .invalidSignature(let why): "invalid signature: \(why)"
        case .invalidAddress(let why): "invalid address: \(why)"
        case .invalidJSON(let why): "invalid JSON: \(why)"
        case .invalidTypedData(let why): "invalid typed data: \(why)"
        case .invalidABI(let why): "invalid ABI: \(why)"
        case .invalidRLP(let why): "invalid RLP: \(why)"
        case .invalidTransaction(let why): "invalid transaction: \(why)"
        case .invalidKeystore(let why): "invalid keystore: \(why)"
        case .unsupportedKeystore(let why): "unsupported keystore: \(why)"
        case .wrongPassword: "wrong password (keystore MAC mismatch)"
        case .invalidMnemonic(let why): "invalid mnemonic: \(why)"
        case .invalidDerivation(let why): "invalid key derivation: \(why)"
        case .io(let why): why
        }
    }
}
