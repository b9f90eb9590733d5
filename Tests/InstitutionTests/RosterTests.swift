import BigInt
import Delegation
import Ethereum
import Foundation
import GRDB
import Testing

@testable import Institution

/// The roster on its own: schema, migration, refusals, exports. Cards come in through the
/// hardware tests; here the attestations are signed by software keys standing in for the cards.
@Suite struct RosterTests {
    let institution = PrivateKey.generate()
    let domain = Domain(chainId: 1, verifyingContract: .zero)
    let now: UInt64 = 1_790_000_000
    let ceiling = [Allowance(token: .zero, total: 1_000, perPayment: 10)]

    func path() -> String {
        FileManager.default.temporaryDirectory.appendingPathComponent("roster-\(UUID().uuidString).sqlite").path
    }

    func policy() throws -> Policy { try Policy(institution: institution.address, ceiling: ceiling, attestationLifetime: 86400) }

    func record(
        serial: String, holder: String, master: Address = PrivateKey.generate().address, at time: UInt64? = nil
    ) throws -> CardRecord {
        let enrolled = time ?? now
        let attestation = CardAttestation(
            institution: institution.address, master: master, holder: holder, cardSerial: serial,
            ceiling: ceiling, validUntil: enrolled + 86400, salt: Salt.random())
        return CardRecord(
            serial: serial, holder: holder, master: master, ceiling: ceiling, validUntil: enrolled + 86400, enrolledAt: enrolled,
            attestation: try Envelope.sign(attestation, domain: domain, signer: institution))
    }

    func revocation(_ card: CardRecord, by signer: PrivateKey? = nil) throws -> Envelope {
        let key = signer ?? institution
        return try Envelope.sign(
            Revocation(issuer: key.address, target: card.attestationId, issuedAt: now + 10), domain: domain, signer: key)
    }

    @Test func createsWithMigrationPolicyAndOwnerOnlyPermissions() throws {
        let file = path()
        _ = try Roster.create(path: file, policy: try policy(), now: now)
        let attributes = try FileManager.default.attributesOfItem(atPath: file)
        #expect((attributes[.posixPermissions] as? Int) == 0o600)
        let reopened = try Roster.open(path: file)
        #expect(reopened.policy == (try policy()))
        let migrations = try DatabaseQueue(path: file).read { db in try String.fetchAll(db, sql: "SELECT identifier FROM grdb_migrations") }
        #expect(migrations == ["v1-roster"])
        #expect(throws: InstitutionError.rosterExists(file)) { try Roster.create(path: file, policy: try policy(), now: now) }
        #expect(throws: InstitutionError.rosterMissing(file + ".nope")) { try Roster.open(path: file + ".nope") }
    }

