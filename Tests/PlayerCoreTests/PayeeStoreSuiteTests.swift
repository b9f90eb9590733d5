import BigInt
import Delegation
import Ethereum
import Foundation
import PayeeStorePostgres
import Testing

@testable import PlayerCore

/// The stores a payee can run on; every test of `PayeeStoreSuite` runs on each.
enum StoreKind: String, CaseIterable, CustomTestStringConvertible {
    case sqlite, postgres
    var testDescription: String { rawValue }

    /// A fresh store: a new SQLite file, or a new database on the shared private server.
    func make(_ f: WalletFixture, revocations: RevocationList = RevocationList(), name: String = "payee") async throws -> any PayeeStoring {
        let verifier = Verifier(domain: f.domain, revocations: revocations)
        switch self {
        case .sqlite:
            return try PayeeStore(path: f.directory + "/\(name).sqlite", verifier: verifier, clock: f.clock.closure)
        case .postgres:
            return try await PostgresPayeeStore(
                location: PostgresLocation(try PostgresServer.shared.newDatabase()), verifier: verifier, clock: f.clock.closure)
        }
    }
}

/// A voucher signed by the spending key outside the ledger (as a thief or a buggy wallet would).
func signedVoucher(
    _ f: WalletFixture, under delegation: Envelope, payee: Address? = nil, cumulative: BigUInt, sequence: UInt64, memo: String = "segment"
) throws -> Envelope {
    let voucher = Voucher(
        delegation: delegation.id, payee: payee ?? f.payee, token: .zero, cumulative: cumulative, sequence: sequence,
        memo: Keccak256.hash(memo))
    return try Envelope.sign(voucher, domain: f.domain, signer: f.wallet.spendingKey, parents: [delegation])
}

func describe(_ outcome: Result<PayeeStore.Outcome, VoucherRejection>) -> String {
    switch outcome {
    case .success(.accepted(let state, let increase)): "accepted \(state.cumulative) +\(increase)"
    case .success(.duplicate(let state)): "duplicate \(state.cumulative)"
    case .failure(let rejection): rejection.code
    }
}

