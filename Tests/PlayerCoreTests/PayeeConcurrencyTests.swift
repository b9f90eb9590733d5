import BigInt
import Delegation
import Ethereum
import Foundation
import Testing

@testable import PlayerCore

/// `PayeeStore.acceptBatch` verifies a batch's vouchers on every core at once. Its result slots were an
/// Array that every worker mutated, a data race that corrupted the heap under the soak: this batch makes
/// the workers overlap, and `scripts/sanitize thread` (in CI) reports the race if it comes back.
@Suite struct PayeeConcurrencyTests {
    @Test func aLargeBatchIsVerifiedConcurrentlyAndEveryOutcomeLandsInItsOwnSlot() throws {
        let f = try WalletFixture()
        defer { f.cleanup() }
        let delegation = try f.delegation()
        let store = try PayeeStore(path: f.directory + "/payee.sqlite", verifier: Verifier(domain: f.domain), clock: f.clock.closure)
        let payees = (1...8).map { try! Address("0x" + String(repeating: "0", count: 38) + String(format: "%02x", 0xd0 + $0)) }
        let perPayee = 12
        // Interleaved across channels; every third voucher is refused for its own reason (sequence 0),
        // so a result landing in the wrong slot shows as a wrong outcome, not only as a crash.
        var envelopes: [Envelope] = []
        var expected: [String] = []
        for sequence in 1...perPayee {
            for (p, payee) in payees.enumerated() {
                let refused = (sequence + p) % 3 == 0
                let voucher = Voucher(
                    delegation: delegation.id, payee: payee, token: .zero, cumulative: BigUInt(sequence * 1000 + p),
                    sequence: refused ? 0 : UInt64(sequence), memo: Keccak256.hash("segment \(sequence)"))
                envelopes.append(try Envelope.sign(voucher, domain: f.domain, signer: f.wallet.spendingKey, parents: [delegation]))
                expected.append(refused ? "outOfRange" : "accepted \(sequence * 1000 + p)")
            }
        }
        let outcomes = try store.acceptBatch(envelopes)
        let seen = outcomes.map { outcome -> String in
            switch outcome {
            case .success(.accepted(let state, _)): "accepted \(state.cumulative)"
            case .success(.duplicate(let state)): "duplicate \(state.cumulative)"
            case .failure(let rejection): rejection.code
            }
        }
        #expect(seen == expected)
        // Every channel holds its highest accepted voucher.
        let channels = try store.channels()
        #expect(channels.count == payees.count)
        for (p, payee) in payees.enumerated() {
            let best = (1...perPayee).last { ($0 + p) % 3 != 0 }!
            #expect(channels.first { $0.payee == payee }?.cumulative == BigUInt(best * 1000 + p))
        }
        // The same batch again: all duplicates of their channel's best or refused, nothing new.
        let again = try store.acceptBatch(envelopes)
        #expect(again.allSatisfy { if case .success(.accepted) = $0 { false } else { true } })
    }
}
