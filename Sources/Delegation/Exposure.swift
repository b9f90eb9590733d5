import BigInt
import Ethereum

/// How much of its delegation's total one voucher claims. A payee binds only its own channel: a
/// stolen spending key can promise the same total to every payee at once, and only the contract
/// bounds the sum (DESIGN.md, "What binds whom"). This makes the exposure visible.
public struct Exposure: Sendable, Equatable {
    public let cumulative: BigUInt
    public let total: BigUInt
    public let token: String
    /// The token's decimals, so amounts read as the wallet and the bridge showed them.
    public let decimals: Int

    /// The voucher's claim under its chain's spending delegation; nil for anything else.
    public init?(_ envelope: Envelope, configuration: Configuration) {
        guard case .voucher(let voucher) = envelope.message, case .spending(let delegation)? = envelope.parents.first?.message,
            let allowance = delegation.allowance(for: voucher.token)
        else { return nil }
        self.init(cumulative: voucher.cumulative, total: allowance.total, token: voucher.token, configuration: configuration)
    }

    /// A channel's claim, named and scaled as the configuration shows `token`.
    public init(cumulative: BigUInt, total: BigUInt, token: Address, configuration: Configuration) {
        self.init(
            cumulative: cumulative, total: total, token: configuration.tokenName(token),
            decimals: configuration.decimals(of: token) ?? Units.decimals)
    }

    public init(cumulative: BigUInt, total: BigUInt, token: String, decimals: Int = Units.decimals) {
        self.cumulative = cumulative
        self.total = total
        self.token = token
        self.decimals = decimals
    }

    /// Of the total, in hundredths of a percent (rounded down).
    public var basisPoints: BigUInt { total == 0 ? 0 : cumulative * 10_000 / total }

    /// "0.5 of 1 ETH (50%)".
    public var claims: String {
        let (whole, hundredths) = basisPoints.quotientAndRemainder(dividingBy: 100)
        let percent =
            switch (hundredths, hundredths % 10) {
            case (0, _): "\(whole)"
            case (_, 0): "\(whole).\(hundredths / 10)"
            default: "\(whole).\(hundredths < 10 ? "0" : "")\(hundredths)"
            }
        return
            "\(Units.formatAmount(cumulative, decimals: decimals)) of \(Units.formatAmount(total, decimals: decimals)) \(token) (\(percent)%)"
    }

    /// The human line that goes with it.
    public var sentence: String {
        "claims \(claims) of its delegation's total; other payees may hold claims on the same total, which only the contract bounds"
    }

    public var json: [(key: String, value: JSONValue)] {
        [("claims", .string(claims)), ("total", .string(String(total))), ("exposureBasisPoints", .number(String(basisPoints)))]
    }
}
