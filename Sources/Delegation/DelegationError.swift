/// Why the delegation layer refuses to build, parse or sign something (verification results are
/// `Verdict`s, not errors: a rejected chain is an answer, not a failure).
public enum DelegationError: Error, Equatable, Sendable, CustomStringConvertible {
    case malformed(String)
    case wrongDomain(String)
    case invalidAmount(String)
    case invalidDuration(String)
    case configuration(String)
    case signerMismatch(expected: String, actual: String)
    case io(String)

    public var description: String {
        switch self {
        case .malformed(let why): "malformed: \(why)"
        case .wrongDomain(let why): "wrong EIP-712 domain: \(why)"
        case .invalidAmount(let why): "invalid amount: \(why)"
        case .invalidDuration(let why): "invalid duration: \(why)"
        case .configuration(let why): "configuration: \(why)"
        case .signerMismatch(let expected, let actual): "signer mismatch: message names \(expected) but the key is \(actual)"
        case .io(let why): why
        }
    }
}
