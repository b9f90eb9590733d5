import Ethereum
import Hummingbird

/// An API refusal: an HTTP status and `{"error": "...", "code": "..."}`. It renders itself
/// (Hummingbird's `HTTPResponseError`), so a route or middleware just throws it.
///
/// The parsers here throw only `APIError` but say plain `throws`: a `throws(APIError)` call between two
/// `await`s in a route crashed Swift 6.3.1's release build (LLVM CoroSplit, signal 11).
public struct APIError: Error, Sendable, CustomStringConvertible, HTTPResponseError {
    public let status: HTTPResponse.Status
    public let code: String
    public let message: String

    public init(_ status: Int, _ code: String, _ message: String) {
        self.status = HTTPResponse.Status(code: status)
        self.code = code
        self.message = message
    }

    public var description: String { "\(message) (\(code))" }

    public static func badRequest(_ message: String) -> APIError { APIError(400, "bad_request", message) }
    public static func notFound(_ what: String) -> APIError { APIError(404, "not_found", "\(what) not found") }
    public static func conflict(_ message: String) -> APIError { APIError(409, "conflict", message) }
    public static let unauthenticated = APIError(401, "unauthenticated", "pair first: Authorization: Bearer <token>")
    public static let revokedToken = APIError(401, "unauthenticated", "unknown or revoked token")
    public static let internalError = APIError(500, "internal", "internal error")

    public var json: JSONValue { .object(["error": .string(message), "code": .string(code)]) }

    public func response(from request: Request, context: some RequestContext) throws -> Response {
        JSONResponse.make(json, status: status)
    }

    public static func onlyKeys(_ object: JSONObject, _ allowed: [String], in what: String) throws {
        for key in object.keys where !allowed.contains(key) {
            throw APIError(400, "unknown_field", "\(what) has no member \"\(key)\"")
        }
    }
}

extension APIError {
    /// Hummingbird's own refusals (no route: 404; a body over the limit: 413) in the API's shape.
    public init(_ error: HTTPError) {
        let code =
            switch error.status {
            case .notFound: "not_found"
            case .contentTooLarge: "too_large"
            default: "http_\(error.status.code)"
            }
        self.init(error.status.code, code, error.status.reasonPhrase)
    }
}
