import Bridge
import Foundation
import Hummingbird
import Logging
import LoopbackHTTP
import ServiceLifecycle

/// `paratii wallet serve`: the Unix socket (local tools: unlock, lock, approve) and, when configured, the
/// pages' loopback TCP listener, run as a service of the first, as the bridge runs its two; the idle
/// lock runs beside them. `onListening` hears the TCP port actually bound (port 0 picks one).
public func buildApplication(
    _ vault: Vault, logger: Logger = Logger(label: "paratii.wallet"), onListening: @escaping @Sendable (Int) -> Void = { _ in }
) throws -> some ApplicationProtocol {
    let settings = vault.settings
    try BridgeSocket.prepare(settings.socketPath)
    var services: [any Service] = [IdleLock(vault: vault)]
    if vault.keeper != nil { services.append(DelegationWatch(vault: vault)) }
    if let tcp = settings.tcp {
        services.append(
            Application(
                router: buildRouter(vault, admin: false),
                configuration: .init(address: .hostname(tcp.host, port: tcp.port), serverName: nil),
                onServerRunning: { channel in onListening(channel.localAddress?.port ?? tcp.port) },
                logger: logger))
    }
    let path = settings.socketPath
    return Application(
        router: buildRouter(vault, admin: true),
        configuration: .init(address: .unixDomainSocket(path: path), serverName: nil),
        services: services,
        onServerRunning: { _ in
            if chmod(path, 0o600) != 0 { logger.warning("cannot chmod the socket", metadata: ["socket": .string(path)]) }
        },
        logger: logger)
}

/// The routes under `/v1`, behind the bridge's own middleware (loopback Host, CORS, error shape, access
/// log without headers or bodies). Any Origin passes the guard, so an unpaired page can ask to pair and
/// hear "not paired"; every other page route checks the Origin's pairing itself. `admin` adds the local
/// tools' routes: only the Unix socket gets them.
public func buildRouter(_ vault: Vault, admin: Bool) -> Router<BasicRequestContext> {
    let router = Router(context: BasicRequestContext.self)
    router.add(middleware: AccessLogMiddleware(listener: admin ? "unix" : "tcp"))
    router.add(middleware: ErrorShapeMiddleware())
    router.add(middleware: GuardMiddleware(allowedOrigin: { _ in true }, privateNetwork: true))
    let v1 = router.group("v1")
    PageController(vault: vault, settings: vault.settings).addRoutes(to: v1)
    if admin { AdminController(vault: vault, settings: vault.settings).addRoutes(to: v1.group("admin")) }
    return router
}

/// Locks the wallet after its idle time; graceful shutdown ends it.
struct IdleLock: Service {
    let vault: Vault

    func run() async throws {
        guard vault.idleLock != nil else { return try await gracefulShutdown() }
        do {
            try await cancelWhenGracefulShutdown {
                while true {
                    try await Task.sleep(for: .milliseconds(500))
                    vault.lockIfIdle()
                }
            }
        } catch is CancellationError {}
    }
}

/// Looks now and then whether the bridge delegation is about to expire or run out, and asks for the
/// next one before pages meet a refusal; a locked wallet is not looked at.
struct DelegationWatch: Service {
    let vault: Vault

    func run() async throws {
        do {
            try await cancelWhenGracefulShutdown {
                while true {
                    try await Task.sleep(for: .seconds(vault.settings.delegationCheckInterval))
                    _ = try? vault.checkDelegation()
                }
            }
        } catch is CancellationError {}
    }
}
