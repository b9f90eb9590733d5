import BigInt
import Delegation
import Ethereum
import Foundation
import GRDB
import Testing

@testable import PlayerCore

/// The payee store's edges: v as ecrecover takes it, sequences it can hold, files only its owner reads.
@Suite struct PayeeHardeningTests {
    func store(_ f: WalletFixture, path: String? = nil) throws -> PayeeStore {
        try PayeeStore(path: path ?? f.directory + "/payee.sqlite", verifier: Verifier(domain: f.domain), clock: f.clock.closure)
    }

    /// A voucher signed by the spending key outside the ledger (as a thief or a buggy wallet would).
    func voucher(
        _ f: WalletFixture, under delegation: Envelope, payee: Address? = nil, cumulative: String, sequence: UInt64
    ) throws -> Envelope {
        let voucher = Voucher(
            delegation: delegation.id, payee: payee ?? f.payee, token: .zero, cumulative: WalletFixture.wei(cumulative),
            sequence: sequence, memo: Keccak256.hash("segment"))
        return try Envelope.sign(voucher, domain: f.domain, signer: f.wallet.spendingKey, parents: [delegation])
    }

    static func rawRecoveryID(_ envelope: Envelope) -> Envelope {
        var signature = envelope.signature
        signature[64] -= 27
        return Envelope(message: envelope.message, domain: envelope.domain, signature: signature, parents: envelope.parents)
    }

    /// Every signature in every exported envelope, leaf and parents.
    static func exportedV(_ exported: [JSONValue]) throws -> [UInt8] {
        try exported.flatMap { item in
            let envelope = try Envelope(json: item)
            return ([envelope] + envelope.parents).map { $0.signature[64] }
        }
    }

    @Test func aVoucherWithVZeroOrOneIsRefusedAndNothingStoredOrExportedHasIt() throws {
        let f = try WalletFixture()
        defer { f.cleanup() }
        let delegation = try f.delegation()
        try f.wallet.importDelegation(delegation)
        let payee = try store(f)
        let good = try f.pay("0.0001")
        do { _ = try payee.accept(Self.rawRecoveryID(good)); Issue.record("a v 0/1 voucher was accepted") } catch {
            #expect(error.code == "badSignature")
        }
        let second = try f.pay("0.0001")
        let parentRaw = Envelope(
            message: second.message, domain: second.domain, signature: second.signature,
            parents: second.parents.map(Self.rawRecoveryID))
        do { _ = try payee.accept(parentRaw); Issue.record("a chain with a v 0/1 delegation was accepted") } catch {
            #expect(error.code == "badSignature")
        }
        #expect(try payee.channels().isEmpty)
        if case .accepted = try payee.accept(second) {} else { Issue.record("the good voucher was refused") }
        #expect(try Self.exportedV(payee.export()).allSatisfy { $0 == 27 || $0 == 28 })
        let stored = try DatabaseQueue(path: f.directory + "/payee.sqlite").read { db in
            try String.fetchAll(db, sql: "SELECT signature FROM channel")
        }
        #expect(stored.count == 1 && stored.allSatisfy { $0.hasSuffix("1b") || $0.hasSuffix("1c") })
    }

