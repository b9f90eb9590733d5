import Delegation
import Ethereum
import Foundation
import Hummingbird
import Logging
import ServiceLifecycle

/// What `GET /v1/tokens` reports: the readers and the OpenPGP cards in them (read-only, no PIN).
public typealias TokenProbe = @Sendable () throws -> [JSONValue]

/// Everything a router needs: settings, the store, the token probe.
public struct BridgeContext: Sendable {
    public let settings: BridgeSettings
    public let store: BridgeStore
    public let tokens: TokenProbe
    /// Record readers and cards coming and going (pcscd's status changes) as events.
    public let watchTokens: Bool

    public init(settings: BridgeSettings, store: BridgeStore, tokens: @escaping TokenProbe = CardProbe.tokens, watchTokens: Bool = false) {
        self.settings = settings
        self.store = store
        self.tokens = tokens
        self.watchTokens = watchTokens
    }
}

/// The application: the Unix socket listener (player and admin API) and, when configured, a loopback
/// TCP listener (player API only) run as a service of the first; Hummingbird runs both under
/// swift-service-lifecycle, so SIGTERM and SIGINT shut them down cleanly.
public func buildApplication(_ bridge: BridgeContext, logger: Logger = Logger(label: "paratii.bridge")) throws -> some ApplicationProtocol {
    try BridgeSocket.prepare(bridge.settings.socketPath)
    // The TCP listener has no admin routes: only the user's own socket reaches them.
    let tcp = bridge.settings.tcp.map { tcp in
        Application(router: buildRouter(bridge, admin: false),
                    configuration: .init(address: .hostname(tcp.host, port: tcp.port), serverName: nil),
                    logger: logger)
    }
    let path = bridge.settings.socketPath
    var services: [any Service] = []
    if let tcp { services.append(tcp) }
    if bridge.watchTokens { services.append(TokenWatcher(store: bridge.store)) }
    return Application(
        router: buildRouter(bridge, admin: true),
        configuration: .init(address: .unixDomainSocket(path: path), serverName: nil),
        services: services,
        onServerRunning: { _ in
            chmod(path, 0o600)
            logger.info("bridge listening", metadata: ["socket": .string(path)])
        },
        logger: logger
    )
}

enum BridgeSocket {
    /// Creates the socket's directory (0700) and clears a stale socket left by a crash; refuses a live one.
    static func prepare(_ path: String) throws {
        let directory = (path as NSString).deletingLastPathComponent
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        chmod(directory, 0o700)
        var info = stat()
        guard lstat(path, &info) == 0 else { return }
        guard info.st_mode & S_IFMT == S_IFSOCK else { throw BridgeError.io("\(path) exists and is not a socket") }
        if (try? BridgeClient(path).request("GET", "/v1/health")) != nil { throw BridgeError.io("a bridge already listens on \(path)") }
        unlink(path)
    }
}

