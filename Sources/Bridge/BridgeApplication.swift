import Delegation
import Ethereum
import Foundation
import Hummingbird
import Logging
import ServiceLifecycle
import Storage
import TokenHub

/// What `GET /v1/tokens` reports: the readers and the OpenPGP cards in them (read-only, no PIN).
public typealias TokenProbe = @Sendable () throws -> [JSONValue]

/// Everything a router needs: settings, the store, the token probe.
public struct BridgeContext: Sendable {
    public let settings: BridgeSettings
    public let store: BridgeStore
    public let tokens: TokenProbe
    /// Record readers and cards coming and going (pcscd's status changes) as events.
    public let watchTokens: Bool
    /// Record known tokens arriving on and leaving the USB bus as events (nil: don't watch USB).
    public let usbWatcher: TokenWatcher?

    public init(
        settings: BridgeSettings, store: BridgeStore, tokens: @escaping TokenProbe = TokenListing.tokens, watchTokens: Bool = false,
        usbWatcher: TokenWatcher? = nil
    ) {
        self.settings = settings
        self.store = store
        self.tokens = tokens
        self.watchTokens = watchTokens
        self.usbWatcher = usbWatcher
    }
}

/// The application: the Unix socket listener (player and admin API) and, when configured, a loopback
/// TCP listener (player API only) run as a service of the first; Hummingbird runs both under
/// swift-service-lifecycle, so SIGTERM and SIGINT shut them down cleanly.
public func buildApplication(_ bridge: BridgeContext, logger: Logger = Logger(label: "paratii.bridge")) throws -> some ApplicationProtocol {
    try BridgeSocket.prepare(bridge.settings.socketPath)
    // The TCP listener has no admin routes: only the user's own socket reaches them.
    let tcp = bridge.settings.tcp.map { tcp in
        Application(
            router: buildRouter(bridge, admin: false),
            configuration: .init(address: .hostname(tcp.host, port: tcp.port), serverName: nil),
            logger: logger)
    }
    let path = bridge.settings.socketPath
    var services: [any Service] = []
    if let tcp { services.append(tcp) }
    if bridge.watchTokens { services.append(ReaderEventRecorder(store: bridge.store)) }
    if let usb = bridge.usbWatcher { services.append(USBEventRecorder(store: bridge.store, watcher: usb)) }
    return Application(
        router: buildRouter(bridge, admin: true),
        configuration: .init(address: .unixDomainSocket(path: path), serverName: nil),
        services: services,
        onServerRunning: { _ in
            // The directory is private already; the socket's own mode is a second fence.
            if chmod(path, 0o600) != 0 { logger.warning("cannot chmod the socket", metadata: ["socket": .string(path)]) }
            logger.info("bridge listening", metadata: ["socket": .string(path)])
        },
        logger: logger
    )
}

enum BridgeSocket {
    /// Creates the socket's directory (0700), refuses to run in one that is not this user's alone (in
    /// /tmp anyone can create it first and swap in their own bridge), clears a stale socket left by a
    /// crash and refuses a live one.
    static func prepare(_ path: String) throws {
        let directory = Paths.directory(of: path)
        // The /tmp fallback has a per-user parent that needs the same check, before anything inside it.
        if directory == Paths.runtime {
            for level in Paths.runtimeDirectories { try PrivateDirectory.ensure(level) }
        } else {
            try PrivateDirectory.ensure(directory)
        }
        var info = stat()
        guard lstat(path, &info) == 0 else { return }
        guard info.st_mode & S_IFMT == S_IFSOCK else { throw BridgeError.io("\(path) exists and is not a socket") }
        if (try? BridgeClient(path).request("GET", "/v1/health")) != nil { throw BridgeError.io("a bridge already listens on \(path)") }
        unlink(path)
    }
}

