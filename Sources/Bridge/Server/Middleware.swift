import Ethereum
import Foundation
import Hummingbird

/// The checks every request passes before routing: Host must name loopback (DNS rebinding), an Origin
/// must be allowed. Refusals are `APIError`s, which render themselves. Shared by the bridge (a fixed list
/// of origins) and the wallet service (any origin may ask to pair; its routes then require a paired one).
public struct GuardMiddleware<Context: RequestContext>: RouterMiddleware {
    let allowedOrigin: @Sendable (String) -> Bool
    /// Answer Chrome's private-network preflight (`Access-Control-Request-Private-Network`), so a public
    /// https page the user paired may reach loopback; the bridge never lets a public page in.
    let privateNetwork: Bool

    init(settings: BridgeSettings) {
        let origins = settings.allowedOrigins
        allowedOrigin = { origins.contains($0) }
        privateNetwork = false
    }

    public init(allowedOrigin: @escaping @Sendable (String) -> Bool, privateNetwork: Bool = false) {
        self.allowedOrigin = allowedOrigin
        self.privateNetwork = privateNetwork
    }

    public func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        guard let host = request.head.authority, Self.isLoopback(host) else {
            throw APIError(421, "bad_host", "Host must be localhost, 127.0.0.1 or [::1]")
        }
        let origin = request.headers[.origin]
        if let origin, !allowedOrigin(origin) {
            throw APIError(403, "bad_origin", "origin not allowed")
        }
        if request.method == .options {
            guard let origin else { throw APIError(400, "bad_request", "preflight without Origin") }
            var headers = Self.cors(origin)
            if privateNetwork, request.headers[.init("Access-Control-Request-Private-Network")!] == "true" {
                headers[.init("Access-Control-Allow-Private-Network")!] = "true"
            }
            return Response(status: .noContent, headers: headers)
        }
        var response = try await next(request, context)
        if let origin { response.headers.append(contentsOf: Self.cors(origin)) }
        return response
    }

    public static func cors(_ origin: String) -> HTTPFields {
        [
            .accessControlAllowOrigin: origin, .accessControlAllowHeaders: "Authorization, Content-Type",
            .accessControlAllowMethods: "GET, POST", .vary: "Origin",
        ]
    }

    public static func isLoopback(_ authority: String) -> Bool {
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

/// Hummingbird's own refusals (no such route, a body too large) in the API's `{"error", "code"}` shape,
/// and anything unforeseen as a 500 in that shape too, never a bare status or an error's text.
/// Our errors (`APIError`, `BridgeStoreError`) render themselves and pass through.
public struct ErrorShapeMiddleware<Context: RequestContext>: RouterMiddleware {
    public init() {}

    public func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            return try await next(request, context)
        } catch let error as HTTPError {
            throw APIError(error)
        } catch let error as any HTTPResponseError {
            throw error
        } catch {
            context.logger.error("unexpected error", metadata: ["error": .string("\(error)")])
            throw APIError.internalError
        }
    }
}

/// One structured log line per request: method, path with ids redacted (a pairing id is the player's
/// claim ticket for its token), status, duration. Never headers (the bearer token) or bodies.
public struct AccessLogMiddleware<Context: RequestContext>: RouterMiddleware {
    let admin: Bool

    public init(admin: Bool) { self.admin = admin }

    public func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let start = ContinuousClock.now
        do {
            let response = try await next(request, context)
            log(request, context, status: response.status, since: start)
            return response
        } catch {
            log(request, context, status: (error as? any HTTPResponseError)?.status ?? .internalServerError, since: start)
            throw error
        }
    }

    private func log(_ request: Request, _ context: Context, status: HTTPResponse.Status, since start: ContinuousClock.Instant) {
        let path = request.uri.path.split(separator: "/").map { $0.count == 32 && $0.allSatisfy(\.isHexDigit) ? "{id}" : String($0) }
            .joined(separator: "/")
        context.logger.info(
            "request",
            metadata: [
                "method": .string(request.method.rawValue), "path": .string("/" + path), "status": .stringConvertible(status.code),
                "listener": .string(admin ? "unix" : "tcp"), "ms": .stringConvertible((ContinuousClock.now - start) / .milliseconds(1)),
            ])
    }
}
