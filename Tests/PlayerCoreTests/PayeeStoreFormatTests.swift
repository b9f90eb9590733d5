import BigInt
import Delegation
import Ethereum
import Foundation
import GRDB
import Testing

@testable import PlayerCore

/// The SQLite payee store's file format across versions, and its pipelined accept.
@Suite struct PayeeStoreFormatTests {
    /// The tables as the store wrote them before receipts were keyed by bytes (migrations v1 to v3).
    static let oldSchema = """
        CREATE TABLE grdb_migrations (identifier TEXT NOT NULL PRIMARY KEY);
        INSERT INTO grdb_migrations VALUES ('v1-payee'), ('v2-payee-redeemable-v'), ('v3-payee-redemption');
        CREATE TABLE channel (
            delegationId TEXT NOT NULL CHECK (length(delegationId) = 66), payee TEXT NOT NULL, token TEXT NOT NULL,
            master TEXT NOT NULL, spender TEXT NOT NULL, cumulative TEXT NOT NULL, sequence INTEGER NOT NULL CHECK (sequence > 0),
            memo TEXT NOT NULL CHECK (length(memo) = 66), signature TEXT NOT NULL CHECK (length(signature) = 132),
            updatedAt INTEGER NOT NULL, PRIMARY KEY (delegationId, payee, token));
        CREATE TABLE delegation (id TEXT PRIMARY KEY NOT NULL CHECK (length(id) = 66), parents TEXT NOT NULL);
        CREATE TABLE receipt (
            delegationId TEXT NOT NULL, payee TEXT NOT NULL, token TEXT NOT NULL, sequence INTEGER NOT NULL,
            cumulative TEXT NOT NULL, voucherId TEXT NOT NULL, PRIMARY KEY (delegationId, payee, token, sequence));
        CREATE TABLE redemption (
            delegationId TEXT NOT NULL CHECK (length(delegationId) = 66), payee TEXT NOT NULL, token TEXT NOT NULL,
            cumulative TEXT NOT NULL, paid TEXT NOT NULL, shortfall TEXT NOT NULL,
            transactionHash TEXT NOT NULL CHECK (length(transactionHash) = 66), redeemedAt INTEGER NOT NULL,
            PRIMARY KEY (delegationId, payee, token));
        """

    @Test func aStoreWithTextKeyedReceiptsIsMigratedExactlyAndItsRulesStillHold() throws {
        let f = try WalletFixture()
        defer { f.cleanup() }
        let delegation = try f.delegation()
        let wei = WalletFixture.wei
        let other = try Address("0x00000000000000000000000000000000000000cc")
        // Two channels; every voucher accepted in its time, the best of each is the channel's row.
        let a = try (1...3).map { try signedVoucher(f, under: delegation, cumulative: wei("0.0001") * BigUInt($0), sequence: UInt64($0)) }
        let b = try (1...2).map {
            try signedVoucher(f, under: delegation, payee: other, cumulative: wei("0.00007") * BigUInt($0), sequence: UInt64($0))
        }
        // The old file, written as the old code wrote it: hex text keys, decimal amounts.
        let path = f.directory + "/old.sqlite"
        let queue = try DatabaseQueue(path: path)
        try queue.write { db in
            try db.execute(sql: Self.oldSchema)
            try db.execute(
                sql: "INSERT INTO delegation VALUES (?, ?)",
                arguments: [delegation.id.hexString, JSONValue.array([delegation.json]).compactText])
            for envelope in a + b {
                guard case .voucher(let v) = envelope.message else { throw VoucherRejection.notAVoucher(envelope.kind) }
                try db.execute(
                    sql: "INSERT INTO receipt VALUES (?, ?, ?, ?, ?, ?)",
                    arguments: [
                        v.delegation.hexString, v.payee.dbText, v.token.dbText, Int64(v.sequence), String(v.cumulative),
                        envelope.id.hexString,
                    ])
            }
            for envelope in [a[2], b[1]] {
                guard case .voucher(let v) = envelope.message else { throw VoucherRejection.notAVoucher(envelope.kind) }
                try db.execute(
                    sql: "INSERT INTO channel VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    arguments: [
                        v.delegation.hexString, v.payee.dbText, v.token.dbText, f.master.address.dbText, f.wallet.address.dbText,
                        String(v.cumulative), Int64(v.sequence), v.memo.hexString, envelope.signature.hexString, 1,
                    ])
            }
        }
        try queue.close()
        let expectedReceipts = try (a + b).map { envelope -> [String] in
            guard case .voucher(let v) = envelope.message else { throw VoucherRejection.notAVoucher(envelope.kind) }
            return [
                v.delegation.hexDigits, v.payee.bytes.hexDigits, v.token.bytes.hexDigits, "\(v.sequence)", String(v.cumulative),
                envelope.id.hexString,
            ]
        }.sorted { $0.lexicographicallyPrecedes($1) }

