import BigInt
import Ethereum

/// `SpendingDelegation(address master,address spender,Allowance[] allowances,address[] payees,uint64 validAfter,uint64 validUntil,uint256 salt)`,
/// signed by the master key (the card). Empty `payees` means any payee.
public struct SpendingDelegation: TypedMessage {
    public static let typeName = "SpendingDelegation"
    public static let fields: [(name: String, type: String)] = [
        ("master", "address"), ("spender", "address"), ("allowances", "Allowance[]"), ("payees", "address[]"),
        ("validAfter", "uint64"), ("validUntil", "uint64"), ("salt", "uint256"),
    ]
    public static let referencedTypes = [(name: Allowance.typeName, fields: Allowance.fields)]
    /// The contract's bounds (Vyper DynArray): a delegation with more could be signed but never redeemed,
    /// so the CLI and the bridge refuse to ask the card for one.
    public static let maxAllowances = 8
    public static let maxPayees = 32
    static let typeHash = Keccak256.hash(encodeType)

    public var master: Address
    public var spender: Address
    public var allowances: [Allowance]
    public var payees: [Address]
    public var validAfter: UInt64
    public var validUntil: UInt64
    public var salt: BigUInt

    public init(
        master: Address, spender: Address, allowances: [Allowance], payees: [Address] = [],
        validAfter: UInt64, validUntil: UInt64, salt: BigUInt
    ) {
        self.master = master; self.spender = spender; self.allowances = allowances; self.payees = payees
        self.validAfter = validAfter; self.validUntil = validUntil; self.salt = salt
    }

    public init(message: JSONObject) throws(DelegationError) {
        var reader = FieldReader(message, context: Self.typeName)
        master = try reader.address("master")
        spender = try reader.address("spender")
        allowances = try Allowance.parseList(try reader.array("allowances"), context: "\(Self.typeName).allowances")
        var payees: [Address] = []
        for item in try reader.array("payees") {
            payees.append(try FieldReader.address(item, .malformed("\(Self.typeName).payees holds a non-address")))
        }
        self.payees = payees
        validAfter = try reader.uint64("validAfter")
        validUntil = try reader.uint64("validUntil")
        salt = try reader.uint("salt", bits: 256)
        try reader.finish()
    }

    public var messageJSON: JSONObject {
        [
            "master": .string(master.checksummed), "spender": .string(spender.checksummed),
            "allowances": .array(allowances.map(\.json)), "payees": .array(payees.map { .string($0.checksummed) }),
            "validAfter": .number(String(validAfter)), "validUntil": .number(String(validUntil)), "salt": .string(String(salt)),
        ]
    }

    public func structHash() -> [UInt8] {
        var hasher = StructHasher(typeHash: Self.typeHash)
        hasher.add(master)
        hasher.add(spender)
        hasher.add(arrayOfWords: Allowance.hashList(allowances))
        hasher.add(payees)
        hasher.add(validAfter)
        hasher.add(validUntil)
        hasher.add(salt)
        return hasher.finalize()
    }

    public func allowance(for token: Address) -> Allowance? { allowances.first { $0.token == token } }

    public func allows(payee: Address) -> Bool { payees.isEmpty || payees.contains(payee) }
}
