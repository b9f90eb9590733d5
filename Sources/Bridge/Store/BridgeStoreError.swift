/// Why the store refused: a closed set the HTTP layer maps to statuses (`APIError(_: BridgeStoreError)`).
/// The store itself knows nothing of HTTP.
public enum BridgeStoreError: Error, Sendable, Equatable, CustomStringConvertible {
    /// No pairing or request with that id ("pairing", "request").
    case notFound(String)
    /// The pairing or request was already settled: `what` is `state`.
    case settled(String, state: String)
    /// Too many pairings wait for approval: this peer's (`mine`) or everyone's.
    case tooManyPairings(mine: Bool)
    /// Too many of this player's requests wait for the user.
    case tooManyRequests
    /// The revocation list is full, for this player or in all.
    case tooManyRevocations
    /// The state file cannot be used (not a regular file, damaged); it is left untouched.
    case unusable(String)
    /// SQLite failed (disk full, I/O error…).
    case storage(String)

    public var description: String {
        switch self {
        case .notFound(let what): "\(what) not found"
        case .settled(let what, let state): "\(what) is \(state)"
        case .tooManyPairings(let mine): mine ? "too many of your pairings wait for approval" : "too many pairings wait for approval"
        case .tooManyRequests: "too many requests of this player wait for approval"
        case .tooManyRevocations: "the bridge holds as many revocations as it keeps"
        case .unusable(let text): text
        case .storage(let text): "storage: \(text)"
        }
    }
}
