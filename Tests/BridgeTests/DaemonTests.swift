import Delegation
import Ethereum
import Foundation
import Testing

@testable import Bridge

/// The daemon as a process and its TCP listener: SIGTERM and SIGINT (README) shut it down cleanly; the loopback TCP
/// listener serves players but has no admin routes; two players at once.
@Suite(.timeLimit(.minutes(5))) struct DaemonTests {
    @Test(arguments: [SIGTERM, SIGINT]) func bridgeRunServesTheSocketAndStopsOnASignal(_ signal: Int32) async throws {
        let directory = "/tmp/pb-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let config = directory + "/config.json"
        try Data(#"{"chainId": 1337, "bridge": {"requestExpiry": "5m", "allowedOrigins": []}}"#.utf8).write(
            to: URL(fileURLWithPath: config))
        let socket = directory + "/run/paratii/bridge.sock"
        let process = Process()
        process.executableURL = CardFlowTests.binary
        process.arguments = ["bridge", "run", "--config", config, "--socket", socket, "--database", directory + "/data/bridge.sqlite"]
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        let deadline = Date().addingTimeInterval(180)
        while (try? await call { try BridgeClient(socket).get("/v1/health") })?.status != 200 {
            try #require(Date() < deadline && process.isRunning, "the bridge did not come up")
            try await Task.sleep(for: .milliseconds(100))
        }
        var info = stat()
        #expect(stat(socket, &info) == 0 && info.st_mode & 0o777 == 0o600)
        #expect(stat(directory + "/run/paratii", &info) == 0 && info.st_mode & 0o777 == 0o700)
        // A second bridge on the same socket refuses to start instead of stealing it.
        let second = try await CardFlowTests.run([
            "bridge", "run", "--config", config, "--socket", socket, "--database", directory + "/data/other.sqlite",
        ])
        #expect(second.status != 0)
        #expect(second.stderr.contains("already listens"), "\(second.stderr)")

        kill(process.processIdentifier, signal)
        let stopped = Date().addingTimeInterval(60)
        while process.isRunning && Date() < stopped { try await Task.sleep(for: .milliseconds(50)) }
        #expect(!process.isRunning, "the bridge ignored signal \(signal)")
        #expect(process.terminationReason == .exit && process.terminationStatus == 0)
        #expect(!FileManager.default.fileExists(atPath: socket))
        let audit = try await CardFlowTests.run(["bridge", "audit", "--database", directory + "/data/bridge.sqlite"])
        #expect(audit.status == 0 && audit.stdout.contains("chain intact"), "\(audit.stdout)\(audit.stderr)")
    }

    @Test func tcpListenerHasNoAdminRoutes() async throws {
        let port = try freeLoopbackPort()
        let bridge = try await TestBridge { $0.tcp = (host: "127.0.0.1", port: port) }
        let token = try await bridge.pair()
        var tcp = BridgeClient("http://127.0.0.1:\(port)", token: token)
        var ready = false
        let deadline = Date().addingTimeInterval(180)
        while !ready && Date() < deadline {
            ready = (try? await call { [tcp] in try tcp.get("/v1/status") })?.status == 200
            if !ready { try await Task.sleep(for: .milliseconds(50)) }
        }
        #expect(ready)
        tcp.token = nil
        for path in ["/v1/admin/pending", "/v1/admin/pairings", "/v1/admin/audit"] {
            let response = try await call { [tcp] in try tcp.get(path) }
            #expect(response.status == 404, "\(path)")
        }
        let created = try await call { [tcp] in try tcp.post("/v1/pairings", TestPairing().body("browser")) }
        let id = try #require(created.json?["id"]?.stringValue)
        let selfApproval = try await call { [tcp] in try tcp.request("POST", "/v1/admin/pairings/\(id)/approve") }
        #expect(selfApproval.status == 404)
        let rebinding = try await call { [tcp] in try tcp.request("GET", "/v1/health", headers: [("Host", "attacker.example:\(port)")]) }
        #expect(rebinding.status == 421)
        await bridge.stop()
    }

    @Test func twoPlayersRequestAtOnce() async throws {
        let bridge = try await TestBridge()
        let alice = bridge.client(token: try await bridge.pair("alice"))
        let bob = bridge.client(token: try await bridge.pair("bob"))
        async let a = call { try alice.post("/v1/delegation-requests", SecurityTests.request) }
        async let b = call { try bob.post("/v1/delegation-requests", SecurityTests.request) }
        let (ra, rb) = try await (a, b)
        #expect(ra.status == 202 && rb.status == 202)
        let pending = try await call { try bridge.client().get("/v1/admin/pending") }
        let players = Set(pending.json?["requests"]?.arrayValue?.compactMap { $0["player"]?.stringValue } ?? [])
        #expect(players == ["alice", "bob"])
        #expect(try await bridge.store.verifyAudit().broken.isEmpty)
        await bridge.stop()
    }
}
