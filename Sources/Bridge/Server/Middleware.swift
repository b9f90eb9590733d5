import Ethereum
import Foundation
import Hummingbird
import LoopbackHTTP

/// The checks every request passes before routing: Host must name loopback (DNS rebinding), an Origin
/// must be allowed. Refusals are `APIError`s, which render themselves.
struct GuardMiddleware<Context: RequestContext>: RouterMiddleware {
    let settings: BridgeSettings

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        guard let host = request.head.authority, LoopbackHost.isLoopback(host) else {
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
    }

    static func cors(_ origin: String) -> HTTPFields {
        [
            .accessControlAllowOrigin: origin, .accessControlAllowHeaders: "Authorization, Content-Type",
            .accessControlAllowMethods: "GET, POST", .vary: "Origin",
        ]
    }
}
