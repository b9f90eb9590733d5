import BigInt
import Delegation
import Ethereum
import Foundation
import Testing

@testable import PlayerCore

/// After a takeover the wallet holds delegations of two masters: it stops paying under the old one on
/// request, the new one goes on, and a payee store takes the vouchers of both side by side.
@Suite struct TakeoverTests {
    @Test func stopPayingUnderOneMasterLeavesTheOtherAndThePayeeTakesBoth() throws {
        let f = try WalletFixture()
        defer { f.cleanup() }
        let backup = PrivateKey.generate()
        let old = try f.delegation(until: WalletFixture.start + 86400)
        // The backup card's delegation ends later: the ledger would pick the old one first.
        let newer = SpendingDelegation(
            master: backup.address, spender: f.wallet.address, allowances: [f.standardAllowance], payees: [],
            validAfter: WalletFixture.start - 60, validUntil: WalletFixture.start + 30 * 86400, salt: Salt.random())
        let new = try Envelope.sign(newer, domain: f.domain, signer: backup)
        try f.wallet.importDelegation(old)
        try f.wallet.importDelegation(new)
        #expect(try f.wallet.masters() == [f.master.address, backup.address].sorted { $0.dbText < $1.dbText })

        let store = try PayeeStore(path: f.directory + "/payee.sqlite", verifier: Verifier(domain: f.domain), clock: f.clock.closure)
        let before = try f.pay("0.0001", memo: "before")
        guard case .voucher(let first) = before.message else { throw WalletError.invalid("not a voucher") }
        #expect(first.delegation == old.id)
        #expect(throws: Never.self) { try store.accept(before) }

        #expect(try f.wallet.stopPaying(master: f.master.address) == 1)
        // Top-ups and deposits asked through the bridge now name the backup card's nonce without --master.
        #expect(try f.wallet.masters() == [backup.address])
        #expect(throws: WalletError.self) { try f.wallet.stopPaying(master: f.master.address) }
        #expect(throws: WalletError.self) { try f.wallet.stopPaying(master: try Address("0x00000000000000000000000000000000000000dd")) }

        let after = try f.pay("0.0001", memo: "after")
        guard case .voucher(let second) = after.message else { throw WalletError.invalid("not a voucher") }
        #expect(second.delegation == new.id)
        #expect(throws: Never.self) { try store.accept(after) }
        #expect(Set(try store.channels().map(\.master)) == [f.master.address, backup.address])
        let live = try f.wallet.budget().filter(\.live).map(\.delegation)
        #expect(live == [new.id])
    }
}
