import BigInt
import Ethereum
import Foundation

/// Scope bits of a posting delegation; a vote's `kind` takes the same values.
public struct Scopes: OptionSet, Sendable, Hashable {
    public let rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }
    public static let rate = Scopes(rawValue: 1)
    public static let flag = Scopes(rawValue: 2)
    public static let moderate = Scopes(rawValue: 4)
    public static let all: Scopes = [.rate, .flag, .moderate]

    public static let names: [(String, Scopes)] = [("rate", .rate), ("flag", .flag), ("moderate", .moderate)]

    public var names: [String] { Self.names.filter { contains($0.1) }.map(\.0) }

    /// Parses `rate,flag,moderate` (any non-empty subset, any order).
    public init(parsing text: String) throws(DelegationError) {
        var scopes: Scopes = []
        for name in text.split(separator: ",") {
            let trimmed = name.trimmingCharacters(in: .whitespaces)
            guard let scope = Self.names.first(where: { $0.0 == trimmed })?.1 else {
                throw .malformed("unknown scope \(trimmed) (rate, flag, moderate)")
            }
            scopes.insert(scope)
        }
        guard !scopes.isEmpty else { throw .malformed("no scope named (rate, flag, moderate)") }
        self = scopes
    }
}

/// `PostingDelegation(bytes32 parent,address spender,address poster,uint32 scopes,uint64 validAfter,uint64 validUntil,uint256 salt)`,
/// signed by the spender; `parent` is the id of its SpendingDelegation.
public struct PostingDelegation: TypedMessage {
    public static let typeName = "PostingDelegation"
    public static let fields: [(name: String, type: String)] = [
        ("parent", "bytes32"), ("spender", "address"), ("poster", "address"), ("scopes", "uint32"),
        ("validAfter", "uint64"), ("validUntil", "uint64"), ("salt", "uint256"),
    ]
    static let typeHash = Keccak256.hash(encodeType)

    public var parent: [UInt8]
    public var spender: Address
    public var poster: Address
    public var scopes: Scopes
    public var validAfter: UInt64
    public var validUntil: UInt64
    public var salt: BigUInt

    public init(parent: [UInt8], spender: Address, poster: Address, scopes: Scopes, validAfter: UInt64, validUntil: UInt64, salt: BigUInt) {
        self.parent = parent; self.spender = spender; self.poster = poster; self.scopes = scopes
        self.validAfter = validAfter; self.validUntil = validUntil; self.salt = salt
    }

    public init(message: JSONObject) throws(DelegationError) {
        var reader = FieldReader(message, context: Self.typeName)
        parent = try reader.bytes32("parent")
        spender = try reader.address("spender")
        poster = try reader.address("poster")
        scopes = Scopes(rawValue: UInt32(try reader.uint("scopes", bits: 32)))
        validAfter = try reader.uint64("validAfter")
        validUntil = try reader.uint64("validUntil")
        salt = try reader.uint("salt", bits: 256)
        try reader.finish()
    }

    public var messageJSON: JSONObject {
        [
            "parent": parent.jsonHex, "spender": .string(spender.checksummed), "poster": .string(poster.checksummed),
            "scopes": .number(String(scopes.rawValue)), "validAfter": .number(String(validAfter)),
            "validUntil": .number(String(validUntil)), "salt": .string(String(salt)),
        ]
    }

    public func structHash() -> [UInt8] {
        var hasher = StructHasher(typeHash: Self.typeHash)
        hasher.add(word: parent)
        hasher.add(spender)
        hasher.add(poster)
        hasher.add(UInt64(scopes.rawValue))
        hasher.add(validAfter)
        hasher.add(validUntil)
        hasher.add(salt)
        return hasher.finalize()
    }
}