    @Test func aStoreWrittenBeforeTheRuleIsRewrittenWith27Or28() throws {
        let f = try WalletFixture()
        defer { f.cleanup() }
        let delegation = try f.delegation()
        try f.wallet.importDelegation(delegation)
        let path = f.directory + "/payee.sqlite"
        do { _ = try store(f).accept(try f.pay("0.0001")) }
        // What the old code could store: the voucher's and the delegation's signatures with v 0/1.
        let queue = try DatabaseQueue(path: path)
        try queue.write { db in
            try db.execute(
                sql:
                    "UPDATE channel SET signature = substr(signature, 1, 130) || CASE substr(signature, 131, 2) WHEN '1b' THEN '00' ELSE '01' END"
            )
            let raw = Self.rawRecoveryID(delegation)
            try db.execute(sql: "UPDATE delegation SET parents = ?", arguments: [JSONValue.array([raw.json]).compactText])
            try db.execute(sql: "DELETE FROM grdb_migrations WHERE identifier = 'v2-payee-redeemable-v'")
            let v = try String.fetchOne(db, sql: "SELECT substr(signature, 131, 2) FROM channel")
            #expect(v == "00" || v == "01")
        }
        try queue.close()
        let exported = try store(f).export()
        #expect(try Self.exportedV(exported).allSatisfy { $0 == 27 || $0 == 28 })
        // Still the same, valid signatures: the export verifies back to the master.
        let verifier = Verifier(domain: f.domain)
        for item in exported { #expect(verifier.verify(try Envelope(json: item), at: f.clock.now).valid) }
        let stored = try DatabaseQueue(path: path).read { db in try String.fetchAll(db, sql: "SELECT signature FROM channel") }
        #expect(stored.allSatisfy { $0.hasSuffix("1b") || $0.hasSuffix("1c") })
    }

    @Test func badSequencesAreRefusedOneByOneAndTheRestOfTheBatchIsKept() throws {
        let f = try WalletFixture()
        defer { f.cleanup() }
        let delegation = try f.delegation()
        try f.wallet.importDelegation(delegation)
        let payee = try store(f)
        let third = try Address("0x00000000000000000000000000000000000000dd")
        let batch = [
            try voucher(f, under: delegation, cumulative: "0.0001", sequence: 1),
            try voucher(f, under: delegation, payee: f.otherPayee, cumulative: "0.0001", sequence: 0),
            try voucher(f, under: delegation, cumulative: "0.0002", sequence: 2),
            try voucher(f, under: delegation, payee: third, cumulative: "0.0001", sequence: 1 << 63),
            try voucher(f, under: delegation, payee: third, cumulative: "0.0002", sequence: UInt64.max),
        ]
        let outcomes = try payee.acceptBatch(batch)
        #expect(outcomes.map { (try? $0.get()) != nil } == [true, false, true, false, false])
        #expect(outcomes.compactMap { if case .failure(let r) = $0 { r.code } else { nil } } == ["outOfRange", "outOfRange", "outOfRange"])
        if case .failure(let rejection) = outcomes[1] { #expect(rejection.description.contains("sequence 0")) }
        let channels = try payee.channels()
        #expect(channels.count == 1)
        #expect(
            channels.first?.payee == f.payee && channels.first?.sequence == 2 && channels.first?.cumulative == WalletFixture.wei("0.0002"))
        // The largest sequence the store holds is still taken.
        let top = try voucher(f, under: delegation, payee: third, cumulative: "0.0001", sequence: UInt64(Int64.max))
        if case .accepted(let channel, _) = try payee.accept(top) {
            #expect(channel.sequence == UInt64(Int64.max))
        } else {
            Issue.record("sequence 2^63 - 1 refused")
        }
    }

    @Test func channelsKnowTheirDelegationsTotal() throws {
        let f = try WalletFixture()
        defer { f.cleanup() }
        try f.wallet.importDelegation(try f.delegation())
        let payee = try store(f)
        _ = try payee.accept(try f.pay("0.0001"))
        #expect(try payee.channels().first?.total == f.standardAllowance.total)
    }

    @Test func aNewStoreAndItsDirectoryAreOwnerOnlyWhateverTheUmask() throws {
        let f = try WalletFixture()
        defer { f.cleanup() }
        try f.wallet.importDelegation(try f.delegation())
        let directory = f.directory + "/fresh/payee"
        let path = directory + "/payee.sqlite"
        let old = umask(0o022)
        defer { umask(old) }
        let payee = try store(f, path: path)
        _ = try payee.accept(try f.pay("0.0001"))
        // The store is open: its WAL and shared memory files exist now.
        for (file, mode) in [
            (f.directory + "/fresh", 0o700), (directory, 0o700), (path, 0o600), (path + "-wal", 0o600), (path + "-shm", 0o600),
        ] {
            #expect(try Self.mode(file) == mode, "\(file)")
        }
    }

    static func mode(_ path: String) throws -> Int {
        var info = stat()
        guard stat(path, &info) == 0 else { throw WalletError.storage("no \(path)") }
        return Int(info.st_mode & 0o777)
    }
}
