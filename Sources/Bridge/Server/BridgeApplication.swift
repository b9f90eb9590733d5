import Delegation
import Ethereum
import Foundation
import Hummingbird
import Logging
import LoopbackHTTP
import ServiceLifecycle
import Storage
import TokenHub

/// What `GET /v1/tokens` reports: the readers and the OpenPGP cards in them (read-only, no PIN). A
/// blocking PC/SC call: the route runs it on a thread of its own (`Blocking`).
public typealias TokenProbe = @Sendable () throws -> [JSONValue]

/// Everything a router needs: settings, the store (and its clock, the one the routes use), the token probe.
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

public enum BridgeSocket {
    /// Creates the socket's directory (0700), refuses to run in one that is not this user's alone (in
    /// /tmp anyone can create it first and swap in their own bridge), clears a stale socket left by a
    /// crash and refuses a live one.
    public static func prepare(_ path: String) throws {
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

/// The routes, grouped in controllers under `/v1`. `admin` adds the endpoints `paratii approve` uses;
/// only the Unix socket (0600, the user's own) gets them, so no browser and no other local user can
/// reach them.
public func buildRouter(_ bridge: BridgeContext, admin: Bool) -> Router<BridgeRequestContext> {
    let router = Router(context: BridgeRequestContext.self)
    router.add(middleware: AccessLogMiddleware(listener: admin ? "unix" : "tcp"))
    router.add(middleware: ErrorShapeMiddleware())
    router.add(middleware: GuardMiddleware(settings: bridge.settings))
    let v1 = router.group("v1")
    StatusController(bridge: bridge).addRoutes(to: v1)
    PairingController(bridge: bridge).addRoutes(to: v1)
    RequestController(bridge: bridge).addRoutes(to: v1)
    EventController(store: bridge.store).addRoutes(to: v1)
    RevocationController(bridge: bridge).addRoutes(to: v1)
    if admin { AdminController(bridge: bridge).addRoutes(to: v1.group("admin")) }
    return router
}
