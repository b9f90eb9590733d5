import BigInt
import Delegation
import Ethereum
import LoopbackHTTP

/// What a player asks for, parsed strictly from the JSON body of `POST /v1/delegation-requests`:
///
///     {"spender": "0x…", "allowances": [{"token": "ETH", "total": "0.05", "perPayment": "0.0001",
///       "period": "1d", "perPeriod": "0.01"}], "payees": ["0x…"], "validFor": "30d"}
///
/// Unknown members are refused. Amounts are decimal strings in the token's own units (its decimals);
/// a token the configuration does not describe is refused before anything is queued.
public struct DelegationRequest: Sendable, Equatable {
    public var spender: Address
    public var allowances: [Allowance]
    public var payees: [Address]
    public var validFor: UInt64

    public init(spender: Address, allowances: [Allowance], payees: [Address], validFor: UInt64) {
        self.spender = spender
        self.allowances = allowances
        self.payees = payees
        self.validFor = validFor
    }

    public init(json: JSONValue, configuration: Configuration, maxValidFor: UInt64 = .max) throws {
        guard case .object(let object) = json else { throw APIError.badRequest("the body must be a JSON object") }
        try APIError.onlyKeys(object, ["spender", "allowances", "payees", "validFor"], in: "request")
        guard let spenderText = object["spender"]?.stringValue, let spender = try? Address(spenderText) else {
            throw APIError.badRequest("spender must be an address")
        }
        guard let items = object["allowances"]?.arrayValue, !items.isEmpty, items.count <= SpendingDelegation.maxAllowances else {
            throw APIError.badRequest(
                "allowances must be a non-empty array (at most \(SpendingDelegation.maxAllowances): the contract's bound)")
        }
        var allowances: [Allowance] = []
        for item in items {
            let allowance = try Self.allowance(item, configuration: configuration)
            guard !allowances.contains(where: { $0.token == allowance.token }) else { throw APIError.badRequest("one allowance per token") }
            allowances.append(allowance)
        }
        var payees: [Address] = []
        if let list = object["payees"] {
            guard let array = list.arrayValue, array.count <= SpendingDelegation.maxPayees else {
                throw APIError.badRequest(
                    "payees must be an array of addresses (at most \(SpendingDelegation.maxPayees): the contract's bound)")
            }
            for entry in array {
                guard let text = entry.stringValue, let address = try? Address(text) else {
                    throw APIError.badRequest("payees must be an array of addresses")
                }
                payees.append(address)
            }
        }
        guard let validText = object["validFor"]?.stringValue, let validFor = try? Units.parseDuration(validText), validFor > 0 else {
            throw APIError.badRequest("validFor must be a duration such as \"30d\"")
        }
        guard validFor <= maxValidFor else {
            throw APIError.badRequest("validFor exceeds the bridge's limit of \(Units.formatDuration(maxValidFor))")
        }
        self.init(spender: spender, allowances: allowances, payees: payees, validFor: validFor)
    }

    static func allowance(_ value: JSONValue, configuration: Configuration) throws -> Allowance {
        guard case .object(let object) = value else { throw APIError.badRequest("each allowance is an object") }
        try APIError.onlyKeys(object, ["token", "total", "perPayment", "period", "perPeriod"], in: "allowance")
        var fields: [String: String] = [:]
        for (key, spec) in [
            ("token", "token"), ("total", "total"), ("perPayment", "per-payment"), ("period", "period"), ("perPeriod", "per-period"),
        ] {
            guard let member = object[key] else { continue }
            guard let text = member.stringValue, !text.isEmpty, text.count <= 80 else {
                throw APIError.badRequest("allowance \(key) must be a string")
            }
            fields[spec] = text
        }
        do { return try Allowance(fields: fields, configuration: configuration) } catch {
            throw APIError.badRequest("allowance: \(error)")
        }
    }

    /// The request back as JSON, amounts in whole units, tokens by name (ETH, PTI) or address.
    public func json(_ configuration: Configuration) -> JSONValue {
        .object([
            "spender": .string(spender.checksummed),
            "allowances": .array(
                allowances.map { allowance in
                    var object: JSONObject = [
                        "token": .string(configuration.tokenName(allowance.token)),
                        "total": .string(configuration.formatAmount(allowance.total, token: allowance.token)),
                        "perPayment": .string(configuration.formatAmount(allowance.perPayment, token: allowance.token)),
                    ]
                    if allowance.period != 0 {
                        object["period"] = .string("\(allowance.period)s")
                        object["perPeriod"] = .string(configuration.formatAmount(allowance.perPeriod, token: allowance.token))
                    }
                    return .object(object)
                }),
            "payees": .array(payees.map { .string($0.checksummed) }),
            "validFor": .string("\(validFor)s"),
        ])
    }

    /// The delegation the master signs for this request. A validFor reaching past the end of uint64 time
    /// (a bridge configured without a real limit) ends at the last second rather than overflowing.
    public func delegation(master: Address, now: UInt64, salt: BigUInt = Salt.random()) -> SpendingDelegation {
        let (end, overflow) = now.addingReportingOverflow(validFor)
        return SpendingDelegation(
            master: master, spender: spender, allowances: allowances, payees: payees,
            validAfter: now, validUntil: overflow ? .max : end, salt: salt)
    }

    /// Does `delegation` grant exactly what was asked (same spender, allowances, payees, no longer than asked)?
    public func matches(_ delegation: SpendingDelegation, now: UInt64) -> Bool {
        delegation.spender == spender && delegation.allowances == allowances && delegation.payees == payees
            && delegation.validUntil > delegation.validAfter && delegation.validUntil - delegation.validAfter <= validFor
            && delegation.validUntil > now
    }
}