/// The routes. `admin` adds the endpoints `paratii approve` uses; only the Unix socket (0600, the user's
/// own) gets them, so no browser and no other local user can reach them.
public func buildRouter(_ bridge: BridgeContext, admin: Bool) -> Router<BasicRequestContext> {
    let router = Router(context: BasicRequestContext.self)
    router.add(middleware: AccessLogMiddleware(admin: admin))
    router.add(middleware: GuardMiddleware(settings: bridge.settings))
    let store = bridge.store
    let settings = bridge.settings
    let chain = settings.chain

    router.get("/v1/health") { _, _ in json(.object(["ok": .bool(true)])) }

    // Pairing: the only unauthenticated calls. The pairing id (128 random bits) is the player's claim ticket.
    router.post("/v1/pairings") { request, context in
        let name = try RequestBodies.pairingName(try await bodyValue(request, settings))
        let pending = try store.pairings().filter { $0.state == "pending" }
        guard pending.count < 16 else { throw APIError(429, "too_many_pairings", "too many pairings wait for approval") }
        let pairing = try store.createPairing(name: name, expiry: settings.pairingExpiry)
        return json(.object(["id": .string(pairing.id), "code": .string(pairing.code), "state": .string(pairing.state),
                             "expiresAt": .number("\(pairing.expiresAt)")]), status: .created)
    }
    router.get("/v1/pairings/:id") { _, context in
        let id = try context.parameters.require("id")
        guard let pairing = try store.pairing(id) else { throw APIError.notFound("pairing") }
        var object: JSONObject = ["id": .string(pairing.id), "state": .string(pairing.state)]
        if pairing.state == "approved" {
            if let token = try store.claimToken(id) { object["token"] = .string(token) } else { object["tokenDelivered"] = .bool(true) }
        }
        return json(.object(object))
    }

    router.get("/v1/status") { request, _ in
        let pairing = try authenticate(request, store)
        return json(.object(["pairing": .string(pairing.id), "name": .string(pairing.name), "revision": .number("\(try store.revision())")]))
    }

    router.post("/v1/delegation-requests") { request, _ in
        let pairing = try authenticate(request, store)
        let object = try await body(request, settings, keys: ["spender", "allowances", "payees", "validFor"])
        let parsed = try DelegationRequest(json: .object(object), configuration: chain, maxValidFor: settings.maxValidFor)
        guard try store.requests(state: "pending").filter({ $0.pairing == pairing.id }).count < 8 else {
            throw APIError(429, "too_many_requests", "too many requests of this player wait for approval")
        }
        let created = try store.createRequest(pairing: pairing.id, body: parsed.json(chain), expiry: settings.requestExpiry)
        return json(requestJSON(created, chain), status: .accepted)
    }
    router.get("/v1/delegation-requests/:id") { request, context in
        let pairing = try authenticate(request, store)
        guard let found = try store.request(try context.parameters.require("id")), found.pairing == pairing.id else {
            throw APIError.notFound("request")
        }
        return json(requestJSON(found, chain))
    }

    router.get("/v1/tokens") { request, _ in
        _ = try authenticate(request, store)
        return json(.object(["tokens": .array(try bridge.tokens())]))
    }

    router.get("/v1/events") { request, _ in
        let pairing = try authenticate(request, store)
        let since = Int64(request.uri.queryParameters.get("since") ?? "0") ?? 0
        let wait = min(Double(request.uri.queryParameters.get("timeout") ?? "25") ?? 25, 60)
        let deadline = ContinuousClock.now + .milliseconds(Int(wait * 1000))
        while true {
            try store.expirePending()
            let events = try store.events(since: since, pairing: pairing.id)
            if !events.isEmpty || ContinuousClock.now >= deadline {
                // A full page: resume from its last event, not from the head, so nothing is skipped.
                var revision = try store.revision()
                if events.count == BridgeStore.eventPage, case .number(let text) = events.last?["revision"], let last = Int64(text) { revision = last }
                return json(.object(["revision": .number("\(revision)"), "events": .array(events)]))
            }
            try await Task.sleep(for: .milliseconds(100))
        }
    }

    router.post("/v1/revocations") { request, _ in
        let pairing = try authenticate(request, store)
        let envelope = try RequestBodies.revocation(try await bodyValue(request, settings))
        let verdict = Verifier(domain: chain.domain).verify(envelope, at: UInt64(Date().timeIntervalSince1970))
        guard verdict.valid else { throw APIError(422, "invalid_revocation", "revocation does not verify: \(verdict.reason?.rawValue ?? "") \(verdict.detail)") }
        try store.addRevocation(id: envelope.id, envelope: envelope.json, pairing: pairing.id)
        return json(.object(["id": .string(envelope.id.hexString)]), status: .created)
    }
    router.get("/v1/revocations") { request, _ in
        _ = try authenticate(request, store)
        return json(.object(["revocations": .array(try store.revocations().compactMap { try? JSONValue.parse($0) })]))
    }

    if admin { addAdminRoutes(router, bridge) }
    return router
}

