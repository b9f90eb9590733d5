/// Why a player's request to the bridge did not come back approved.
public enum PlayerError: Error, CustomStringConvertible, Sendable, Equatable {
    /// The bridge was unreachable or refused (its error text).
    case bridge(String)
    /// The bridge no longer knows this player's token (revoked): the stored token was removed.
    case forgotten
    /// The user denied the pairing, or it expired.
    case pairing(state: String)
    /// The request ended otherwise than approved (denied, expired, failed) and why.
    case decided(state: String, reason: String?)
    /// No decision before the deadline; the request stays pending on the bridge.
    case timedOut(seconds: Int, what: String)

    public var description: String {
        switch self {
        case .bridge(let text): text
        case .forgotten: "the bridge no longer knows this wallet's token (revoked?): run again to pair anew"
        case .pairing(let state): "pairing \(state)"
        case .decided(let state, let reason): "request \(state)\(reason.map { ": \($0)" } ?? "")"
        case .timedOut(let seconds, let what): "no decision within \(seconds) s (the \(what) stays pending on the bridge)"
        }
    }
}
