import BigInt
import Ethereum

/// `Voucher(bytes32 delegation,address payee,address token,uint256 cumulative,uint64 sequence,bytes32 memo)`,
/// signed by the spender. `cumulative` is the running total paid to this payee in this token under
/// this delegation (a one-way payment channel); the payee keeps only the highest.
public struct Voucher: TypedMessage {
    public static let typeName = "Voucher"
    public static let fields: [(name: String, type: String)] = [
        ("delegation", "bytes32"), ("payee", "address"), ("token", "address"), ("cumulative", "uint256"),
        ("sequence", "uint64"), ("memo", "bytes32"),
    ]
    static let typeHash = Keccak256.hash(encodeType)

    public var delegation: [UInt8]
    public var payee: Address
    public var token: Address
    public var cumulative: BigUInt
    public var sequence: UInt64
    public var memo: [UInt8]

    public init(delegation: [UInt8], payee: Address, token: Address, cumulative: BigUInt, sequence: UInt64, memo: [UInt8]) {
        self.delegation = delegation; self.payee = payee; self.token = token
        self.cumulative = cumulative; self.sequence = sequence; self.memo = memo
    }

    public init(message: JSONObject) throws(DelegationError) {
        var reader = FieldReader(message, context: Self.typeName)
        delegation = try reader.bytes32("delegation")
        payee = try reader.address("payee")
        token = try reader.address("token")
        cumulative = try reader.uint("cumulative", bits: 256)
        sequence = try reader.uint64("sequence")
        memo = try reader.bytes32("memo")
        try reader.finish()
    }

    public var messageJSON: JSONObject {
        [
            "delegation": delegation.jsonHex, "payee": .string(payee.checksummed), "token": .string(token.checksummed),
            "cumulative": .string(String(cumulative)), "sequence": .number(String(sequence)), "memo": memo.jsonHex,
        ]
    }

    public func structHash() -> [UInt8] {
        var hasher = StructHasher(typeHash: Self.typeHash)
        hasher.add(word: delegation)
        hasher.add(payee)
        hasher.add(token)
        hasher.add(cumulative)
        hasher.add(sequence)
        hasher.add(word: memo)
        return hasher.finalize()
    }
}
