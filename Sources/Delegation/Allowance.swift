import BigInt
import Ethereum

/// `Allowance(address token,uint256 total,uint256 perPayment,uint64 period,uint256 perPeriod)`.
/// Token 0x0…0 is ETH; period 0 means no per-period limit. Amounts are base units (wei-like).
public struct Allowance: Equatable, Hashable, Sendable {
    public static let typeName = "Allowance"
    public static let fields: [(name: String, type: String)] = [
        ("token", "address"), ("total", "uint256"), ("perPayment", "uint256"), ("period", "uint64"), ("perPeriod", "uint256"),
    ]
    static let typeHash = Keccak256.hash("Allowance(address token,uint256 total,uint256 perPayment,uint64 period,uint256 perPeriod)")
    public static let eth = Address.zero

    public var token: Address
    public var total: BigUInt
    public var perPayment: BigUInt
    public var period: UInt64
    public var perPeriod: BigUInt

    public init(token: Address, total: BigUInt, perPayment: BigUInt, period: UInt64 = 0, perPeriod: BigUInt = 0) {
        self.token = token; self.total = total; self.perPayment = perPayment; self.period = period; self.perPeriod = perPeriod
    }

    init(json: JSONValue, context: String) throws(DelegationError) {
        guard case .object(let object) = json else { throw .malformed("\(context) must be an object") }
        var reader = FieldReader(object, context: context)
        token = try reader.address("token")
        total = try reader.uint("total", bits: 256)
        perPayment = try reader.uint("perPayment", bits: 256)
        period = try reader.uint64("period")
        perPeriod = try reader.uint("perPeriod", bits: 256)
        try reader.finish()
    }

    public var json: JSONValue {
        .object([
            "token": .string(token.checksummed), "total": .string(String(total)), "perPayment": .string(String(perPayment)),
            "period": .number(String(period)), "perPeriod": .string(String(perPeriod)),
        ])
    }

    public func structHash() -> [UInt8] {
        var hasher = StructHasher(typeHash: Self.typeHash)
        hasher.add(token)
        hasher.add(total)
        hasher.add(perPayment)
        hasher.add(period)
        hasher.add(perPeriod)
        return hasher.finalize()
    }

    /// True when every bound of `self` is at least as tight as `outer`'s (used for ceilings).
    public func fits(under outer: Allowance) -> Bool {
        guard token == outer.token, total <= outer.total, perPayment <= outer.perPayment else { return false }
        if outer.period == 0 { return true }
        // An outer per-period cap needs an inner one: a period at least as long, a cap at least as low.
        return period != 0 && period >= outer.period && perPeriod <= outer.perPeriod
    }

    public static func parseList(_ items: [JSONValue], context: String) throws(DelegationError) -> [Allowance] {
        var out: [Allowance] = []
        for (i, item) in items.enumerated() {
            let allowance = try Allowance(json: item, context: "\(context)[\(i)]")
            guard !out.contains(where: { $0.token == allowance.token }) else {
                throw .malformed("\(context) lists token \(allowance.token) twice")
            }
            out.append(allowance)
        }
        return out
    }

    static func hashList(_ allowances: [Allowance]) -> [[UInt8]] { allowances.map { $0.structHash() } }
}
