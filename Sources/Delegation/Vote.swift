import BigInt
import Ethereum

/// `Vote(bytes32 delegation,bytes32 content,uint8 kind,int16 value,string reason,uint64 issuedAt)`,
/// signed by a poster. `kind` is a scope bit: 1 rate (value 1…5), 2 flag (1 raise, -1 withdraw),
/// 4 moderate (value an action code).
public struct Vote: TypedMessage {
    public static let typeName = "Vote"
    public static let fields: [(name: String, type: String)] = [
        ("delegation", "bytes32"), ("content", "bytes32"), ("kind", "uint8"), ("value", "int16"),
        ("reason", "string"), ("issuedAt", "uint64"),
    ]
    static let typeHash = Keccak256.hash(encodeType)

    public var delegation: [UInt8]
    public var content: [UInt8]
    public var kind: UInt8
    public var value: Int16
    public var reason: String
    public var issuedAt: UInt64

    public init(delegation: [UInt8], content: [UInt8], kind: UInt8, value: Int16, reason: String, issuedAt: UInt64) {
        self.delegation = delegation; self.content = content; self.kind = kind
        self.value = value; self.reason = reason; self.issuedAt = issuedAt
    }

    public init(message: JSONObject) throws(DelegationError) {
        var reader = FieldReader(message, context: Self.typeName)
        delegation = try reader.bytes32("delegation")
        content = try reader.bytes32("content")
        kind = UInt8(try reader.uint("kind", bits: 8))
        value = Int16(try reader.int("value", bits: 16))
        reason = try reader.string("reason")
        issuedAt = try reader.uint64("issuedAt")
        try reader.finish()
    }

    public var messageJSON: JSONObject {
        [
            "delegation": delegation.jsonHex, "content": content.jsonHex, "kind": .number(String(kind)),
            "value": .number(String(value)), "reason": .string(reason), "issuedAt": .number(String(issuedAt)),
        ]
    }

    public func structHash() -> [UInt8] {
        var hasher = StructHasher(typeHash: Self.typeHash)
        hasher.add(word: delegation)
        hasher.add(word: content)
        hasher.add(UInt64(kind))
        hasher.add(signed: Int64(value))
        hasher.add(string: reason)
        hasher.add(issuedAt)
        return hasher.finalize()
    }

    /// Whether `value` means something for `kind`.
    public var hasValidValue: Bool {
        switch Scopes(rawValue: UInt32(kind)) {
        case .rate: (1...5).contains(value)
        case .flag: value == 1 || value == -1
        case .moderate: true
        default: false
        }
    }
}
