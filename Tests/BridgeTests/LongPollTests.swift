import Delegation
import Ethereum
import Foundation
import Testing

@testable import Bridge

/// The two long polls the clients wait on: a player on its own request (`?timeout=`), answered by the
/// commit that decides it; an approver on the pending list (`?since=REV&timeout=`), answered by the
/// commit that brings new work. Both end at their deadline, report an expiry, and refuse a bad timeout.
@Suite(.timeLimit(.minutes(5))) struct LongPollTests {
    static let master = PrivateKey.generate()

    func approve(_ bridge: TestBridge, _ id: String) async throws {
        let pending = try await call { try bridge.client().get("/v1/admin/pending") }
        let entry = try #require(pending.json?["requests"]?.arrayValue?.first { $0["id"]?.stringValue == id })
        let asked = try DelegationRequest(json: try #require(entry["request"]), configuration: bridge.settings.chain)
        let envelope = try Envelope.sign(
            asked.delegation(master: Self.master.address, now: bridge.clock.now), domain: bridge.settings.chain.domain, signer: Self.master)
        let body = JSONValue.object(["envelope": envelope.json, "signatureCounter": .number("1")])
        let approved = try await call { try bridge.client().post("/v1/admin/delegation-requests/\(id)/approve", body) }
        #expect(approved.status == 200, "\(approved.errorText)")
    }

    @Test func aWaitingPlayerIsAnsweredByTheApproval() async throws {
        let bridge = try await TestBridge()
        let player = bridge.client(token: try await bridge.pair())
        let id = try #require(
            try await call { try player.post("/v1/delegation-requests", SecurityTests.request) }.json?["id"]?.stringValue)
        let start = ContinuousClock.now
        async let waited = call { try player.get("/v1/delegation-requests/\(id)?timeout=30") }
        try await Task.sleep(for: .milliseconds(300))
        try await approve(bridge, id)
        let answer = try await waited
        // Pending when the wait began: only the approval's commit can have made this answer.
        #expect(answer.json?["state"] == .string("approved"))
        let envelope = try Envelope(json: try #require(answer.json?["envelope"]))
        #expect(Verifier(domain: bridge.settings.chain.domain).verify(envelope, at: bridge.clock.now + 1).master == Self.master.address)
        #expect(ContinuousClock.now - start < .seconds(25))
        await bridge.stop()
    }

    @Test func aWaitEndsAtItsDeadlineAndReportsAnExpiry() async throws {
        let bridge = try await TestBridge { $0.requestExpiry = 60 }
        let player = bridge.client(token: try await bridge.pair())
        let id = try #require(
            try await call { try player.post("/v1/delegation-requests", SecurityTests.request) }.json?["id"]?.stringValue)
        // Without a timeout the answer is immediate, as before; with one it lasts until the deadline.
        #expect(try await call { try player.get("/v1/delegation-requests/\(id)") }.json?["state"] == .string("pending"))
        let start = ContinuousClock.now
        let timedOut = try await call { try player.get("/v1/delegation-requests/\(id)?timeout=0.4") }
        #expect(timedOut.json?["state"] == .string("pending"))
        #expect(ContinuousClock.now - start >= .milliseconds(400))

        // The request falls due while its player waits: the next commit (another request) wakes the wait,
        // whose read expires it.
        async let waited = call { try player.get("/v1/delegation-requests/\(id)?timeout=30") }
        try await Task.sleep(for: .milliseconds(300))
        bridge.clock.advance(61)
        _ = try await call { try player.post("/v1/delegation-requests", SecurityTests.request) }
        #expect(try await waited.json?["state"] == .string("expired"))
        await bridge.stop()
    }

    @Test func aWaitingApproverIsAnsweredByNewWork() async throws {
        let bridge = try await TestBridge()
        let player = bridge.client(token: try await bridge.pair())
        let before = try await call { try bridge.client().get("/v1/admin/pending") }
        guard case .number(let text) = before.json?["revision"], let revision = Int64(text) else {
            Issue.record("no revision in \(before.json?.compactText ?? "")")
            return
        }
        #expect(before.json?["requests"]?.arrayValue?.isEmpty == true)
        async let waited = call { try bridge.client().get("/v1/admin/pending?since=\(revision)&timeout=30") }
        try await Task.sleep(for: .milliseconds(300))
        let id = try #require(
            try await call { try player.post("/v1/delegation-requests", SecurityTests.request) }.json?["id"]?.stringValue)
        let answer = try await waited
        #expect(answer.json?["requests"]?.arrayValue?.map { $0["id"]?.stringValue } == [id])
        guard case .number(let next) = answer.json?["revision"], let after = Int64(next) else {
            Issue.record("no revision in the answer")
            return
        }
        #expect(after > revision)
        // Nothing new after `after`: the wait lasts until its deadline and lists the same work.
        let start = ContinuousClock.now
        let quiet = try await call { try bridge.client().get("/v1/admin/pending?since=\(after)&timeout=0.4") }
        #expect(ContinuousClock.now - start >= .milliseconds(400))
        #expect(quiet.json?["requests"]?.arrayValue?.count == 1)
        await bridge.stop()
    }

    @Test func badWaitsAreRefused() async throws {
        let bridge = try await TestBridge()
        let player = bridge.client(token: try await bridge.pair())
        let id = try #require(
            try await call { try player.post("/v1/delegation-requests", SecurityTests.request) }.json?["id"]?.stringValue)
        for bad in ["nan", "61", "-1", "1e3", ""] {
            #expect(try await call { try player.get("/v1/delegation-requests/\(id)?timeout=\(bad)") }.status == 400, "\(bad)")
            #expect(try await call { try bridge.client().get("/v1/admin/pending?since=0&timeout=\(bad)") }.status == 400, "\(bad)")
        }
        #expect(try await call { try bridge.client().get("/v1/admin/pending?since=x") }.status == 400)
        await bridge.stop()
    }

    /// The in-memory revision: a wait for a revision already passed answers at once; a cancelled wait
    /// ends at once; a commit made straight through the writer (not a store method) wakes waiters too.
    @Test func revisionSignal() async throws {
        let directory = "/tmp/pb-\(UUID().uuidString.prefix(8))"
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let store = try BridgeStore(path: directory + "/bridge.sqlite")
        try await store.recordTokenEvent(kind: "token.inserted", subject: "reader")
        #expect(store.latestRevision == (try await store.revision()))
        #expect(store.latestRevision > 0)
        #expect(await store.waitForChange(after: store.latestRevision - 1, until: .now + .seconds(30)))

        let waiting = Task { await store.waitForChange(after: store.latestRevision, until: .now + .seconds(30)) }
        try await Task.sleep(for: .milliseconds(100))
        let cancelled = ContinuousClock.now
        waiting.cancel()
        #expect(await waiting.value == false)
        #expect(ContinuousClock.now - cancelled < .seconds(20))

        let seen = store.latestRevision
        async let woken = store.waitForChange(after: seen, until: .now + .seconds(30))
        try await Task.sleep(for: .milliseconds(100))
        try await store.dbWriter.write { db in
            try db.execute(
                sql: "INSERT INTO audit (at, kind, subject, detail, previous, hash) VALUES (0, 'token.removed', 'r', '{}', x'00', x'00')")
        }
        #expect(await woken)
        #expect(store.latestRevision == seen + 1)
    }

    /// `paratii approve --wait SECONDS` (the real executable): lists as soon as a request arrives, waits out
    /// its time when nothing comes, and refuses an id beside it.
    @Test func approveWaitsForWork() async throws {
        let bridge = try await TestBridge()
        let player = bridge.client(token: try await bridge.pair())
        func approve(_ arguments: [String]) -> (Process, Pipe) {
            let process = Process()
            process.executableURL = CardFlowTests.binary
            process.arguments = ["approve", "--socket", bridge.settings.socketPath] + arguments
            process.environment = ProcessInfo.processInfo.environment.merging(["XDG_CONFIG_HOME": bridge.directory]) { $1 }
            let output = Pipe()
            process.standardOutput = output
            process.standardError = output
            return (process, output)
        }
        func finish(_ process: Process, _ output: Pipe) async throws -> (Int32, String) {
            try await call {
                let data = output.fileHandleForReading.readDataToEndOfFile()
                process.waitUntilExit()
                return (process.terminationStatus, String(decoding: data, as: UTF8.self))
            }
        }

        let (waiting, output) = approve(["--wait", "60", "--json"])
        try waiting.run()
        try await Task.sleep(for: .milliseconds(500))
        #expect(waiting.isRunning)
        let start = ContinuousClock.now
        let id = try #require(
            try await call { try player.post("/v1/delegation-requests", SecurityTests.request) }.json?["id"]?.stringValue)
        let (status, listed) = try await finish(waiting, output)
        #expect(status == 0, "\(listed)")
        #expect(ContinuousClock.now - start < .seconds(30))
        #expect(try JSONValue.parse(Array(listed.utf8))["requests"]?.arrayValue?.first?["id"]?.stringValue == id)

        // Nothing more arrives: the wait lasts its time (the request above still waits, so deny it first).
        #expect(try await call { try bridge.client().request("POST", "/v1/admin/delegation-requests/\(id)/deny") }.status == 200)
        let quietStart = ContinuousClock.now
        let (quiet, quietOutput) = approve(["--wait", "1"])
        try quiet.run()
        let (quietStatus, nothing) = try await finish(quiet, quietOutput)
        #expect(quietStatus == 0)
        #expect(nothing.contains("nothing waits for approval"))
        #expect(ContinuousClock.now - quietStart >= .seconds(1))

        let (refused, refusedOutput) = approve([id, "--wait", "5"])
        try refused.run()
        let (refusedStatus, said) = try await finish(refused, refusedOutput)
        #expect(refusedStatus != 0)
        #expect(said.contains("--wait is for the listing"))
        await bridge.stop()
    }
}
