import Delegation
import Ethereum
import Foundation
import GRDB
import Testing

@testable import Bridge

/// The approval path without re-parsing: what an approval stores is the envelope the bridge checked,
/// answers made from the StoredJSON memo are byte for byte those made by parsing the stored text, a
/// stored text that does not parse is shown and refused as before, and records decode and encode
/// column by column exactly as Codable did.
@Suite(.timeLimit(.minutes(5))) struct ApprovalPathTests {
    @Test func anApprovalStoresTheCheckedEnvelopeAndItsIdAndAnswersAlikeWithOrWithoutTheMemo() async throws {
        let bridge = try await TestBridge()
        let token = try await bridge.pair()
        let player = bridge.client(token: token)
        let created = try await call { try player.post("/v1/delegation-requests", SecurityTests.request) }
        let id = try #require(created.json?["id"]?.stringValue)
        let master = PrivateKey.generate()
        let approved = try await FlowTests().approve(bridge, id, master: master, counter: 7)
        #expect(approved.status == 200, "\(approved.errorText)")
        let envelope = try Envelope(json: try #require(approved.json?["envelope"]))

        // The row: the envelope's own JSON, and its id as what a revocation may target.
        let row = try #require(try await bridge.store.dbWriter.read { db in try BridgeRequest.fetchOne(db, key: id) })
        #expect(row.state == .approved)
        #expect(row.envelope == envelope.json.compactText)
        #expect(row.delegation == Data(envelope.id))
        let entry = try #require(try await bridge.store.auditEntries().last)
        #expect(entry.kind == "request.approved" && entry.signatureCounter == 7)
        #expect(try JSONValue.parse(entry.detail)["delegation"] == .string(envelope.id.hexString))
        #expect(try await bridge.store.verifyAudit().broken.isEmpty)

        // The same answers, byte for byte, from remembered values and from texts parsed anew.
        let remembered = try await call { try player.get("/v1/delegation-requests/\(id)") }
        StoredJSON.removeAll()
        let parsed = try await call { try player.get("/v1/delegation-requests/\(id)") }
        #expect(remembered.status == 200 && remembered.body == parsed.body)
        #expect(parsed.json?["envelope"] == envelope.json)
        #expect(parsed.json?["request"] == created.json?["request"])
        await bridge.stop()
    }

    @Test func aStoredBodyThatDoesNotParseShowsAsNullAndCannotBeApproved() async throws {
        let bridge = try await TestBridge()
        let token = try await bridge.pair()
        let pairing = try #require(try await bridge.store.authenticate(token: token)).id
        let now = bridge.clock.now
        try await bridge.store.dbWriter.write { db in
            try db.execute(
                sql:
                    "INSERT INTO request (id, pairing, body, state, createdAt, expiresAt, kind) VALUES ('00112233445566778899aabbccddeeff', ?, 'not json', 'pending', ?, ?, 'delegation')",
                arguments: [pairing, now, now + 600])
        }
        let polled = try await call { try bridge.client(token: token).get("/v1/delegation-requests/00112233445566778899aabbccddeeff") }
        #expect(polled.status == 200)
        #expect(polled.json?["request"] == .null)
        #expect(StoredJSON.value("not json") == nil)
        #expect(StoredJSON.value("{\"a\":1,\"a\":2}") == nil, "the strict parser's refusals stay refusals")

        // Approving it is an internal error, and nothing changes.
        let master = PrivateKey.generate()
        let asked = try DelegationRequest(json: SecurityTests.request, configuration: bridge.settings.chain)
        let envelope = try Envelope.sign(
            asked.delegation(master: master.address, now: now), domain: bridge.settings.chain.domain, signer: master)
        let refused = try await call {
            try bridge.client().post(
                "/v1/admin/delegation-requests/00112233445566778899aabbccddeeff/approve", .object(["envelope": envelope.json]))
        }
        #expect(refused.status == 500)
        let row = try #require(try await bridge.store.request("00112233445566778899aabbccddeeff"))
        #expect(row.state == .pending && row.envelope == nil)
        await bridge.stop()
    }

    /// The approval reads, checks and settles in one write; its refusals keep the order a read first gave.
    @Test func approvalRefusalsKeepTheirOrder() async throws {
        let bridge = try await TestBridge()
        let token = try await bridge.pair()
        let player = bridge.client(token: token)
        let admin = bridge.client()
        let master = PrivateKey.generate()
        func post(_ id: String, _ body: JSONValue) async throws -> BridgeClient.Response {
            try await call { try admin.post("/v1/admin/delegation-requests/\(id)/approve", body) }
        }
        let unknown = String(repeating: "ab", count: 16)
        // Unknown request: 404 whatever the body; a known one with a malformed body: 400.
        #expect(try await post(unknown, .object(["nonsense": .null])).status == 404)
        #expect(try await post(unknown, .object([:])).status == 404)
        let id = try #require(try await call { try player.post("/v1/delegation-requests", SecurityTests.request) }.json?["id"]?.stringValue)
        #expect(try await post(id, .object(["nonsense": .null])).status == 400)
        #expect(try await post(id, .object([:])).status == 400, "envelope is required")
        let topup = try #require(
            try await call { try player.post("/v1/transaction-requests", TransactionRequestTests.topup) }.json?["id"]?.stringValue)
        #expect(try await post(topup, .object([:])).status == 404, "a transaction request is not approved as a delegation")

        // Mismatch (422) before state (409): a denied request still says what is wrong with the envelope.
        let asked = try DelegationRequest(json: SecurityTests.request, configuration: bridge.settings.chain)
        var wider = asked.delegation(master: master.address, now: bridge.clock.now)
        wider.allowances[0].total *= 2
        let widened = try Envelope.sign(wider, domain: bridge.settings.chain.domain, signer: master)
        #expect(try await post(id, .object(["envelope": widened.json])).status == 422)
        #expect(try await bridge.store.request(id)?.state == .pending, "a refused approval settles nothing")
        #expect(try await call { try admin.request("POST", "/v1/admin/delegation-requests/\(id)/deny") }.status == 200)
        #expect(try await post(id, .object(["envelope": widened.json])).status == 422)
        let fitting = try Envelope.sign(
            asked.delegation(master: master.address, now: bridge.clock.now), domain: bridge.settings.chain.domain, signer: master)
        #expect(try await post(id, .object(["envelope": fitting.json])).status == 409)

        // An overdue request expires in the approval's own write, and the approval is a conflict.
        let late = try #require(
            try await call { try player.post("/v1/delegation-requests", SecurityTests.request) }.json?["id"]?.stringValue)
        bridge.clock.advance(bridge.settings.requestExpiry + 1)
        let stale = try Envelope.sign(
            asked.delegation(master: master.address, now: bridge.clock.now), domain: bridge.settings.chain.domain, signer: master)
        #expect(try await post(late, .object(["envelope": stale.json])).status == 409)
        // Committed by the approval's own write (read raw, not through a read that expires first).
        let row = try await bridge.store.dbWriter.read { db in try BridgeRequest.fetchOne(db, key: late) }
        #expect(row?.state == .expired)
        #expect(try await bridge.store.auditEntries().last?.kind == "request.expired")
        #expect(try await bridge.store.verifyAudit().broken.isEmpty)
        await bridge.stop()
    }

    @Test func theMemoIsBoundedAndGivesWhatParsingGives() throws {
        for index in 0..<(StoredJSON.capacity + 10) {
            let text = "{\"n\":\(index),\"s\":\"a\\\"b\\u00e9\"}"
            #expect(StoredJSON.value(text) == (try JSONValue.parse(text)))
        }
        #expect(StoredJSON.count <= StoredJSON.capacity)
        let value: JSONValue = .object(["k": .array([.string("x\ny"), .number("12"), .null, .bool(true)])])
        StoredJSON.remember(value.compactText, value)
        #expect(StoredJSON.value(value.compactText) == value)
    }

    @Test func recordsDecodeAndEncodeColumnByColumnAsCodableDid() async throws {
        let directory = try StoreTests.directory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let store = try BridgeStore(path: directory + "/bridge.sqlite")
        try await store.dbWriter.write { db in
            try db.execute(
                sql:
                    "INSERT INTO pairing (id, name, code, state, createdAt, expiresAt, peer, tokenHash, secretHash, wallet) VALUES ('p1', 'n', '123456', 'approved', 1, 2, 'uid:0', zeroblob(32), zeroblob(32), '0x2222222222222222222222222222222222222222')"
            )
            let request = BridgeRequest(
                id: "r1", kind: .delegation, pairing: "p1", body: "{}", state: .approved, createdAt: 3, expiresAt: 4,
                envelope: "{\"e\":1}", transaction: "{\"t\":2}", reason: "why", delegation: Data(repeating: 7, count: 32))
            try request.insert(db)
            try AuditEntry(
                seq: 1, at: 5, kind: "k", subject: "s", pairing: nil, detail: "{}", signatureCounter: 9, previous: Data(count: 32),
                hash: Data(repeating: 1, count: 32)
            ).insert(db)
        }
        try await store.dbWriter.read { db in
            // Every column as SQL wrote it: the encoders wrote the values (and types) Codable wrote.
            let written = try String.fetchOne(
                db,
                sql:
                    "SELECT quote(id) || quote(kind) || quote(pairing) || quote(body) || quote(state) || quote(createdAt) || quote(expiresAt) || quote(envelope) || quote(txResult) || quote(reason) || quote(delegation) FROM request"
            )
            #expect(
                written
                    == "'r1''delegation''p1''{}''approved'34'{\"e\":1}''{\"t\":2}''why'X'0707070707070707070707070707070707070707070707070707070707070707'"
            )
            let audit = try String.fetchOne(
                db,
                sql:
                    "SELECT quote(seq) || quote(at) || quote(kind) || quote(subject) || quote(pairing) || quote(detail) || quote(signatureCounter) FROM audit"
            )
            #expect(audit == "15'k''s'NULL'{}'9")
            let request = try #require(try BridgeRequest.fetchOne(db, key: "r1"))
            #expect(request.envelope == "{\"e\":1}" && request.transaction == "{\"t\":2}" && request.reason == "why")
            #expect(request.delegation == Data(repeating: 7, count: 32) && request.createdAt == 3 && request.kind == .delegation)
            let pairing = try #require(try Pairing.fetchOne(db, key: "p1"))
            #expect(pairing.wallet == (try Address("0x2222222222222222222222222222222222222222")) && pairing.delivered)
            #expect(pairing.peer == "uid:0" && pairing.state == .approved && pairing.expiresAt == 2)
            // Refused as before: a missing column, a negative time, an unknown state.
            #expect(throws: (any Error).self) { try BridgeRequest.fetchOne(db, sql: "SELECT 'r1' AS id") }
            #expect(throws: (any Error).self) {
                try Pairing.fetchOne(
                    db, sql: "SELECT 'p' AS id, 'n' AS name, 'c' AS code, 'approved' AS state, -1 AS createdAt, 2 AS expiresAt, '' AS peer")
            }
            #expect(throws: (any Error).self) {
                try BridgeRequest.fetchOne(
                    db,
                    sql:
                        "SELECT id, 'vote' AS kind, pairing, body, state, createdAt, expiresAt, envelope, txResult, reason, delegation FROM request"
                )
            }
        }
    }
}
