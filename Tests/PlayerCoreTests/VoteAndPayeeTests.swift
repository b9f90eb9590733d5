import BigInt
import Delegation
import Ethereum
import Foundation
import Testing

@testable import PlayerCore

@Suite struct VoteTests {
    @Test func postingKeysSignVotesWithinTheirScopes() throws {
        let f = try WalletFixture()
        defer { f.cleanup() }
        try f.wallet.importDelegation(try f.delegation())
        let posting = try f.wallet.newPostingKey(scopes: [.rate], kdf: .light)
        let verifier = Verifier(domain: f.domain)
        #expect(verifier.verify(posting, at: f.clock.now).valid)
        let vote = try f.wallet.vote(content: Keccak256.hash("video-1"), .rate(4))
        let verdict = verifier.verify(vote, at: f.clock.now)
        #expect(verdict.valid && verdict.master == f.master.address, "\(verdict.detail)")
        #expect(throws: WalletError.self) { try f.wallet.vote(content: Keccak256.hash("video-1"), .flag("spam")) }
        #expect(throws: WalletError.self) { try f.wallet.vote(content: Keccak256.hash("video-1"), .rate(9)) }
        guard case .posting(let delegation) = posting.message else { Issue.record("not a posting delegation"); return }
        let revocation = try f.wallet.revokePostingKey(delegation.poster)
        #expect(throws: WalletError.self) { try f.wallet.vote(content: Keccak256.hash("video-2"), .rate(3)) }
        var list = RevocationList()
        #expect(list.add(revocation) == nil)
        #expect(Verifier(domain: f.domain, revocations: list).verify(vote, at: f.clock.now).reason == .revoked)
    }

    @Test func topupReclaimAndApproveAreSignedByTheRightKeys() throws {
        let f = try WalletFixture()
        defer { f.cleanup() }
        let fees = FeeParameters(chainId: 1, nonce: 3, gas: 100_000, maxFeePerGas: 30_000_000_000, maxPriorityFeePerGas: 1_000_000_000)
        let topup = try f.wallet.topup(token: f.pti, amount: WalletFixture.wei("5"), fees: fees, master: f.master)
        #expect(topup.from == f.master.address)
        #expect(topup.transaction.data == ERC20.transfer(to: f.wallet.address, amount: WalletFixture.wei("5")))
        let decoded = try SignedTransaction.decode(topup.raw)
        #expect(decoded.from == f.master.address && decoded.transaction.to == f.pti)
        let reclaim = try f.wallet.reclaim(token: .zero, amount: WalletFixture.wei("0.01"), to: f.master.address, fees: fees)
        #expect(
            reclaim.from == f.wallet.address && reclaim.transaction.to == f.master.address
                && reclaim.transaction.value == WalletFixture.wei("0.01"))
        let approve = try f.wallet.approve(token: f.pti, spender: f.payee, amount: WalletFixture.wei("1"), fees: fees)
        #expect(approve.from == f.wallet.address && approve.transaction.data.prefix(4) == ERC20.approveSelector[...])
    }
}

@Suite struct PayeeStoreTests {
    func store(_ f: WalletFixture, revocations: RevocationList = RevocationList()) throws -> PayeeStore {
        try PayeeStore(
            path: f.directory + "/payee.sqlite", verifier: Verifier(domain: f.domain, revocations: revocations), clock: f.clock.closure)
    }

