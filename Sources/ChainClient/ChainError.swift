/// Every way talking to a node fails. One closed set, each case with a one-line description.
public enum ChainError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The node answered with a JSON-RPC error object (a revert's reason is in the message).
    case rpc(code: Int, message: String)
    /// No answer (or no receipt) within the time allowed.
    case timeout(String)
    /// The node answered something that is not the JSON-RPC reply the method promises.
    case malformed(String)
    /// The node could not be reached at all (refused, DNS, TLS, not HTTP).
    case unreachable(String)
    /// The RPC URL is not usable.
    case badURL(String)

    public var description: String {
        switch self {
        case .rpc(let code, let message): "the node refused (\(code)): \(message)"
        case .timeout(let what): "timed out: \(what)"
        case .malformed(let why): "malformed reply from the node: \(why)"
        case .unreachable(let why): "node unreachable: \(why)"
        case .badURL(let why): "bad RPC URL: \(why)"
        }
    }
}
