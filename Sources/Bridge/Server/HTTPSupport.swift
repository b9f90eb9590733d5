import Ethereum
import Foundation
import Hummingbird

/// The player a bearer token belongs to; 401 otherwise.
func authenticate(_ request: Request, _ store: BridgeStore) async throws -> Pairing {
    guard let token = RequestHeaders.bearerToken(request.headers[.authorization]) else { throw APIError.unauthenticated }
    guard let pairing = try await store.authenticate(token: token) else { throw APIError.revokedToken }
    return pairing
}

/// The body as JSON through the strict parser (duplicate keys refused), at most `bodyLimit` bytes.
func bodyValue(_ request: Request, _ settings: BridgeSettings) async throws -> JSONValue {
    try await bodyValue(request, limit: settings.bodyLimit)
}

/// The body as JSON through the strict parser (duplicate keys refused), at most `limit` bytes: a 413
/// before reading more when Content-Length says so, or as soon as a chunked body passes it.
public func bodyValue(_ request: Request, limit: Int) async throws -> JSONValue {
    if let length = request.headers[.contentLength].flatMap({ Int($0) }), length > limit {
        throw APIError(413, "too_large", "body larger than \(limit) bytes")
    }
    var request = request
    let buffer: ByteBuffer
    do { buffer = try await request.collectBody(upTo: limit) } catch {
        throw APIError(413, "too_large", "body larger than \(limit) bytes")
    }
    do { return try JSONValue.parse(Array(buffer.readableBytesView)) } catch {
        throw APIError(400, "malformed_json", "\(error)")
    }
}

/// The body as an object holding only `keys` (unknown members refused).
func body(_ request: Request, _ settings: BridgeSettings, keys: [String]) async throws -> JSONObject {
    try RequestBodies.object(try await bodyValue(request, settings), keys: keys)
}

func json(_ value: JSONValue, status: HTTPResponse.Status = .ok) -> Response { JSONResponse.make(value, status: status) }

public enum JSONResponse {
    /// Compact JSON, never cached: every answer of the API, refusals included.
    public static func make(_ value: JSONValue, status: HTTPResponse.Status = .ok) -> Response {
        Response(
            status: status, headers: [.contentType: "application/json", .cacheControl: "no-store"],
            body: .init(byteBuffer: ByteBuffer(string: value.compactText + "\n")))
    }
}

/// Runs a blocking call (PC/SC: a slow or stuck card) on a thread of its own, never on Swift's
/// cooperative pool, whose two threads on a two-core machine every other request needs.
public enum Blocking {
    public static func run<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            Thread.detachNewThread { continuation.resume(with: Result { try body() }) }
        }
    }
}

extension BridgeStoreError: HTTPResponseError {
    public var status: HTTPResponse.Status { APIError(self).status }

    public func response(from request: Request, context: some RequestContext) throws -> Response {
        try APIError(self).response(from: request, context: context)
    }
}
