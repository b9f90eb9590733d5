import Ethereum
import Foundation
import Hummingbird
import LoopbackHTTP

/// The player a bearer token belongs to; 401 otherwise.
func authenticate(_ request: Request, _ store: BridgeStore) async throws -> Pairing {
    guard let token = RequestHeaders.bearerToken(request.headers[.authorization]) else { throw APIError.unauthenticated }
    guard let pairing = try await store.authenticate(token: token) else { throw APIError.revokedToken }
    return pairing
}

/// The body as JSON through the strict parser (duplicate keys refused), at most the bridge's `bodyLimit` bytes.
func bodyValue(_ request: Request, _ settings: BridgeSettings) async throws -> JSONValue {
    try await BoundedBody.json(request, limit: settings.bodyLimit)
}

/// The body as an object holding only `keys` (unknown members refused).
func body(_ request: Request, _ settings: BridgeSettings, keys: [String]) async throws -> JSONObject {
    try RequestBodies.object(try await bodyValue(request, settings), keys: keys)
}

func json(_ value: JSONValue, status: HTTPResponse.Status = .ok) -> Response { JSONResponse.make(value, status: status) }

extension APIError {
    /// The HTTP face of a store refusal: the store knows nothing of statuses, the API decides them here.
    public init(_ error: BridgeStoreError) {
        switch error {
        case .notFound(let what): self = .notFound(what)
        case .settled: self = .conflict(error.description)
        case .tooManyPairings: self.init(429, "too_many_pairings", error.description)
        case .tooManyRequests: self.init(429, "too_many_requests", error.description)
        case .tooManyRevocations: self.init(429, "too_many_revocations", error.description)
        case .unusable, .storage: self.init(500, "internal", error.description)
        }
    }
}

extension BridgeStoreError: HTTPResponseError {
    public var status: HTTPResponse.Status { APIError(self).status }

    public func response(from request: Request, context: some RequestContext) throws -> Response {
        try APIError(self).response(from: request, context: context)
    }
}
