import BigInt
import Delegation
import Ethereum
import Foundation
import Testing

@testable import PlayerCore

@Suite struct LedgerTests {
    @Test func paysWithinEveryCapAndVouchersVerify() throws {
        let f = try WalletFixture()
        defer { f.cleanup() }
        let delegation = try f.delegation()
        try f.wallet.importDelegation(delegation)
        let verifier = Verifier(domain: f.domain)
        var last: BigUInt = 0
        for i in 1...3 {
            let envelope = try f.pay("0.0001", memo: "segment-\(i)")
            let verdict = verifier.verify(envelope, at: f.clock.now)
            #expect(verdict.valid, "\(verdict.detail)")
            #expect(verdict.master == f.master.address)
            guard case .voucher(let voucher) = envelope.message else { Issue.record("not a voucher"); return }
            #expect(voucher.cumulative == last + WalletFixture.wei("0.0001") && voucher.sequence == UInt64(i))
            #expect(voucher.memo == Keccak256.hash("segment-\(i)"))
            last = voucher.cumulative
        }
        let budget = try f.wallet.budget()
        #expect(budget.count == 1 && budget[0].spent == WalletFixture.wei("0.0003") && budget[0].periodRemaining == 0)
    }

    @Test func refusalsNameTheirReasonAndWriteNothing() throws {
        let f = try WalletFixture()
        defer { f.cleanup() }
        #expect(throws: WalletError.self) { try f.pay("0.0001") }  // no delegation yet
        do { _ = try f.pay("0.0001") } catch let error as WalletError { #expect(error.refusal == .noDelegation) }
        try f.wallet.importDelegation(try f.delegation(payees: [f.payee]))
        let before = try f.wallet.budget()
        let cases: [(String, Address?, Address, PaymentRefusal)] = [
            ("0.0002", nil, .zero, .overPerPayment),
            ("0.0001", f.otherPayee, .zero, .payeeNotAllowed),
            ("0.0001", nil, f.pti, .unknownToken),
            ("0", nil, .zero, .zeroAmount),
        ]
        for (amount, payee, token, reason) in cases {
            do {
                _ = try f.pay(amount, to: payee, token: token)
                Issue.record("\(reason) was paid")
            } catch let error as WalletError {
                #expect(error.refusal == reason, "\(error)")
            }
        }
        #expect(try f.wallet.budget() == before)
        #expect(try f.wallet.history().isEmpty)
    }

    @Test func periodsResetLazilyAndTheTotalHolds() throws {
        let f = try WalletFixture()
        defer { f.cleanup() }
        try f.wallet.importDelegation(try f.delegation())
        for _ in 0..<3 { _ = try f.pay("0.0001") }
        do { _ = try f.pay("0.0001"); Issue.record("over the period") } catch let e as WalletError { #expect(e.refusal == .overPeriod) }
        // The clock moving backwards never reopens a spent period.
        f.clock.advance(86400)
        for _ in 0..<3 { _ = try f.pay("0.0001") }
        f.clock.set(WalletFixture.start)
        do { _ = try f.pay("0.0001"); Issue.record("clock moved back reopened a period") } catch let e as WalletError {
            #expect(e.refusal == .overPeriod)
        }
        f.clock.set(WalletFixture.start + 2 * 86400)
        for _ in 0..<3 { _ = try f.pay("0.0001") }
        f.clock.set(WalletFixture.start + 3 * 86400)
        _ = try f.pay("0.0001")
        // 10 payments of 0.0001 reach the 0.001 total.
        do { _ = try f.pay("0.0001"); Issue.record("over the total") } catch let e as WalletError { #expect(e.refusal == .overTotal) }
        #expect(try f.wallet.budget()[0].remaining == 0)
    }

    @Test func windowsAndRevocation() throws {
        let f = try WalletFixture()
        defer { f.cleanup() }
        try f.wallet.importDelegation(try f.delegation(until: WalletFixture.start + 100))
        _ = try f.pay("0.0001")
        f.clock.advance(101)
        do { _ = try f.pay("0.0001"); Issue.record("expired delegation paid") } catch let e as WalletError {
            #expect(e.refusal == .expired)
        }
        let later = try f.delegation(after: WalletFixture.start + 1000)
        try f.wallet.importDelegation(later)
        do { _ = try f.pay("0.0001"); Issue.record("future delegation paid") } catch let e as WalletError {
            #expect(e.refusal == .notYetValid)
        }
        f.clock.set(WalletFixture.start + 1000)
        _ = try f.pay("0.0001")
        try f.wallet.revokeDelegation(later.id)
        do { _ = try f.pay("0.0001"); Issue.record("revoked delegation paid") } catch let e as WalletError {
            #expect(e.refusal == .revoked)
        }
    }

    @Test func idempotentRetriesReturnTheIdenticalVoucher() throws {
        let f = try WalletFixture()
        defer { f.cleanup() }
        try f.wallet.importDelegation(try f.delegation())
        let first = try f.pay("0.0001", key: "segment-7")
        let again = try f.pay("0.0001", key: "segment-7")
        #expect(first.json.compactText == again.json.compactText)
        #expect(try f.wallet.history().count == 1)
        #expect(throws: WalletError.idempotencyConflict("segment-7")) { try f.pay("0.00005", key: "segment-7") }
        // A reopened wallet (another process, after a crash) gives the same bytes too.
        let reopened = try Wallet.open(directory: f.directory, password: f.password, clock: f.clock.closure)
        let third = try reopened.pay(
            PaymentRequest(
                payee: f.payee, token: .zero, amount: WalletFixture.wei("0.0001"),
                memo: PaymentRequest.memo("segment"), idempotencyKey: "segment-7"))
        #expect(third.json.compactText == first.json.compactText)
    }

    @Test func batchesAreAllOrNothing() throws {
        let f = try WalletFixture()
        defer { f.cleanup() }
        try f.wallet.importDelegation(try f.delegation())
        let ok = (0..<3).map { _ in PaymentRequest(payee: f.payee, token: .zero, amount: WalletFixture.wei("0.0001")) }
        #expect(try f.wallet.payBatch(ok).count == 3)
        #expect(throws: WalletError.self) { try f.wallet.payBatch(ok) }
        #expect(try f.wallet.history().count == 3)
    }

    @Test func importsOnlyValidDelegationsForThisWallet() throws {
        let f = try WalletFixture()
        defer { f.cleanup() }
        let foreign = SpendingDelegation(
            master: f.master.address, spender: f.payee, allowances: [f.standardAllowance],
            validAfter: WalletFixture.start, validUntil: WalletFixture.start + 10, salt: 1)
        #expect(throws: WalletError.self) { try f.wallet.importDelegation(try Envelope.sign(foreign, domain: f.domain, signer: f.master)) }
        let good = try f.delegation()
        let forged = Envelope(
            message: good.message, domain: good.domain, signature: try PrivateKey.generate().sign(digest: good.id).bytes, parents: [])
        #expect(throws: WalletError.self) { try f.wallet.importDelegation(forged) }
        #expect(try f.wallet.budget().isEmpty)
    }

    @Test func wrongPasswordAndDamagedFilesAreRefusedNotRepaired() throws {
        let f = try WalletFixture()
        defer { f.cleanup() }
        try f.wallet.importDelegation(try f.delegation())
        _ = try f.pay("0.0001")
        #expect(throws: WalletError.self) { try Wallet.open(directory: f.directory, password: "wrong") }
        let copy = f.directory + "-damaged"
        try FileManager.default.createDirectory(atPath: copy, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: copy) }
        try FileManager.default.copyItem(atPath: f.directory + "/" + Wallet.spendingKeyFile, toPath: copy + "/" + Wallet.spendingKeyFile)
        let garbage = Data(repeating: 0x5A, count: 8192)
        try garbage.write(to: URL(fileURLWithPath: copy + "/" + Wallet.databaseFile))
        #expect(throws: WalletError.self) { try Wallet.open(directory: copy, password: f.password) }
        #expect(try Data(contentsOf: URL(fileURLWithPath: copy + "/" + Wallet.databaseFile)) == garbage)
        // A keystore cut in half.
        let key = try Data(contentsOf: URL(fileURLWithPath: copy + "/" + Wallet.spendingKeyFile))
        try key.prefix(key.count / 2).write(to: URL(fileURLWithPath: copy + "/" + Wallet.spendingKeyFile))
        #expect(throws: WalletError.self) { try Wallet.open(directory: copy, password: f.password) }
    }
}