    @Test func policyRefusesEmptyOrDuplicateCeilingsAndZeroLifetime() {
        #expect(throws: InstitutionError.self) { try Policy(institution: institution.address, ceiling: [], attestationLifetime: 1) }
        #expect(throws: InstitutionError.self) {
            try Policy(institution: institution.address, ceiling: ceiling + ceiling, attestationLifetime: 1)
        }
        #expect(throws: InstitutionError.self) { try Policy(institution: institution.address, ceiling: ceiling, attestationLifetime: 0) }
    }

    @Test func recordsLooksUpRevokesAndPublishes() throws {
        let roster = try Roster.create(path: path(), policy: try policy(), now: now)
        let alice = try record(serial: "0000A11C", holder: "Alice")
        let bob = try record(serial: "00000B0B", holder: "Bob", at: now + 1)
        try roster.record(alice)
        try roster.record(bob)
        #expect(try roster.cards().map(\.serial) == ["0000A11C", "00000B0B"])
        #expect(try roster.liveCard(serial: "0000A11C") == alice)
        #expect(try roster.liveCards(holder: "Bob") == [bob])

        // The same serial twice while live is refused by the schema, and nothing changes.
        #expect(throws: InstitutionError.self) { try roster.record(try record(serial: "0000A11C", holder: "Mallory")) }
        #expect(try roster.cards().count == 2)

        let revoked = try revocation(alice)
        try roster.revoke(alice, with: revoked)
        #expect(try roster.liveCard(serial: "0000A11C") == nil)
        #expect(try roster.cards().first?.revokedAt == now + 10)
        // Revoking twice, or with a revocation of something else, is refused.
        #expect(throws: InstitutionError.self) { try roster.revoke(alice, with: revoked) }
        #expect(throws: InstitutionError.self) { try roster.revoke(bob, with: revoked) }

        let list = try roster.revocationList()
        #expect(list.count == 1 && list.revocations(of: alice.attestationId).first?.issuer == institution.address)

        // A revoked serial may be enrolled again (a re-issued card).
        try roster.record(try record(serial: "0000A11C", holder: "Alice", at: now + 20))
        #expect(try roster.liveCards(holder: "Alice").count == 1)
    }

    @Test func reEnrollmentRevokesThePreviousAttestationInTheSameTransaction() throws {
        let roster = try Roster.create(path: path(), policy: try policy(), now: now)
        let first = try record(serial: "00C0FFEE", holder: "Carol")
        try roster.record(first)
        let second = try record(serial: "00C0FFEE", holder: "Carol", at: now + 5)
        // A revocation that names another target leaves both records as they were.
        let wrong = try revocation(second)
        #expect(throws: InstitutionError.self) { try roster.record(second, revoking: (first, wrong)) }
        #expect(try roster.cards() == [first])
        try roster.record(second, revoking: (first, try revocation(first)))
        #expect(try roster.cards().map(\.isRevoked) == [true, false])
        #expect(try roster.liveCard(serial: "00C0FFEE") == second)
    }

    @Test func schemaChecksRefuseRowsTheCodeWouldNeverWrite() throws {
        let file = path()
        _ = try Roster.create(path: file, policy: try policy(), now: now)
        let database = try DatabaseQueue(path: file)
        let id = "0x" + String(repeating: "ab", count: 32)
        let good = [
            "'\(id)'", "'0001'", "'Dana'", "'0x" + String(repeating: "1", count: 40) + "'", "'[{}]'", "200", "100", "'{}'", "NULL", "NULL",
        ]
        func insert(_ values: [String]) throws {
            try database.write { db in
                try db.execute(
                    sql:
                        "INSERT INTO card (attestationId, serial, holder, master, ceiling, validUntil, enrolledAt, attestation, revokedAt, revocation) VALUES (\(values.joined(separator: ",")))"
                )
            }
        }
        let broken: [(Int, String)] = [
            (0, "'0x12'"), (1, "''"), (2, "'   '"), (3, "'bob'"), (4, "'[]'"), (4, "'not json'"), (5, "50"), (8, "300"),
        ]
        for (column, value) in broken {
            var values = good
            values[column] = value
            #expect(throws: DatabaseError.self, "column \(column) = \(value)") { try insert(values) }
        }
        #expect(throws: DatabaseError.self) {
            try database.write { db in
                try db.execute(
                    sql:
                        "INSERT INTO institution (id, address, ceiling, attestationLifetime, createdAt) VALUES (2, '0x\(String(repeating: "1", count: 40))', '[{}]', 1, 0)"
                )
            }
        }
        try insert(good)
    }

    @Test func exportsCSVSafelyAndJSON() throws {
        let roster = try Roster.create(path: path(), policy: try policy(), now: now)
        try roster.record(try record(serial: "0001", holder: "=cmd|' /C calc'!A0"))
        try roster.record(try record(serial: "0002", holder: "Smith, \"Jo\"", at: now + 1))
        let lines = CardRecord.csv(try roster.cards()).split(separator: "\n").map(String.init)
        #expect(lines[0] == "serial,holder,master,enrolledAt,validUntil,revokedAt,attestation")
        #expect(lines[1].hasPrefix("0001,'=cmd|' /C calc'!A0,0x"))
        #expect(lines[2].hasPrefix("0002,\"Smith, \"\"Jo\"\"\",0x"))
        let json = try roster.cards()[1].json
        #expect(json["holder"]?.stringValue == "Smith, \"Jo\"")
        #expect(json["revokedAt"] == .null)
    }
}