        // The same vouchers accepted by today's code into a new file: what the migrated file must equal.
        let fresh = try PayeeStore(path: f.directory + "/fresh.sqlite", verifier: Verifier(domain: f.domain), clock: f.clock.closure)
        for outcome in try fresh.acceptBatch(a + b) { _ = try outcome.get() }

        let store = try PayeeStore(path: path, verifier: Verifier(domain: f.domain), clock: f.clock.closure)
        let receipts = try DatabaseQueue(path: path).read { db in
            (
                try Row.fetchAll(
                    db,
                    sql: """
                        SELECT lower(hex(delegationId)), lower(hex(payee)), lower(hex(token)), sequence, cumulative, voucherId, typeof(payee)
                        FROM receipt ORDER BY 1, 2, 3, 4
                        """
                ).map { row in
                    [
                        row[0] as String, row[1] as String, row[2] as String, String(row[3] as Int64), row[4] as String, row[5] as String,
                        row[6] as String,
                    ]
                },
                try String.fetchOne(db, sql: "SELECT sql FROM sqlite_master WHERE name = 'receipt'") ?? ""
            )
        }
        #expect(receipts.0.map { Array($0.prefix(6)) } == expectedReceipts)
        #expect(receipts.0.allSatisfy { $0[6] == "blob" })
        #expect(receipts.1.contains("WITHOUT ROWID"))
        // Channels, totals and chains read back exactly; the export is the best vouchers, verifying.
        #expect(try store.channels() == fresh.channels())
        #expect(try store.channels().map(\.cumulative) == [wei("0.0003"), wei("0.00014")])
        #expect(try store.export() == fresh.export())
        #expect(try store.export().map { try Envelope(json: $0).id } == fresh.export().map { try Envelope(json: $0).id })
        #expect(try store.unredeemedVouchers() == fresh.unredeemedVouchers())