/// The payee store's rules, the same on SQLite and on PostgreSQL.
@Suite struct PayeeStoreSuite {
    @Test(arguments: StoreKind.allCases)
    func keepsTheBestVoucherAndRefusesDecreasingConflictingAndOverTotal(_ kind: StoreKind) async throws {
        let f = try WalletFixture()
        defer { f.cleanup() }
        let delegation = try f.delegation()
        let store = try await kind.make(f)
        defer { Task { await store.close() } }
        let wei = WalletFixture.wei
        let v1 = try signedVoucher(f, under: delegation, cumulative: wei("0.0001"), sequence: 1)
        let v2 = try signedVoucher(f, under: delegation, cumulative: wei("0.0002"), sequence: 2)
        guard case .accepted(let channel, let increase) = try await store.accept(v2) else { Issue.record("best voucher refused"); return }
        #expect(increase == wei("0.0002") && channel.sequence == 2 && channel.master == f.master.address)
        do { _ = try await store.accept(v1); Issue.record("an older voucher was accepted") } catch { #expect(error.code == "decreasing") }
        if case .duplicate = try await store.accept(v2) {} else { Issue.record("resending the best voucher is not a duplicate") }
        let over = try signedVoucher(f, under: delegation, cumulative: wei("0.002"), sequence: 3)
        do { _ = try await store.accept(over); Issue.record("over the total accepted") } catch { #expect(error.code == "overTotal") }
        let conflict = try signedVoucher(f, under: delegation, cumulative: wei("0.0002") + 1, sequence: 2)
        do { _ = try await store.accept(conflict); Issue.record("conflict accepted") } catch { #expect(error.code == "sequenceConflict") }
        let lower = try signedVoucher(f, under: delegation, cumulative: wei("0.00015"), sequence: 5)
        do { _ = try await store.accept(lower); Issue.record("a lower amount accepted") } catch { #expect(error.code == "decreasing") }
        let v3 = try signedVoucher(f, under: delegation, cumulative: wei("0.0005"), sequence: 3)
        guard case .accepted(_, let more) = try await store.accept(v3) else { Issue.record("the next voucher was refused"); return }
        #expect(more == wei("0.0003"))
        let channels = try await store.channels()
        #expect(channels.count == 1 && channels.first?.cumulative == wei("0.0005") && channels.first?.total == f.standardAllowance.total)
        // The export is the best voucher with its chain, verifying back to the master, every v 27/28.
        let exported = try await store.export()
        #expect(exported.count == 1)
        let envelope = try Envelope(json: exported[0])
        #expect(envelope.id == v3.id && Verifier(domain: f.domain).verify(envelope, at: f.clock.now).valid)
        #expect(([envelope] + envelope.parents).allSatisfy { $0.signature[64] == 27 || $0.signature[64] == 28 })
    }

    @Test(arguments: StoreKind.allCases)
    func revokedAndUnknownDelegationsAreRefusedAndNothingIsStored(_ kind: StoreKind) async throws {
        let f = try WalletFixture()
        defer { f.cleanup() }
        let delegation = try f.delegation()
        var list = RevocationList()
        list.add(
            try Envelope.sign(
                Revocation(issuer: f.master.address, target: delegation.id, issuedAt: f.clock.now), domain: f.domain, signer: f.master))
        let store = try await kind.make(f, revocations: list)
        defer { Task { await store.close() } }
        let revoked = try signedVoucher(f, under: delegation, cumulative: 1000, sequence: 1)
        let orphan = Voucher(
            delegation: Keccak256.hash("no such delegation"), payee: f.payee, token: .zero, cumulative: 1000, sequence: 1,
            memo: Keccak256.hash("x"))
        let unknown = try Envelope.sign(orphan, domain: f.domain, signer: f.wallet.spendingKey, parents: [])
        let outcomes = try await store.acceptBatch([revoked, unknown])
        #expect(outcomes.map(describe) == ["revoked", "brokenChain"])
        #expect(try await store.channels().isEmpty)
        #expect(try await store.export().isEmpty)
    }

    /// One batch: good and bad vouchers interleaved over eight channels; each gets its own outcome,
    /// the good ones are all kept, and the same batch again adds nothing.
    @Test(arguments: StoreKind.allCases)
    func aBatchAcceptsTheGoodAndRefusesTheBadOneByOne(_ kind: StoreKind) async throws {
        let f = try WalletFixture()
        defer { f.cleanup() }
        let delegation = try f.delegation(allowances: [
            Allowance(token: .zero, total: 1_000_000, perPayment: 1_000_000, period: 86400, perPeriod: 1_000_000)
        ])
        let store = try await kind.make(f)
        defer { Task { await store.close() } }
        let payees = (1...8).map { try! Address("0x" + String(repeating: "0", count: 38) + String(format: "%02x", 0xd0 + $0)) }
        var envelopes: [Envelope] = []
        var expected: [String] = []
        for sequence in 1...6 {
            for (p, payee) in payees.enumerated() {
                let amount = sequence * 1000 + p
                switch (sequence + p) % 4 {
                case 0:  // sequence 0: refused before the channel is read
                    envelopes.append(try signedVoucher(f, under: delegation, payee: payee, cumulative: BigUInt(amount), sequence: 0))
                    expected.append("outOfRange")
                case 1 where sequence > 2:  // lower than this channel's best so far
                    envelopes.append(try signedVoucher(f, under: delegation, payee: payee, cumulative: 1, sequence: UInt64(sequence + 10)))
                    expected.append("decreasing")
                default:
                    envelopes.append(
                        try signedVoucher(f, under: delegation, payee: payee, cumulative: BigUInt(amount), sequence: UInt64(sequence)))
                    expected.append("accepted")
                }
            }
        }
        let outcomes = try await store.acceptBatch(envelopes)
        #expect(outcomes.map { describe($0).split(separator: " ").first.map(String.init) ?? "" } == expected)
        let channels = try await store.channels()
        #expect(channels.count == payees.count)
        for (p, payee) in payees.enumerated() {
            let best = (1...6).last { s in (s + p) % 4 != 0 && !((s + p) % 4 == 1 && s > 2) }!
            #expect(channels.first { $0.payee == payee }?.cumulative == BigUInt(best * 1000 + p), "payee \(p)")
            // Nothing doubled: the increases of one channel add up to its best.
            let increases = zip(envelopes, outcomes).compactMap { envelope, outcome -> BigUInt? in
                guard case .voucher(let v) = envelope.message, v.payee == payee, case .success(.accepted(_, let increase)) = outcome else {
                    return nil
                }
                return increase
            }
            #expect(increases.reduce(0, +) == BigUInt(best * 1000 + p))
        }
        let again = try await store.acceptBatch(envelopes)
        #expect(again.allSatisfy { if case .success(.accepted) = $0 { false } else { true } })
        #expect(try await store.channels() == channels)
    }

    /// Vouchers paying another payee are refused when the store serves named payees; a reopened store
    /// holds what was accepted.
    @Test(arguments: StoreKind.allCases)
    func aReopenedStoreHoldsWhatWasAccepted(_ kind: StoreKind) async throws {
        let f = try WalletFixture()
        defer { f.cleanup() }
        // PayeeStores.open keeps the system clock: a delegation valid now.
        let now = Wallet.systemClock()
        let delegation = try f.delegation(after: now - 60, until: now + 86400)
        let verifier = Verifier(domain: f.domain)
        let location = kind == .sqlite ? f.directory + "/reopen.sqlite" : try PostgresServer.shared.newDatabase()
        let first = try await PayeeStores.open(location, verifier: verifier, payees: [f.payee])
        let outcomes = try await first.acceptBatch([
            try signedVoucher(f, under: delegation, cumulative: 500, sequence: 4),
            try signedVoucher(f, under: delegation, payee: f.otherPayee, cumulative: 500, sequence: 1),
        ])
        #expect(outcomes.map(describe) == ["accepted 500 +500", "wrongPayee"])
        await first.close()
        let second = try await PayeeStores.open(location, verifier: verifier)
        defer { Task { await second.close() } }
        #expect(try await second.channels().map(\.cumulative) == [500])
        #expect(
            describe(try await second.acceptBatch([try signedVoucher(f, under: delegation, cumulative: 500, sequence: 4)])[0])
                == "duplicate 500")
    }

    /// What `payee redeem` and `exposure` read and write: the vouchers above what the contract settled
    /// (all payees, or one), the `Redeemed` events recorded (settled only grows, paid adds up, two events
    /// of one channel in one receipt included), and a channel that accepts more is redeemable again.
    @Test(arguments: StoreKind.allCases)
    func redemptionsAreRecordedAndOnlyUnsettledVouchersAreRedeemable(_ kind: StoreKind) async throws {
        let f = try WalletFixture()
        defer { f.cleanup() }
        let delegation = try f.delegation()
        let store = try await kind.make(f)
        defer { Task { await store.close() } }
        let mine1 = try signedVoucher(f, under: delegation, cumulative: 100, sequence: 1)
        let other = try signedVoucher(f, under: delegation, payee: f.otherPayee, cumulative: 300, sequence: 1)
        let mine2 = try signedVoucher(f, under: delegation, cumulative: 200, sequence: 2)
        #expect(
            try await store.acceptBatch([mine1, other, mine2]).map(describe) == [
                "accepted 100 +100", "accepted 300 +300", "accepted 200 +100",
            ])
        let all = try await store.unredeemedVouchers(payee: nil)
        #expect(Set(all.map(\.voucher.cumulative)) == [200, 300] && all.allSatisfy { $0.delegationId == delegation.id })
        let mine = try await store.unredeemedVouchers(payee: f.payee)
        #expect(mine.count == 1)
        // What redeemBatch is given verifies back to the master, as the contract will check it.
        if let item = mine.first, case .voucher(let best) = mine2.message {
            #expect(item.voucher == best && item.domain == f.domain && item.delegation.master == f.master.address)
            let chain = Envelope(
                message: .voucher(item.voucher), domain: item.domain, signature: item.spenderSignature,
                parents: [Envelope(message: .spending(item.delegation), domain: item.domain, signature: item.masterSignature, parents: [])])
            #expect(chain.id == mine2.id && Verifier(domain: f.domain).verify(chain, at: f.clock.now).valid)
            #expect([item.spenderSignature, item.masterSignature].allSatisfy { $0[64] == 27 || $0[64] == 28 })
        }
        let first = [UInt8](repeating: 0xa1, count: 32), second = [UInt8](repeating: 0xb2, count: 32)
        func event(_ payee: Address, _ cumulative: BigUInt, paid: BigUInt, short: BigUInt) -> ParatiiContract.Redemption {
            ParatiiContract.Redemption(
                delegation: delegation.id, payee: payee, token: .zero, cumulative: cumulative, paid: paid, shortfall: short)
        }
        try await store.recordRedemptions(
            [event(f.payee, 200, paid: 150, short: 50), event(f.otherPayee, 250, paid: 100, short: 0)], transactionHash: first)
        #expect(try await store.unredeemedVouchers(payee: nil).map(\.voucher.cumulative) == [300])
        try await store.recordRedemptions(
            [event(f.otherPayee, 300, paid: 50, short: 0), event(f.otherPayee, 280, paid: 20, short: 7)], transactionHash: second)
        let recorded = try await store.redemptions()
        #expect(recorded.count == 2)
        let minePaid = recorded.first { $0.payee == f.payee }, otherPaid = recorded.first { $0.payee == f.otherPayee }
        #expect(minePaid?.cumulative == 200 && minePaid?.paid == 150 && minePaid?.shortfall == 50 && minePaid?.transactionHash == first)
        #expect(otherPaid?.cumulative == 300 && otherPaid?.paid == 170 && otherPaid?.shortfall == 7 && otherPaid?.transactionHash == second)
        #expect(try await store.unredeemedVouchers(payee: nil).isEmpty)
        let mine3 = try signedVoucher(f, under: delegation, cumulative: 400, sequence: 3)
        _ = try await store.accept(mine3)
        #expect(try await store.unredeemedVouchers(payee: nil).map(\.voucher.cumulative) == [400])
        #expect(try await store.unredeemedVouchers(payee: f.otherPayee).isEmpty)
    }
}
