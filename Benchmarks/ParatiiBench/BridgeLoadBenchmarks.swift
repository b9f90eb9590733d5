import Bridge
import Delegation
import Foundation
import Hummingbird
import Logging
import TestSupport

/// The bridge under concurrent load: authenticated `GET /v1/status` from 8 clients over its Unix socket,
/// one connection per request (as the CLI and players connect), against a bare Hummingbird route that
/// answers "hello" on a Unix socket in the same run with the same client: the limit is what Hummingbird
/// and the socket give at all. Goal: the bridge keeps at least half of it (ratio ≥ 0.5).
enum BridgeLoadBenchmarks {
    static let clients = 8
    static let seconds = 3.0

    static func run() throws {
        let directory = try Scratch.directory("bridge-load")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        var logger = Logger(label: "paratii.bench.load")
        logger.logLevel = .critical

        // The limit: Hummingbird's hello route.
        let helloSocket = directory + "/hello.sock"
        let router = Router()
        router.get("/v1/status") { _, _ in "hello" }
        let hello = Application(
            router: router, configuration: .init(address: .unixDomainSocket(path: helloSocket), serverName: nil), logger: logger)
        let helloTask = Task { try await hello.runService(gracefulShutdownSignals: []) }
        defer { helloTask.cancel() }

        let settings = BridgeSettings(socketPath: directory + "/run/bridge.sock", databasePath: directory + "/bridge.sqlite")
        let app = try buildApplication(
            BridgeContext(settings: settings, store: try BridgeStore(path: settings.databasePath), tokens: { [] }), logger: logger)
        let bridgeTask = Task { try await app.runService(gracefulShutdownSignals: []) }
        defer { bridgeTask.cancel() }

        try waitUntilUp(BridgeClient(helloSocket))
        let admin = BridgeClient(settings.socketPath)
        try waitUntilUp(admin)
        let secret = PairingSecret()
        guard
            let id = try admin.post("/v1/pairings", .object(["name": .string("bench"), "secretHash": .string(secret.hash)])).json?["id"]?
                .stringValue,
            try admin.request("POST", "/v1/admin/pairings/\(id)/approve").status == 200,
            let token = try admin.request("GET", "/v1/pairings/\(id)", headers: [("Authorization", "Pairing \(secret.secret)")]).json?[
                "token"]?.stringValue
        else { throw CardBenchmarks.Failure(description: "pairing failed") }

        let limit = load(BridgeClient(helloSocket))
        let bridge = load(BridgeClient(settings.socketPath, token: token))
        guard bridge.errors == 0, limit.errors == 0 else {
            throw CardBenchmarks.Failure(description: "\(bridge.errors + limit.errors) requests failed")
        }
        Measure.report(
            "bridge: authenticated requests/s over the socket, \(clients) clients, vs a bare Hummingbird route",
            ratio: bridge.rate / limit.rate,
            goal: "≥ 0.50",
            detail: String(
                format: "bridge %.0f req/s (p50 %.2f ms, p99 %.2f ms), hello %.0f req/s (p50 %.2f ms, p99 %.2f ms)",
                bridge.rate, bridge.p50, bridge.p99, limit.rate, limit.p50, limit.p99))
    }

    struct Load {
        var rate: Double
        var p50: Double
        var p99: Double
        var errors: Int
    }

    /// `clients` threads sending requests back to back for `seconds`.
    static func load(_ client: BridgeClient) -> Load {
        let tally = Tally()
        let end = Date().addingTimeInterval(seconds)
        concurrently(clients) { _ in
            var mine: [Double] = []
            var failed = 0
            while Date() < end {
                let start = DispatchTime.now().uptimeNanoseconds
                if (try? client.get("/v1/status"))?.status == 200 {
                    mine.append(Double(DispatchTime.now().uptimeNanoseconds - start) / 1e6)
                } else {
                    failed += 1
                }
            }
            tally.add(mine, failed)
        }
        let (latencies, errors) = tally.lock.withLock { (tally.latencies.sorted(), tally.errors) }
        func percentile(_ p: Double) -> Double {
            latencies.isEmpty ? 0 : latencies[min(latencies.count - 1, Int(Double(latencies.count) * p))]
        }
        return Load(rate: Double(latencies.count) / seconds, p50: percentile(0.5), p99: percentile(0.99), errors: errors)
    }

    static func waitUntilUp(_ client: BridgeClient) throws {
        for _ in 0..<400 {
            if (try? client.get("/v1/health"))?.status != nil { return }
            Thread.sleep(forTimeInterval: 0.05)
        }
        throw CardBenchmarks.Failure(description: "a server did not come up")
    }
}

/// Latencies gathered by the load's client threads.
final class Tally: @unchecked Sendable {
    let lock = NSLock()
    var latencies: [Double] = []
    var errors = 0
    func add(_ more: [Double], _ failed: Int) {
        lock.withLock {
            latencies += more; errors += failed
        }
    }
}

/// Scratch directories with unpredictable names (mkdtemp, 0700): a name made of the pid under /tmp
/// could be planted by another user first.
enum Scratch {
    static func directory(_ label: String) throws -> String {
        var template = Array((NSTemporaryDirectory() + "/paratii-bench-\(label)-XXXXXX").utf8CString)
        guard let made = mkdtemp(&template) else { throw CardBenchmarks.Failure(description: "cannot create a temporary directory") }
        return String(cString: made)
    }
}
