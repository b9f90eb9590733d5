import BigInt
import Delegation
import PlayerCore
import Testing

/// Both stores write amounts as decimal text, through a shortcut for amounts that fit a machine word:
/// both paths must write what `String(BigUInt)` writes.
@Suite struct StoredAmountTests {
    @Test func amountsAsDecimalTextOnBothSidesOfAMachineWord() {
        let amounts: [BigUInt] = [
            0, 1, 999, BigUInt(UInt64.max) - 1, BigUInt(UInt64.max), BigUInt(UInt64.max) + 1, BigUInt(10).power(30),
            BigUInt(2).power(256) - 1,
        ]
        for amount in amounts {
            #expect(StoredChannel.decimal(amount) == String(amount))
            #expect(BigUInt(StoredChannel.decimal(amount), radix: 10) == amount)
        }
    }
}

/// A batch verifies in chunks, the last one split down to a quarter chunk (a short tail for the store's
/// last writes): the chunks still cover every envelope once, in order, each with its own result.
@Suite struct VerifyingBatchTests {
    @Test(arguments: [0, 1, 24, 25, 26, 99, 100, 101, 250, 500])
    func chunksCoverTheBatchInOrderWithAShortLastChunk(count: Int) throws {
        let fixture = try WalletFixture()
        defer { fixture.cleanup() }
        // Delegations, not vouchers: each is refused at once by name, so results show their order.
        let envelopes = try (0..<min(count, 3)).map { _ in try fixture.delegation() }
        let batch = (0..<count).map { envelopes[$0 % envelopes.count] }
        let verifying = VoucherCheck(verifier: Verifier(domain: fixture.domain), payees: []).start(batch, now: WalletFixture.start)
        #expect(verifying.ranges.flatMap { Array($0) } == Array(0..<count))
        #expect(verifying.ranges.allSatisfy { $0.count <= 100 && !$0.isEmpty })
        if let last = verifying.ranges.last, count > 25 { #expect(last.count <= 25) }
        for k in verifying.ranges.indices {
            for result in verifying.chunk(k) {
                #expect(result.map { _ in "accepted" } == .failure(.notAVoucher("SpendingDelegation")))
            }
        }
    }
}