private func addAdminRoutes(_ router: Router<BasicRequestContext>, _ bridge: BridgeContext) {
    let store = bridge.store
    let settings = bridge.settings
    let chain = settings.chain
    router.get("/v1/admin/pending") { _, _ in
        let pairings = try store.pairings()
        let names = Dictionary(pairings.map { ($0.id, $0.name) }, uniquingKeysWith: { a, _ in a })
        let requests = try store.requests(state: "pending").map { found -> JSONValue in
            var object = requestJSON(found, chain).objectValue!
            object["player"] = .string(names[found.pairing] ?? "?")
            return .object(object)
        }
        return json(.object(["pairings": .array(pairings.filter { $0.state == "pending" }.map(\.json)), "requests": .array(requests)]))
    }
    router.get("/v1/admin/pairings") { _, _ in json(.object(["pairings": .array(try store.pairings().map(\.json))])) }
    router.post("/v1/admin/pairings/:id/:action") { _, context in
        let id = try context.parameters.require("id")
        switch try context.parameters.require("action") {
        case "approve": try store.decidePairing(id, approve: true)
        case "deny": try store.decidePairing(id, approve: false)
        case "revoke": try store.revokePairing(id)
        default: throw APIError.notFound("action")
        }
        return json(.object(["id": .string(id)]))
    }
    router.post("/v1/admin/delegation-requests/:id/:action") { request, context in
        let id = try context.parameters.require("id")
        let action = try context.parameters.require("action")
        guard let found = try store.request(id) else { throw APIError.notFound("request") }
        switch action {
        case "approve":
            let object = try await body(request, settings, keys: ["envelope", "signatureCounter"])
            guard let value = object["envelope"] else { throw APIError.badRequest("envelope is required") }
            let envelope: Envelope
            do { envelope = try Envelope(json: value) } catch { throw APIError.badRequest("\(error)") }
            guard let delegation = envelope.message.typed as? SpendingDelegation else { throw APIError.badRequest("not a SpendingDelegation") }
            let asked = try DelegationRequest(json: try JSONValue.parse(found.body), configuration: chain)
            let now = UInt64(Date().timeIntervalSince1970)
            guard asked.matches(delegation, now: now) else { throw APIError(422, "mismatch", "the envelope does not grant what was asked") }
            let verdict = Verifier(domain: chain.domain).verify(envelope, at: max(now, delegation.validAfter))
            guard verdict.valid else { throw APIError(422, "invalid_envelope", "envelope does not verify: \(verdict.reason?.rawValue ?? "") \(verdict.detail)") }
            var counter: Int?
            if case .number(let text) = object["signatureCounter"] { counter = Int(text) }
            try store.settle(id, state: "approved", envelope: envelope.json.compactText, signatureCounter: counter)
        case "deny":
            try store.settle(id, state: "denied", reason: "denied by the user")
        case "fail":
            let object = try await body(request, settings, keys: ["reason"])
            try store.settle(id, state: "failed", reason: String((object["reason"]?.stringValue ?? "failed").prefix(200)))
        default:
            throw APIError.notFound("action")
        }
        return json(requestJSON(try store.request(id)!, chain))
    }
    router.get("/v1/admin/audit") { _, _ in
        let report = try store.verifyAudit()
        return json(.object([
            "entries": .number("\(report.entries)"), "signatures": .number("\(report.signatures)"),
            "broken": .array(report.broken.map { .string($0) }), "counterGaps": .array(report.counterGaps.map { .string($0) }),
        ]))
    }
}

func requestJSON(_ request: BridgeStore.Request, _ chain: Configuration) -> JSONValue {
    var object: JSONObject = [
        "id": .string(request.id), "state": .string(request.state),
        "request": (try? JSONValue.parse(request.body)) ?? .null,
        "createdAt": .number("\(request.createdAt)"), "expiresAt": .number("\(request.expiresAt)"),
    ]
    if let envelope = request.envelope, let value = try? JSONValue.parse(envelope) { object["envelope"] = value }
    if let reason = request.reason { object["reason"] = .string(reason) }
    return .object(object)
}

func authenticate(_ request: Request, _ store: BridgeStore) throws -> BridgeStore.Pairing {
    guard let header = request.headers[.authorization], header.hasPrefix("Bearer ") else {
        throw APIError(401, "unauthenticated", "pair first: Authorization: Bearer <token>")
    }
    let token = String(header.dropFirst("Bearer ".count))
    guard token.count == 64, let pairing = try store.authenticate(token: token) else {
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
    Response(status: status, headers: [.contentType: "application/json", .cacheControl: "no-store"],
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
            let code = error.status == .notFound ? "not_found" : (error.status == .contentTooLarge ? "too_large" : "http_\(error.status.code)")
            return json(APIError(error.status.code, code, error.status.reasonPhrase).json, status: error.status)
        } catch {
            return json(APIError(500, "internal", "internal error").json, status: .internalServerError)
        }
    }

    static func cors(_ origin: String) -> HTTPFields {
        [.accessControlAllowOrigin: origin, .accessControlAllowHeaders: "Authorization, Content-Type",
         .accessControlAllowMethods: "GET, POST", .vary: "Origin"]
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
        let path = request.uri.path.split(separator: "/").map { $0.count == 32 && $0.allSatisfy(\.isHexDigit) ? "{id}" : String($0) }.joined(separator: "/")
        context.logger.info("request", metadata: [
            "method": .string(request.method.rawValue), "path": .string("/" + path), "status": .stringConvertible(response.status.code),
            "listener": .string(admin ? "unix" : "tcp"), "ms": .stringConvertible((ContinuousClock.now - start) / .milliseconds(1)),
        ])
        return response
    }
}
