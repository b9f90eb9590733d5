import Ethereum
import Foundation
import Hummingbird

func authenticate(_ request: Request, _ store: BridgeStore) throws -> BridgeStore.Pairing {
    guard let token = RequestHeaders.bearerToken(request.headers[.authorization]) else {
        throw APIError(401, "unauthenticated", "pair first: Authorization: Bearer <token>")
    }
    guard let pairing = try store.authenticate(token: token) else {
        throw APIError(401, "unauthenticated", "unknown or revoked token")
    }
    return pairing
}

func bodyValue(_ request: Request, _ settings: BridgeSettings) async throws -> JSONValue {
    if let length = request.headers[.contentLength].flatMap({ Int($0) }), length > settings.bodyLimit {
        throw APIError(413, "too_large", "body larger than \(settings.bodyLimit) bytes")
    }
    var request = request
    let buffer: ByteBuffer
    do { buffer = try await request.collectBody(upTo: settings.bodyLimit) } catch {
        throw APIError(413, "too_large", "body larger than \(settings.bodyLimit) bytes")
    }
    do { return try JSONValue.parse(Array(buffer.readableBytesView)) } catch {
        throw APIError(400, "malformed_json", "\(error)")
    }
}

func body(_ request: Request, _ settings: BridgeSettings, keys: [String]) async throws -> JSONObject {
    try RequestBodies.object(try await bodyValue(request, settings), keys: keys)
}

func json(_ value: JSONValue, status: HTTPResponse.Status = .ok) -> Response {
    Response(
        status: status, headers: [.contentType: "application/json", .cacheControl: "no-store"],
        body: .init(byteBuffer: ByteBuffer(string: value.compactText + "\n")))
}

/// The checks every request passes before routing, and the translation of every refusal into
/// `{"error": …, "code": …}`: Host must name loopback (DNS rebinding), an Origin must be allowed.
struct GuardMiddleware<Context: RequestContext>: RouterMiddleware {
    let settings: BridgeSettings

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            guard let host = request.head.authority, Self.isLoopback(host) else {
                throw APIError(421, "bad_host", "Host must be localhost, 127.0.0.1 or [::1]")
            }
            let origin = request.headers[.origin]
            if let origin, !settings.allowedOrigins.contains(origin) {
                throw APIError(403, "bad_origin", "origin not allowed")
            }
            if request.method == .options {
                guard let origin else { throw APIError(400, "bad_request", "preflight without Origin") }
                return Response(status: .noContent, headers: Self.cors(origin))
            }
            var response = try await next(request, context)
            if let origin { response.headers.append(contentsOf: Self.cors(origin)) }
            return response
        } catch let error as APIError {
            return json(error.json, status: .init(code: error.status))
        } catch let error as HTTPError {
            let code =
                error.status == .notFound ? "not_found" : (error.status == .contentTooLarge ? "too_large" : "http_\(error.status.code)")
            return json(APIError(error.status.code, code, error.status.reasonPhrase).json, status: error.status)
        } catch {
            return json(APIError(500, "internal", "internal error").json, status: .internalServerError)
        }
    }

    static func cors(_ origin: String) -> HTTPFields {
        [
            .accessControlAllowOrigin: origin, .accessControlAllowHeaders: "Authorization, Content-Type",
            .accessControlAllowMethods: "GET, POST", .vary: "Origin",
        ]
    }

    static func isLoopback(_ authority: String) -> Bool {
        var host = authority.lowercased()
        if host.hasPrefix("[") {
            guard let close = host.firstIndex(of: "]") else { return false }
            let rest = host[host.index(after: close)...]
            guard rest.isEmpty || (rest.hasPrefix(":") && UInt16(rest.dropFirst()) != nil) else { return false }
            host = String(host[...close])
        } else if let colon = host.firstIndex(of: ":") {
            guard UInt16(host[host.index(after: colon)...]) != nil else { return false }
            host = String(host[..<colon])
        }
        return ["localhost", "127.0.0.1", "[::1]"].contains(host)
    }
}

/// One structured log line per request: method, path with ids redacted (a pairing id is the player's
/// claim ticket for its token), status, duration. Never headers (the bearer token) or bodies.
struct AccessLogMiddleware<Context: RequestContext>: RouterMiddleware {
    let admin: Bool

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let start = ContinuousClock.now
        let response = try await next(request, context)
        let path = request.uri.path.split(separator: "/").map { $0.count == 32 && $0.allSatisfy(\.isHexDigit) ? "{id}" : String($0) }
            .joined(separator: "/")
        context.logger.info(
            "request",
            metadata: [
                "method": .string(request.method.rawValue), "path": .string("/" + path), "status": .stringConvertible(response.status.code),
                "listener": .string(admin ? "unix" : "tcp"), "ms": .stringConvertible((ContinuousClock.now - start) / .milliseconds(1)),
            ])
        return response
    }
}
