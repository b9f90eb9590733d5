import BigInt
import Ethereum
import Testing

@testable import Delegation

/// A token is ETH, PTI or one the configuration describes with its decimals: amounts are parsed and
/// shown in those decimals, and an address nobody described is refused instead of guessed at 18.
@Suite struct TokenDecimalsTests {
    static let usdc = try! Address("0x3333333333333333333333333333333333333333")

    static func configuration() throws -> Configuration {
        try Configuration(
            json: try JSONValue.parse(
                Array(
                    """
                    {"chainId": 1, "ptiToken": "0x1111111111111111111111111111111111111111",
                     "tokens": [{"address": "0x3333333333333333333333333333333333333333", "symbol": "USDC", "decimals": 6}]}
                    """.utf8)))
    }

    @Test func amountsUseTheTokensOwnDecimals() throws {
        let configuration = try Self.configuration()
        #expect(try configuration.token("usdc") == Self.usdc)
        #expect(try configuration.token(Self.usdc.checksummed) == Self.usdc)
        #expect(try configuration.parseAmount("0.000001", token: Self.usdc) == 1)
        #expect(throws: DelegationError.self) { try configuration.parseAmount("0.0000001", token: Self.usdc) }
        #expect(try configuration.parseAmount("0.000001", token: Allowance.eth) == BigUInt(1_000_000_000_000))
        #expect(configuration.formatAmount(1_500_000, token: Self.usdc) == "1.5")
        #expect(configuration.tokenName(Self.usdc) == "USDC")
        let allowance = try Allowance(spec: "token=USDC,total=2,per-payment=0.5", configuration: configuration)
        #expect(allowance.total == 2_000_000 && allowance.perPayment == 500_000)
        #expect(allowance.summary(configuration) == "USDC: total 2, per payment 0.5")
    }

    @Test func unknownTokensAreRefused() throws {
        let configuration = try Self.configuration()
        #expect(throws: DelegationError.self) { try configuration.token("0x00000000000000000000000000000000000000aa") }
        #expect(throws: DelegationError.self) {
            try Allowance(spec: "token=0x00000000000000000000000000000000000000aa,total=1", configuration: configuration)
        }
        #expect(throws: DelegationError.self) { try configuration.token("DAI") }
        #expect(configuration.decimals(of: try Address("0x00000000000000000000000000000000000000aa")) == nil)
    }

    @Test func tokenListsAreStrict() throws {
        for bad in [
            #"{"tokens": [{"address": "0x3333333333333333333333333333333333333333", "symbol": "ETH", "decimals": 6}]}"#,
            #"{"tokens": [{"address": "0x3333333333333333333333333333333333333333", "symbol": "U\u001b[2K", "decimals": 6}]}"#,
            #"{"tokens": [{"address": "0x3333333333333333333333333333333333333333", "symbol": "USDC", "decimals": 99}]}"#,
            #"{"tokens": [{"address": "0x3333333333333333333333333333333333333333", "symbol": "USDC"}]}"#,
            #"{"tokens": [{"address": "0x3333333333333333333333333333333333333333", "symbol": "USDC", "decimals": 6, "x": 1}]}"#,
        ] {
            #expect(throws: DelegationError.self, "\(bad)") { try Configuration(json: try JSONValue.parse(Array(bad.utf8))) }
        }
        // The list travels to `paratii approve` with the pending requests and reads back the same.
        let configuration = try Self.configuration()
        #expect(try Configuration(json: configuration.json) == configuration)
    }
}
