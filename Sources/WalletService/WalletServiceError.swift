import Bridge
import Hummingbird
import LoopbackHTTP
import PlayerCore

/// Why the wallet service refused a page or a local tool. Each case knows its HTTP face (`api`), so
/// a page can tell "not paired" from "locked" from "over budget" by the `code` alone.
enum WalletServiceError: Error, Sendable, CustomStringConvertible {
    /// The Origin has no approved pairing, or the bearer token is not that origin's.
    case notPaired(String)
    /// The key is not in memory: `paratii wallet unlock`.
    case locked
    /// The wallet refused the payment (site budget, delegation bounds) or the request.
    case wallet(WalletError)
    case badRequest(String)
    /// No usable delegation, and the bridge has not (yet) given one: waiting, denied, or out of reach.
    case delegation(DelegationKeeper.Status)

    var description: String { api.message }

    var api: APIError {
        switch self {
        case .notPaired(let why): APIError(403, "not_paired", why)
        case .locked: APIError(423, "locked", "the wallet is locked: run `paratii wallet unlock`")
        case .badRequest(let why): APIError.badRequest(why)
        case .delegation(let status):
            switch status.phase {
            case .requesting: APIError(503, "awaiting_delegation", "no delegation covers this payment yet: \(status.message)")
            case .denied: APIError(403, "delegation_denied", "\(status.message); run `paratii wallet renew-delegation` to ask again")
            case .unavailable: APIError(502, "bridge_unavailable", status.message)
            case .ready: APIError(403, "refused", "no delegation covers this payment")
            }
        case .wallet(let error):
            switch error {
            case .refused(let reason, _) where [.overSiteBudget, .overTotal, .overPeriod, .overPerPayment].contains(reason):
                APIError(403, "over_budget", error.description)
            case .refused: APIError(403, "refused", error.description)
            case .idempotencyConflict: APIError(409, "conflict", error.description)
            case .invalid: APIError(400, "bad_request", error.description)
            case .noSpendingKey, .alreadyInitialised, .corrupted, .storage: APIError(500, "internal", error.description)
            }
        }
    }
}

extension WalletServiceError: HTTPResponseError {
    var status: HTTPResponse.Status { api.status }

    func response(from request: Request, context: some RequestContext) throws -> Response {
        try api.response(from: request, context: context)
    }
}