        // The rules read the migrated receipts: an older voucher again is a duplicate, another amount at a
        // sequence already seen conflicts, lower is refused, the next one is accepted with its increase.
        let outcomes = try store.acceptBatch([
            a[0], b[0],
            try signedVoucher(f, under: delegation, cumulative: wei("0.0001") + 1, sequence: 1),
            try signedVoucher(f, under: delegation, cumulative: wei("0.0002"), sequence: 4),
            try signedVoucher(f, under: delegation, cumulative: wei("0.0007"), sequence: 4),
        ])
        #expect(
            outcomes.map(describe) == [
                "duplicate 100000000000000", "duplicate 70000000000000", "sequenceConflict", "decreasing",
                "accepted 700000000000000 +400000000000000",
            ])
        #expect(try DatabaseQueue(path: path).read { db in try Int.fetchOne(db, sql: "SELECT count(*) FROM receipt") } == 6)
    }

    @Test func aReceiptThatCannotBeWrittenFailsTheWholeBatchAndTheStoreGoesOn() throws {
        let f = try WalletFixture()
        defer { f.cleanup() }
        let delegation = try f.delegation()
        let wei = WalletFixture.wei
        let other = try Address("0x00000000000000000000000000000000000000cc")
        let first = try signedVoucher(f, under: delegation, payee: other, cumulative: wei("0.0001"), sequence: 1)
        let blocked = try signedVoucher(f, under: delegation, cumulative: wei("0.0001"), sequence: 1)
        let path = f.directory + "/payee.sqlite"
        let store = try PayeeStore(path: path, verifier: Verifier(domain: f.domain), clock: f.clock.closure)
        // A receipt row already holding the second voucher's key (no channel row: the rules accept it, the
        // insert hits the primary key).
        let queue = try DatabaseQueue(path: path)
        try queue.write { db in
            try db.execute(
                sql: "INSERT INTO receipt VALUES (?, ?, ?, 1, '1', 'x')",
                arguments: [Data(delegation.id), Data(f.payee.bytes), Data(Address.zero.bytes)])
        }
        do {
            _ = try store.acceptBatch([first, blocked])
            Issue.record("a batch whose receipt could not be written was answered")
        } catch {
            #expect(error.code == "storage" && "\(error)".contains("UNIQUE"), "\(error)")
        }
        #expect(try store.channels().isEmpty)
        #expect(try queue.read { db in try Int.fetchOne(db, sql: "SELECT count(*) FROM receipt") } == 1)
        // The statement is reset after the failure: the next batch writes its own values.
        try queue.write { db in try db.execute(sql: "DELETE FROM receipt") }
        #expect(
            try store.acceptBatch([first, blocked]).map(describe) == [
                "accepted 100000000000000 +100000000000000", "accepted 100000000000000 +100000000000000",
            ])
        let rows = try queue.read { db in
            try Row.fetchAll(db, sql: "SELECT payee, voucherId FROM receipt ORDER BY payee").map {
                [($0[0] as Data).hexString, $0[1] as String]
            }
        }
        #expect(rows == [[f.payee.bytes.hexString, blocked.id.hexString], [other.bytes.hexString, first.id.hexString]])
    }

    @Test func batchesInARowGiveTheOutcomesOfOneAfterTheOtherEachCommittedBeforeItIsReported() throws {
        let f = try WalletFixture()
        defer { f.cleanup() }
        let delegation = try f.delegation()
        let wei = WalletFixture.wei
        func v(_ amount: String, _ sequence: UInt64) throws -> Envelope {
            try signedVoucher(f, under: delegation, cumulative: wei(amount), sequence: sequence)
        }
        // Later batches depend on earlier ones: duplicates, decreasing, conflicts, the over-total.
        let batches: [[Envelope]] = [
            [try v("0.0001", 1), try v("0.0002", 2)],
            [],
            [try v("0.0001", 1), try v("0.00015", 3), try v("0.0003", 3), try v("0.0002", 2)],
            [try v("0.00031", 3), try v("0.002", 4), try v("0.0004", 4)],
        ]
        let sequential = try PayeeStore(path: f.directory + "/one.sqlite", verifier: Verifier(domain: f.domain), clock: f.clock.closure)
        let expected = try batches.map { try sequential.acceptBatch($0).map(describe) }
        #expect(
            expected[2] == [
                "duplicate 100000000000000", "decreasing", "accepted 300000000000000 +100000000000000", "duplicate 200000000000000",
            ])

        let store = try PayeeStore(path: f.directory + "/row.sqlite", verifier: Verifier(domain: f.domain), clock: f.clock.closure)
        // Another connection to the file sees each batch's channels when it is reported: committed by then.
        let reader = try DatabaseQueue(path: f.directory + "/row.sqlite")
        var reported: [[String]] = []
        var seen: [String?] = []
        try store.acceptBatches(batches) { outcomes in
            reported.append(outcomes.map(describe))
            seen.append(try reader.read { db in try String.fetchOne(db, sql: "SELECT max(cumulative) FROM channel") })
        }
        #expect(reported == expected)
        #expect(seen == ["200000000000000", "200000000000000", "300000000000000", "400000000000000"])
        #expect(try store.channels() == sequential.channels())
        #expect(try store.export() == sequential.export())
        try store.acceptBatches([]) { _ in Issue.record("no batch, no report") }
    }
}
