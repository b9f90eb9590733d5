import BigInt
import Delegation
import Ethereum
import Foundation
import Testing

@testable import PlayerCore

/// The group commit's batch for web sites (`recordForSites`): each site's budget is read once per batch and
/// charged in memory, so these check that what is written back is exactly what a payment-at-a-time
/// ledger would hold: refusals (the site's or the delegation's) charge nothing, periods roll over, and
/// the budgets each payment returns are those its commit left.
@Suite struct SitePaymentTests {
    static let site = "http://localhost:8080"

    /// A wallet with a delegation of 0.001 ETH (0.0001 per payment, no period) and `site` paired with 0.0003 per 100 s.
    static func fixture() throws -> WalletFixture {
        let f = try WalletFixture()
        try f.wallet.importDelegation(
            try f.delegation(allowances: [
                Allowance(token: .zero, total: WalletFixture.wei("0.001"), perPayment: WalletFixture.wei("0.0001"), period: 0, perPeriod: 0)
            ]))
        try f.wallet.approveSite(
            origin: site, name: "test", tokenHash: String(repeating: "ab", count: 32),
            limits: [SiteLimit(token: .zero, limit: WalletFixture.wei("0.0003"), period: 100)])
        return f
    }

    static func request(_ f: WalletFixture, _ amount: String, memo: String) -> PaymentRequest {
        PaymentRequest(payee: f.payee, token: .zero, amount: WalletFixture.wei(amount), memo: PaymentRequest.memo(memo))
    }

    @Test func aBatchChargesEachPaymentOnceAndRefusalsNothing() throws {
        let f = try Self.fixture()
        defer { f.cleanup() }
        // One batch: a payment over the delegation's per-payment cap passes the site's check first and must
        // not be charged to the site; an unpaired site is refused; the site's 0.0003 pays three of the rest.
        let batch: [(request: PaymentRequest, site: String)] = [
            (Self.request(f, "0.0001", memo: "a"), Self.site),
            (Self.request(f, "0.0002", memo: "over the cap"), Self.site),
            (Self.request(f, "0.0001", memo: "b"), "http://127.0.0.1:9"),
            (Self.request(f, "0.0001", memo: "c"), Self.site),
            (Self.request(f, "0.0001", memo: "d"), Self.site),
            (Self.request(f, "0.0001", memo: "e"), Self.site),
        ]
        let results = try f.wallet.recordForSites(batch)
        let refusals = results.map { result -> PaymentRefusal? in
            if case .failure(let error) = result { return error.refusal ?? .zeroAmount }
            return nil
        }
        #expect(refusals == [nil, .overPerPayment, .overSiteBudget, nil, nil, .overSiteBudget])
        let budgets = try f.wallet.siteBudgets(Self.site)
        #expect(budgets.first?.spent == WalletFixture.wei("0.0003"))
        #expect(budgets.first?.spentThisPeriod == WalletFixture.wei("0.0003"))
        #expect(try f.wallet.budget().first?.spent == WalletFixture.wei("0.0003"))
        #expect(try f.wallet.siteHistory(Self.site).count == 3)
        // Every paid voucher carries the budgets its commit left, the same as a read afterwards.
        for case .success(let paid) in results { #expect(paid.budgets == budgets) }
        // Signed after the commit, on any thread; the envelope verifies and its JSON (parents rendered
        // once per wallet) is the envelope's own.
        for case .success(let paid) in results {
            let envelope = try f.wallet.sign(paid)
            #expect(Verifier(domain: f.domain).verify(envelope, at: f.clock.now).valid)
            #expect(f.wallet.json(envelope) == envelope.json)
            #expect(f.wallet.json(envelope) == envelope.json)
        }
    }

    @Test func theSitesPeriodRollsOverInsideABatch() throws {
        let f = try Self.fixture()
        defer { f.cleanup() }
        let first = try f.wallet.payForSites((0..<4).map { (Self.request(f, "0.0001", memo: "p\($0)"), Self.site) })
        #expect(first.map { (try? $0.get()) != nil } == [true, true, true, false])
        // Next period: the budget is whole again, charged once per payment from zero.
        f.clock.advance(100)
        let second = try f.wallet.recordForSites((0..<2).map { (Self.request(f, "0.0001", memo: "q\($0)"), Self.site) })
        #expect(second.allSatisfy { (try? $0.get()) != nil })
        let budget = try #require(try f.wallet.siteBudgets(Self.site).first)
        #expect(budget.spentThisPeriod == WalletFixture.wei("0.0002"))
        #expect(budget.spent == WalletFixture.wei("0.0005"))
        #expect(budget.remaining == WalletFixture.wei("0.0001"))
        #expect((try second[1].get()).budgets == [budget])
    }
}
