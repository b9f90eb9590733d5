import Delegation
import Ethereum
import LoopbackHTTP
import Testing

@testable import Bridge

/// Request bodies decoded directly, as the fuzzer reaches them.
@Suite struct RequestBodyTests {
    static let chain = Configuration()

    /// The contract redeems at most 8 allowances and 32 payees: a request beyond is refused before it is queued.
    @Test func delegationsTheContractCannotRedeemAreRefused() throws {
        func body(payees: Int) -> String {
            let list = (0..<payees).map { String(format: "\"0x%040x\"", $0 + 1) }.joined(separator: ",")
            return #"{"spender":"0x0000000000000000000000000000000000000001","allowances":[{"token":"ETH","total":"1"}],"payees":["#
                + list + #"],"validFor":"1d"}"#
        }
        #expect(try DelegationRequest(json: try JSONValue.parse(body(payees: 32)), configuration: Self.chain).payees.count == 32)
        #expect(throws: APIError.self) { try DelegationRequest(json: try JSONValue.parse(body(payees: 33)), configuration: Self.chain) }
    }

    /// Found through the fuzz harness's bridge-bodies invariant (the delegation made for a request matches it): a
    /// validFor near 2^64 s passes a bridge whose maxValidFor is
    /// unlimited, and making the delegation (`paratii approve`) trapped on `now + validFor`.
    @Test func validForPastTheEndOfTimeEndsAtTheLastSecond() throws {
        let body =
            #"{"spender":"0x0000000000000000000000000000000000000001","allowances":[{"token":"ETH","total":"1"}],"validFor":"18446744073709551615"}"#
        let request = try DelegationRequest(json: try JSONValue.parse(body), configuration: Self.chain)
        #expect(request.validFor == .max)
        let now: UInt64 = 1_800_000_000
        let delegation = request.delegation(master: .zero, now: now, salt: 1)
        #expect(delegation.validAfter == now)
        #expect(delegation.validUntil == .max)
        #expect(request.matches(delegation, now: now))
        // The bridge's own limit still refuses it.
        #expect(throws: APIError.self) {
            try DelegationRequest(json: try JSONValue.parse(body), configuration: Self.chain, maxValidFor: BridgeSettings().maxValidFor)
        }
    }

    /// Found next to the validFor overflow (same arithmetic, not by the fuzzer): an expiry near 2^64 s in the settings trapped on the
    /// store's Int64(now + expiry) at the first pairing or request.
    @Test func expiriesAreBoundedWhenSettingsLoad() throws {
        var settings = BridgeSettings()
        for key in ["requestExpiry", "pairingExpiry"] {
            #expect(throws: BridgeError.self, "\(key)") { try settings.apply(.object([key: .string("18446744073709551615")])) }
        }
        try settings.apply(.object(["requestExpiry": .string("366d"), "maxValidFor": .string("18446744073709551615")]))
        #expect(settings.requestExpiry == 366 * 86400)
        #expect(settings.maxValidFor == .max)
    }
}
