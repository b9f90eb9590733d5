// The payee's content server. Routes, and the media format the player page (web/) relies on:
//
//   GET /media/manifest.json  free. {"mimeType": "video/webm; codecs=\"vp09.00.10.08\"",
//                             "init": "/media/init-stream0.webm", "segments": ["/media/chunk-stream0-00001.webm", …],
//                             "duration": 14.000, "segmentDuration": 1.000} (seconds, from the MPD) — built from ffmpeg's
//                             `-f dash -dash_segment_type webm` folder (or the folder's own manifest.json).
//   GET /media/NAME           init segments and playlists (.mpd) free; every other file a segment at the price:
//                             without PAYMENT-SIGNATURE → 402 + PAYMENT-REQUIRED (base64 JSON, x402 v2,
//                             scheme "paratii-voucher"; accepts[0].extra.memo is the memo text to pay with,
//                             the resource path, e.g. "/media/chunk-stream0-00001.webm"; extra.channel the
//                             server's channel {delegation, cumulative, sequence} when it knows the payer);
//                             with it → 200 + bytes + PAYMENT-RESPONSE, or 402 with `error` "code: why"
//                             (underpaid, decreasing, sequenceConflict, revoked, expired, overTotal,
//                             wrongPayee, wrongToken, wrongMemo, wrongDomain, badSignature…), or 400 when the
//                             header is not base64 JSON of {x402Version: 2, accepted, payload: envelope}.
//   OPTIONS /media/…          CORS preflight; media answers expose PAYMENT-REQUIRED and PAYMENT-RESPONSE.
//   GET /api/dashboard        channels, earned per token, the latest vouchers (loopback Host only).
//   GET /…                    the player page folder (--web), index.html at /, dashboard.html.
import Ethereum
import Foundation
import Hummingbird
import Logging
import LoopbackHTTP
import PlayerCore

/// Everything the router needs.
public struct PayeeContext: Sendable {
    public let settings: PayeeSettings
    public let ledger: PayeeLedger
    public let media: MediaLibrary
    /// The player page folder; nil serves no page.
    public let web: String?

    public init(settings: PayeeSettings, ledger: PayeeLedger, media: MediaLibrary, web: String?) {
        self.settings = settings
        self.ledger = ledger
        self.media = media
        self.web = web
    }
}

/// The server on loopback TCP; `onListening` gets the port (the system's pick for port 0).
public func buildApplication(
    _ payee: PayeeContext, host: String, port: Int, logger: Logger = Logger(label: "paratii.payee"),
    onListening: @escaping @Sendable (Int) async -> Void = { _ in }
) -> some ApplicationProtocol {
    Application(
        router: buildRouter(payee),
        configuration: .init(address: .hostname(host, port: port), serverName: nil),
        onServerRunning: { channel in await onListening(channel.localAddress?.port ?? port) },
        logger: logger)
}

public func buildRouter(_ payee: PayeeContext) -> Router<BasicRequestContext> {
    let router = Router(context: BasicRequestContext.self)
    router.add(middleware: AccessLogMiddleware(listener: "payee"))
    router.add(middleware: ErrorShapeMiddleware())
    router.add(middleware: PaymentCORSMiddleware())
    if let web = payee.web {
        router.add(
            middleware: FileMiddleware(web, searchForIndexHtml: true).withAdditionalMediaType(
                .init(type: .application, subType: "javascript"), mappedToFileExtension: "mjs"))
    }
    MediaController(payee: payee).addRoutes(to: router.group("media"))
    DashboardController(ledger: payee.ledger).addRoutes(to: router.group("api"))
    return router
}

/// CORS for the media: any origin may fetch (the content is for sale to anyone), send
/// PAYMENT-SIGNATURE and read the payment headers. Refusals carry the headers too, so a page can read
/// why it was refused. The dashboard API gets none: no other origin reads who pays.
let exposedPaymentHeaders = "PAYMENT-REQUIRED, PAYMENT-RESPONSE"

struct PaymentCORSMiddleware<Context: RequestContext>: RouterMiddleware {
    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        guard request.uri.path.hasPrefix("/media/"), request.headers[.origin] != nil else { return try await next(request, context) }
        if request.method == .options {
            return Response(
                status: .noContent,
                headers: [
                    .accessControlAllowOrigin: "*", .accessControlAllowMethods: "GET, OPTIONS",
                    .accessControlAllowHeaders: "PAYMENT-SIGNATURE, Content-Type", .accessControlExposeHeaders: exposedPaymentHeaders,
                    .accessControlMaxAge: "600",
                ])
        }
        var response: Response
        do { response = try await next(request, context) } catch let error as any HTTPResponseError {
            response = try error.response(from: request, context: context)
        }
        response.headers[.accessControlAllowOrigin] = "*"
        response.headers[.accessControlExposeHeaders] = exposedPaymentHeaders
        return response
    }
}

struct MediaController {
    let payee: PayeeContext

    func addRoutes(to group: RouterGroup<BasicRequestContext>) {
        group.get("manifest.json") { _, _ in JSONResponse.make(payee.media.manifest) }
        group.get(":name") { request, context in try await segment(request, name: try context.parameters.require("name")) }
    }

    func segment(_ request: Request, name: String) async throws -> Response {
        guard let file = payee.media.files[name] else { throw APIError.notFound("/media/\(name)") }
        guard file.paid else { return try bytes(file, headers: [:]) }
        let resource = "/media/" + name
        guard let header = request.headers[PaymentHeaders.signature] else {
            return paymentRequired(file, resource: resource, channel: nil, error: nil)
        }
        let envelope = try PaymentHeaders.decodeSignature(header, settings: payee.settings)
        switch await payee.ledger.pay(envelope, memo: resource) {
        case .success(let paid):
            return try bytes(
                file, headers: [PaymentHeaders.response: PaymentHeaders.encode(PaymentHeaders.paymentResponse(payee.settings, paid: paid))])
        case .failure(let refusal):
            return paymentRequired(file, resource: resource, channel: refusal.channel, error: "\(refusal.code): \(refusal.message)")
        }
    }

    /// A 402: the requirements in PAYMENT-REQUIRED and, for people and logs, the same JSON as the body.
    func paymentRequired(_ file: MediaLibrary.File, resource: String, channel: ChannelState?, error: String?) -> Response {
        let required = PaymentHeaders.paymentRequired(
            payee.settings, url: resource, mimeType: file.mimeType, memo: resource, channel: channel, error: error)
        return JSONResponse.make(
            required, status: HTTPResponse.Status(code: 402, reasonPhrase: "Payment Required"),
            headers: [PaymentHeaders.required: PaymentHeaders.encode(required)])
    }

    func bytes(_ file: MediaLibrary.File, headers: HTTPFields) throws -> Response {
        guard let data = FileManager.default.contents(atPath: file.path) else { throw APIError.notFound(file.name) }
        var fields: HTTPFields = [.contentType: file.mimeType, .cacheControl: file.paid ? "private, no-store" : "no-cache"]
        fields.append(contentsOf: headers)
        return Response(status: .ok, headers: fields, body: .init(byteBuffer: ByteBuffer(bytes: data)))
    }
}

struct DashboardController {
    let ledger: PayeeLedger

    func addRoutes(to group: RouterGroup<BasicRequestContext>) {
        group.get("dashboard") { request, _ in
            // Who pays whom is the payee's business: no DNS-rebound page reads it.
            guard let host = request.head.authority, LoopbackHost.isLoopback(host) else {
                throw APIError(421, "bad_host", "Host must be localhost, 127.0.0.1 or [::1]")
            }
            return JSONResponse.make(try await ledger.dashboard())
        }
    }
}
