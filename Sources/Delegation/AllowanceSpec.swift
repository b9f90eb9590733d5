import BigInt
import Ethereum
import Foundation

extension Allowance {
    /// Parses the command-line form `token=ETH,total=0.05,per-payment=0.0001,period=1d,per-period=0.01`.
    /// `token` and `total` are required; per-payment defaults to the total; a period needs a per-period cap.
    public init(spec: String, configuration: Configuration) throws(DelegationError) {
        var values: [String: String] = [:]
        for part in spec.split(separator: ",") {
            let pair = part.split(separator: "=", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
            guard pair.count == 2, !pair[1].isEmpty else { throw .malformed("allowance part \"\(part)\" is not key=value") }
            guard Self.specKeys.contains(pair[0]) else {
                throw .malformed("unknown allowance key \"\(pair[0])\" (token, total, per-payment, period, per-period)")
            }
            guard values.updateValue(pair[1], forKey: pair[0]) == nil else { throw .malformed("allowance key \(pair[0]) given twice") }
        }
        try self.init(fields: values, configuration: configuration)
    }

    /// The spec's keys; the API's JSON form names them `token`, `total`, `perPayment`, `period`, `perPeriod`.
    public static let specKeys = ["token", "total", "per-payment", "period", "per-period"]

    /// The one parser of an allowance's human form, whether it came as a spec string or a JSON object:
    /// `values` maps spec keys to their text (amounts in the token's decimals, a duration for the period).
    public init(fields values: [String: String], configuration: Configuration) throws(DelegationError) {
        guard let tokenName = values["token"], let totalText = values["total"] else {
            throw .malformed("an allowance needs token= and total=")
        }
        let token = try configuration.token(tokenName)
        let total = try configuration.parseAmount(totalText, token: token)
        let perPayment =
            try values["per-payment"].map { (text: String) throws(DelegationError) in try configuration.parseAmount(text, token: token) }
            ?? total
        let period = try values["period"].map { (text: String) throws(DelegationError) in try Units.parseDuration(text) } ?? 0
        let perPeriod =
            try values["per-period"].map { (text: String) throws(DelegationError) in try configuration.parseAmount(text, token: token) }
            ?? 0
        guard (period == 0) == (values["per-period"] == nil) else {
            throw .malformed("period and per-period go together")
        }
        guard perPayment <= total else { throw .malformed("per-payment exceeds the total") }
        self.init(token: token, total: total, perPayment: perPayment, period: period, perPeriod: perPeriod)
    }

    /// One human line: `ETH: total 0.05, per payment 0.0001, 0.01 per 1d`.
    public func summary(_ configuration: Configuration) -> String {
        let amount = { (value: BigUInt) in configuration.formatAmount(value, token: token) }
        var text = "\(configuration.tokenName(token)): total \(amount(total)), per payment \(amount(perPayment))"
        if period != 0 { text += ", \(amount(perPeriod)) per \(Units.formatDuration(period))" }
        return text
    }
}
