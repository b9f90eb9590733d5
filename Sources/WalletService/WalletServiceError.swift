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

    var description: String { api.message }

    var api: APIError {
        switch self {
        case .notPaired(let why): APIError(403, "not_paired", why)
        case .locked: APIError(423, "locked", "the wallet is locked: run `paratii wallet unlock`")
        case .badRequest(let why): APIError.badRequest(why)
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