    @Test func keepsTheBestVoucherAndRefusesTheRest() throws {
        let f = try WalletFixture()
        defer { f.cleanup() }
        let delegation = try f.delegation()
        try f.wallet.importDelegation(delegation)
        let payee = try store(f)
        let v1 = try f.pay("0.0001"), v2 = try f.pay("0.0001")
        guard case .accepted(let channel, let increase) = try payee.accept(v2) else { Issue.record("best voucher refused"); return }
        #expect(increase == WalletFixture.wei("0.0002") && channel.sequence == 2 && channel.master == f.master.address)
        #expect(try payee.channels().first?.cumulative == WalletFixture.wei("0.0002"))
        #expect(throws: VoucherRejection.self) { try payee.accept(v1) }
        if case .duplicate = try payee.accept(v2) {} else { Issue.record("resending the best voucher is not a duplicate") }
        // A voucher that exceeds the delegation, signed by the spender outside the ledger.
        guard case .voucher(let voucher) = v2.message else {
            Issue.record("a payment is not a voucher: \(v2.kind)")
            return
        }
        var greedy = voucher
        greedy.cumulative = WalletFixture.wei("0.002")
        greedy.sequence = 3
        let forged = try Envelope.sign(greedy, domain: f.domain, signer: f.wallet.spendingKey, parents: [delegation])
        #expect(throws: VoucherRejection.invalid(.overTotal, "cumulative 2000000000000000 exceeds the total 1000000000000000")) {
            try payee.accept(forged)
        }
        // Same sequence, other amount.
        var conflicting = voucher
        conflicting.cumulative += 1
        let conflict = try Envelope.sign(conflicting, domain: f.domain, signer: f.wallet.spendingKey, parents: [delegation])
        do { _ = try payee.accept(conflict); Issue.record("conflict accepted") } catch { #expect(error.code == "sequenceConflict") }
        #expect(try payee.channels().first?.cumulative == WalletFixture.wei("0.0002"))
        #expect(try payee.export().count == 1)
    }

    @Test func vouchersAfterARevocationAreRefused() throws {
        let f = try WalletFixture()
        defer { f.cleanup() }
        let delegation = try f.delegation()
        try f.wallet.importDelegation(delegation)
        let v1 = try f.pay("0.0001")
        var list = RevocationList()
        list.add(
            try Envelope.sign(
                Revocation(issuer: f.master.address, target: delegation.id, issuedAt: f.clock.now), domain: f.domain, signer: f.master))
        let payee = try store(f, revocations: list)
        do { _ = try payee.accept(v1); Issue.record("revoked voucher accepted") } catch { #expect(error.code == "revoked") }
    }

    /// An attested card: the wallet keeps the attestation with the delegation and every voucher carries
    /// it; a payee requiring the institution accepts, until the institution's revocation of the
    /// attestation is loaded; a payee requiring another institution never does.
    @Test func attestedChainsAreAcceptedUnderTheirInstitutionUntilRevoked() throws {
        let f = try WalletFixture()
        defer { f.cleanup() }
        let institution = PrivateKey.generate()
        let attestation = try f.attestation(by: institution)
        let plain = try f.delegation()
        guard case .spending(let body) = plain.message else {
            Issue.record("a delegation is not a spending delegation: \(plain.kind)")
            return
        }
        let delegation = try Envelope.sign(body, domain: f.domain, signer: f.master, parents: [attestation])
        try f.wallet.importDelegation(delegation)
        let voucher = try f.pay("0.0001")
        #expect(voucher.parents.map(\.kind) == ["SpendingDelegation", "CardAttestation"])

        func payee(_ required: Address, _ revocations: RevocationList = RevocationList(), name: String) throws -> PayeeStore {
            try PayeeStore(
                path: f.directory + "/\(name).sqlite",
                verifier: Verifier(domain: f.domain, revocations: revocations, institution: required),
                clock: f.clock.closure)
        }
        if case .accepted = try payee(institution.address, name: "a").accept(voucher) {} else { Issue.record("attested voucher refused") }
        do {
            _ = try payee(PrivateKey.generate().address, name: "b").accept(voucher); Issue.record("accepted under another institution")
        } catch {
            #expect((error as? VoucherRejection)?.code == "notAttested")
        }
        var list = RevocationList()
        list.add(
            try Envelope.sign(
                Revocation(issuer: institution.address, target: attestation.id, issuedAt: f.clock.now), domain: f.domain,
                signer: institution))
        do {
            _ = try payee(institution.address, list, name: "c").accept(try f.pay("0.0001")); Issue.record("revoked card's voucher accepted")
        } catch {
            #expect((error as? VoucherRejection)?.code == "revoked")
        }
    }
}