/// The routes. `admin` adds the endpoints `paratii approve` uses; only the Unix socket (0600, the user's
/// own) gets them, so no browser and no other local user can reach them.
public func buildRouter(_ bridge: BridgeContext, admin: Bool) -> Router<BridgeRequestContext> {
    let router = Router(context: BridgeRequestContext.self)
    router.add(middleware: AccessLogMiddleware(admin: admin))
    router.add(middleware: GuardMiddleware(settings: bridge.settings))
    let store = bridge.store
    let settings = bridge.settings
    let chain = settings.chain

    router.get("/v1/health") { _, _ in json(.object(["ok": .bool(true)])) }

    // Pairing: the only unauthenticated calls. The pairing id (128 random bits) is the player's claim ticket.
    router.post("/v1/pairings") { request, context in
        let asked = try RequestBodies.pairing(try await bodyValue(request, settings))
        let pairing = try store.createPairing(
            name: asked.name, secretHash: asked.secretHash, peer: await context.peer(request),
            wallet: asked.wallet, expiry: settings.pairingExpiry)
        return json(
            .object([
                "id": .string(pairing.id), "code": .string(pairing.code), "state": .string(pairing.state),
                "expiresAt": .number("\(pairing.expiresAt)"),
            ]), status: .created)
    }
    // Only the creator, showing its secret (`Authorization: Pairing <secret>`), sees the pairing and gets
    // the token: the id alone (visible in `ps` as `paratii approve ID`) is worth nothing. Others get 404.
    router.get("/v1/pairings/:id") { request, context in
        let id = try context.parameters.require("id")
        guard let pairing = try store.pairing(id, secret: RequestHeaders.pairingSecret(request.headers[.authorization])) else {
            throw APIError.notFound("pairing")
        }
        var object: JSONObject = ["id": .string(pairing.id), "state": .string(pairing.state)]
        if pairing.state == "approved" {
            if let token = try store.claimToken(id) { object["token"] = .string(token) } else { object["tokenDelivered"] = .bool(true) }
        }
        return json(.object(object))
    }

    router.get("/v1/status") { request, _ in
        let pairing = try authenticate(request, store)
        return json(
            .object(["pairing": .string(pairing.id), "name": .string(pairing.name), "revision": .number("\(try store.revision())")]))
    }

    router.get("/v1/tokens") { request, _ in
        _ = try authenticate(request, store)
        return json(.object(["tokens": .array(try bridge.tokens())]))
    }

    router.get("/v1/events") { request, _ in
        let pairing = try authenticate(request, store)
        let parameters = request.uri.queryParameters
        let query = try RequestHeaders.eventsQuery(
            since: parameters.get("since").map { String($0) }, timeout: parameters.get("timeout").map { String($0) })
        let since = query.since
        let deadline = ContinuousClock.now + .milliseconds(query.timeoutMilliseconds)
        while true {
            try store.expirePending()
            let events = try store.events(since: since, pairing: pairing.id)
            if !events.isEmpty || ContinuousClock.now >= deadline {
                // A full page: resume from its last event, not from the head, so nothing is skipped.
                var revision = try store.revision()
                if events.count == BridgeStore.eventPage, case .number(let text) = events.last?["revision"], let last = Int64(text) {
                    revision = last
                }
                return json(.object(["revision": .number("\(revision)"), "events": .array(events)]))
            }
            try await Task.sleep(for: .milliseconds(100))
        }
    }

    router.post("/v1/revocations") { request, _ in
        let pairing = try authenticate(request, store)
        let envelope = try RequestBodies.revocation(try await bodyValue(request, settings))
        // Only what this bridge released: the list is not a store for anyone's revocations.
        guard case .revocation(let revocation) = envelope.message, try store.released(revocation.target) else {
            throw APIError(422, "unknown_target", "the bridge released no delegation with that id")
        }
        let verdict = Verifier(domain: chain.domain).verify(envelope, at: UInt64(Date().timeIntervalSince1970))
        guard verdict.valid else {
            throw APIError(422, "invalid_revocation", "revocation does not verify: \(verdict.reason?.rawValue ?? "") \(verdict.detail)")
        }
        try store.addRevocation(id: envelope.id, envelope: envelope.json, pairing: pairing.id)
        return json(.object(["id": .string(envelope.id.hexString)]), status: .created)
    }
    router.get("/v1/revocations") { request, _ in
        _ = try authenticate(request, store)
        return json(.object(["revocations": .array(try store.revocations().compactMap { try? JSONValue.parse($0) })]))
    }

    addRequestRoutes(router, bridge)
    if admin { addAdminRoutes(router, bridge) }
    return router
}
