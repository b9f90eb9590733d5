import BigInt
import Ethereum
import Testing

@testable import Delegation

/// A payee cannot see other payees: it is told how much of the delegation's total a voucher claims.
@Suite struct ExposureTests {
    let world = World()

    @Test func exposureSaysHowMuchOfTheTotalAVoucherClaims() throws {
        let total = BigUInt(10).power(18)
        let half = Exposure(cumulative: total / 2, total: total, token: "ETH")
        #expect(half.claims == "0.5 of 1 ETH (50%)")
        #expect(half.basisPoints == 5000)
        #expect(Exposure(cumulative: 1, total: 3, token: "PTI").claims.hasSuffix("(33.33%)"))
        #expect(Exposure(cumulative: BigUInt(12345), total: BigUInt(100_000), token: "PTI").basisPoints == 1234)
        #expect(Exposure(cumulative: 4, total: 1000, token: "ETH").claims.hasSuffix("(0.4%)"))
        #expect(Exposure(cumulative: BigUInt(12345), total: BigUInt(100_000), token: "PTI").claims.hasSuffix("(12.34%)"))
        let spending = try world.signedSpending()
        let voucher = try world.signedVoucher(world.voucher(under: spending, cumulative: world.ethAllowance.total / 4), parents: [spending])
        let exposure = try #require(Exposure(voucher, configuration: Configuration(chainId: 1, verifyingContract: .zero)))
        #expect(exposure.claims == "0.0125 of 0.05 ETH (25%)")
        #expect(Exposure(spending, configuration: Configuration(chainId: 1, verifyingContract: .zero)) == nil)
    }
}
