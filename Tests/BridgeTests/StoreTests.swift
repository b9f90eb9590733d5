import Ethereum
import Foundation
import GRDB
import Storage
import Testing

@testable import Bridge

/// The store as records: a database made before the CHECK constraints migrates with its rows and its
/// audit chain intact, and SQLite itself now refuses states outside the enums.
@Suite struct StoreTests {
    static func directory() throws -> String {
        let directory = "/tmp/pbs-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        return directory
    }

    /// Every audit column of every row, as SQL literals: equal text means equal bytes.
    static let auditRows =
        "SELECT quote(seq) || quote(at) || quote(kind) || quote(subject) || quote(pairing) || quote(detail) || quote(signatureCounter) || quote(previous) || quote(hash) FROM audit ORDER BY seq"

    @Test func aVersion3DatabaseMigratesWithItsAuditChain() async throws {
        let directory = try Self.directory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let path = directory + "/bridge.sqlite"
        // A database as the previous release left it: migrations up to v3, rows written with raw SQL.
        do {
            let queue = try DatabaseQueue(path: path)
            try BridgeStore.migrator.migrate(queue, upTo: "v3: pairing secret, peer, wallet")
            try await queue.write { db in
                try db.execute(
                    sql:
                        "INSERT INTO pairing (id, name, code, state, createdAt, expiresAt, peer) VALUES ('p1', 'old player', '123456', 'approved', 10, 20, 'uid:0')"
                )
                try BridgeStore.audit(
                    db, at: 10, kind: "pairing.created", subject: "p1", pairing: "p1", detail: .object(["name": .string("old player")]))
                try db.execute(
                    sql:
                        "INSERT INTO request (id, pairing, body, state, createdAt, expiresAt, kind) VALUES ('r1', 'p1', '{}', 'denied', 11, 99, 'delegation')"
                )
                try BridgeStore.audit(
                    db, at: 11, kind: "request.denied", subject: "r1", pairing: "p1", detail: .object(["reason": .string("no")]),
                    signatureCounter: 7)
            }
            try queue.close()
        }
        let before = try await DatabaseQueue(path: path).read { db in try String.fetchAll(db, sql: Self.auditRows) }

        let store = try BridgeStore(path: path, clock: { 50 })
        #expect(try await store.pairing("p1")?.state == .approved)
        #expect(try await store.request("r1")?.state == .denied)
        #expect(try await store.request("r1")?.kind == .delegation)
        let after = try await store.read { db in try String.fetchAll(db, sql: Self.auditRows) }
        #expect(after == before)
        let report = try await store.verifyAudit()
        #expect(report.entries == 2 && report.broken.isEmpty && report.signatures == 1)
        // The indexes came back with the rebuilt table.
        let indexes = try await store.read { db in try db.indexes(on: "request").map(\.name).sorted() }
        #expect(indexes.contains("request_state") && indexes.contains("request_delegation"))
    }

    @Test func statesOutsideTheEnumsAreRefusedBySQLite() async throws {
        let directory = try Self.directory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let store = try BridgeStore(path: directory + "/bridge.sqlite")
        let pairing = try await store.createPairing(name: "p", secretHash: [UInt8](repeating: 1, count: 32), peer: "uid:0", expiry: 60)
        let request = try await store.createRequest(pairing: pairing.id, body: .object([:]), expiry: 60)
        for sql in [
            "UPDATE pairing SET state = 'approvedd'", "UPDATE request SET state = 'done'", "UPDATE request SET kind = 'vote'",
            // approved without what it released, or released while pending
            "UPDATE request SET state = 'approved'", "UPDATE request SET envelope = '{}'",
            "UPDATE pairing SET tokenHash = zeroblob(32)",
        ] {
            await #expect(throws: DatabaseError.self, "\(sql)") { try await store.dbWriter.write { db in try db.execute(sql: sql) } }
        }
        #expect(try await store.request(request.id)?.state == .pending)
    }

    @Test func storeRefusalsAreTyped() async throws {
        let directory = try Self.directory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let store = try BridgeStore(path: directory + "/bridge.sqlite")
        await #expect(throws: BridgeStoreError.notFound("pairing")) { try await store.decidePairing("nope", approve: true) }
        await #expect(throws: BridgeStoreError.notFound("request")) { try await store.settle("nope", state: .denied) }
        let pairing = try await store.createPairing(name: "p", secretHash: [UInt8](repeating: 1, count: 32), peer: "uid:0", expiry: 60)
        try await store.decidePairing(pairing.id, approve: false)
        await #expect(throws: BridgeStoreError.settled("pairing", state: "denied")) {
            try await store.decidePairing(pairing.id, approve: true)
        }
    }

    /// The long poll's wait: woken by a commit, not by a timer; the deadline still ends it.
    @Test func waitForChangeWakesOnCommitAndHonoursTheDeadline() async throws {
        let directory = try Self.directory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let store = try BridgeStore(path: directory + "/bridge.sqlite")
        let start = ContinuousClock.now
        #expect(await store.waitForChange(after: 0, until: .now + .milliseconds(200)) == false)
        #expect(ContinuousClock.now - start >= .milliseconds(200))
        async let woken = store.waitForChange(after: 0, until: .now + .seconds(30))
        try await Task.sleep(for: .milliseconds(100))
        let committed = ContinuousClock.now
        try await store.recordTokenEvent(kind: "token.inserted", subject: "reader")
        #expect(await woken == true)
        // Well before the 30 s deadline: the commit woke it (ThreadSanitizer on 2 cores takes seconds).
        #expect(ContinuousClock.now - committed < .seconds(20))
    }
}
