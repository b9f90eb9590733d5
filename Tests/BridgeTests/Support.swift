import Delegation
import Ethereum
import Foundation
import Logging
import LoopbackHTTP
import PCSC
import Testing
import TokenHub

@testable import Bridge

/// A bridge on a temporary Unix socket, run in-process by Hummingbird exactly as `paratii bridge run`
/// runs it, and reached through the same client the CLI uses.
final class TestBridge: @unchecked Sendable {
    let directory: String
    let settings: BridgeSettings
    let store: BridgeStore
    let clock: TestClock
    private var task: Task<Void, any Error>?

    init(
        tune: (inout BridgeSettings) -> Void = { _ in }, tokens: @escaping TokenProbe = { [] }, watchTokens: Bool = false,
        usbWatcher: TokenWatcher? = nil
    ) async throws {
        directory = "/tmp/pb-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        var settings = BridgeSettings(
            chain: Configuration(
                chainId: 1337, verifyingContract: .zero, ptiToken: try Address("0x1111111111111111111111111111111111111111")),
            socketPath: directory + "/run/bridge.sock", databasePath: directory + "/data/bridge.sqlite")
        settings.allowedOrigins = ["http://localhost:8080"]
        tune(&settings)
        self.settings = settings
        let clock = TestClock()
        self.clock = clock
        store = try BridgeStore(path: settings.databasePath, clock: { clock.now })
        var logger = Logger(label: "paratii.bridge.test")
        logger.logLevel = .critical
        let app = try buildApplication(
            BridgeContext(settings: settings, store: store, tokens: tokens, watchTokens: watchTokens, usbWatcher: usbWatcher),
            logger: logger)
        task = Task { try await app.runService(gracefulShutdownSignals: []) }
        // Generous: in the full suite other tests may keep the cooperative pool busy for many seconds.
        let deadline = Date().addingTimeInterval(180)
        while (try? await call { try self.client().get("/v1/health") }) == nil {
            try #require(Date() < deadline, "the bridge did not come up")
            try await Task.sleep(for: .milliseconds(50))
        }
    }

    func client(token: String? = nil) -> BridgeClient { BridgeClient(settings.socketPath, token: token) }

    func stop() async {
        task?.cancel()
        _ = await task?.result
        try? FileManager.default.removeItem(atPath: directory)
    }

    /// The first pending pairing or request (`key`: "pairings" or "requests"), once one waits.
    func waitPending(_ key: String) async throws -> String {
        let deadline = Date().addingTimeInterval(120)
        while Date() < deadline {
            let pending = try await call { try self.client().get("/v1/admin/pending") }
            if let id = pending.json?[key]?.arrayValue?.first?["id"]?.stringValue { return id }
            try await Task.sleep(for: .milliseconds(100))
        }
        throw BridgeError.io("nothing pending in \(key)")
    }

    /// Pairs a player and approves the pairing as the user would; returns its token.
    func pair(_ name: String = "test player") async throws -> String {
        let secret = PairingSecret()
        let created = try await call {
            try self.client().post("/v1/pairings", .object(["name": .string(name), "secretHash": .string(secret.hash)]))
        }
        #expect(created.status == 201)
        let id = try #require(created.json?["id"]?.stringValue)
        let approved = try await call { try self.client().request("POST", "/v1/admin/pairings/\(id)/approve") }
        #expect(approved.status == 200)
        let polled = try await call {
            try self.client().request("GET", "/v1/pairings/\(id)", headers: [("Authorization", "Pairing \(secret.secret)")])
        }
        return try #require(polled.json?["token"]?.stringValue)
    }
}

/// A player's pairing: the body it posts and the secret it keeps to collect the token.
struct TestPairing {
    let secret = PairingSecret()
    func body(_ name: String, wallet: Address? = nil) -> JSONValue {
        var object: JSONObject = ["name": .string(name), "secretHash": .string(secret.hash)]
        if let wallet { object["wallet"] = .string(wallet.checksummed) }
        return .object(object)
    }
    /// GET /v1/pairings/{id} as its creator.
    func poll(_ client: BridgeClient, _ id: String) throws -> BridgeClient.Response {
        try client.request("GET", "/v1/pairings/\(id)", headers: [("Authorization", "Pairing \(secret.secret)")])
    }
}

/// A clock the tests move.
final class TestClock: @unchecked Sendable {
    private let lock = NSLock()
    private var value = UInt64(Date().timeIntervalSince1970)
    var now: UInt64 { lock.withLock { value } }
    func advance(_ seconds: UInt64) { lock.withLock { value += seconds } }
    func rewind(_ seconds: UInt64) { lock.withLock { value -= seconds } }
}

/// Runs the blocking client off the cooperative pool (the server's handlers need it). On Linux
/// `DispatchQueue.global()` is that pool, so a thread of its own.
func call<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T { try await Blocking.run(body) }

/// vpcd's second slot for one test: its locks, a freshly keyed soft card in it, a bridge whose token
/// probe sees it, and the approver's files (config for chain 1337, the card's PIN).
final class CardBridgeRig: @unchecked Sendable {
    let locks: [CardFlowTests.FileLock]
    let context: PCSCContext
    let card: CardFlowTests.Plugged
    let bridge: TestBridge
    let config: String
    let pin: String

    init() async throws {
        locks = [try await CardFlowTests.FileLock.secondSlot(), try await CardFlowTests.FileLock.noRestart()]
        context = try CardFlowTests().setUp()
        card = try CardFlowTests.Plugged(context)
        bridge = try await TestBridge(tokens: TokenListing.tokens)
        (config, pin, _) = try CardFlowTests().files(bridge)
    }

    func finish() async {
        await bridge.stop()
        card.unplug(context)
    }
}

/// A TCP port free on 127.0.0.1 now, chosen by the kernel (a bind to port 0), instead of a random guess
/// that another process on a shared machine may hold. The socket is closed before the bridge binds it,
/// a window the kernel's ephemeral ports make unlikely to matter; a guess collided 1 in 10,000 per port in use.
func freeLoopbackPort() throws -> Int {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    guard fd >= 0 else { throw BridgeError.io("socket: errno \(errno)") }
    defer { close(fd) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    let bound = withUnsafeMutablePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) == 0 && getsockname(fd, $0, &length) == 0 }
    }
    guard bound else { throw BridgeError.io("bind 127.0.0.1:0: errno \(errno)") }
    return Int(UInt16(bigEndian: address.sin_port))
}
