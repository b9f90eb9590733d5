import Ethereum
import Foundation
import Hummingbird
import LoopbackHTTP

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
        guard let host = request.head.authority, LoopbackHost.isLoopback(host) else {
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
        var response: Response
        do { response = try await next(request, context) } catch let error as any HTTPResponseError {
            // A refusal must reach the page too (a page cannot read an answer without these headers):
            // "not paired", "locked" and "over budget" are what it shows its user.
            guard let origin else { throw error }
            response = try error.response(from: request, context: context)
            response.headers.append(contentsOf: Self.cors(origin))
            return response
        }
        if let origin { response.headers.append(contentsOf: Self.cors(origin)) }
        return response
    }

    public static func cors(_ origin: String) -> HTTPFields {
        [
            .accessControlAllowOrigin: origin, .accessControlAllowHeaders: "Authorization, Content-Type",
            .accessControlAllowMethods: "GET, POST", .vary: "Origin",
        ]
    }
}
