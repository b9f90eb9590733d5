import Ethereum
import Foundation

/// One of the wire contract's EIP-712 structs. Conformers hash themselves natively (no JSON on the
/// hot path); tests check the native hash against the generic `TypedData` one and against eth-account.
public protocol TypedMessage: Sendable, Equatable {
    /// The primary type's name, e.g. `Voucher`.
    static var typeName: String { get }
    /// Its fields in contract order, as `(name, type)`.
    static var fields: [(name: String, type: String)] { get }
    /// Struct types it references (only `Allowance` in this contract).
    static var referencedTypes: [(name: String, fields: [(name: String, type: String)])] { get }

    init(message: JSONObject) throws(DelegationError)
    var messageJSON: JSONObject { get }
    /// hashStruct(self) per EIP-712.
    func structHash() -> [UInt8]
}

extension TypedMessage {
    public static var referencedTypes: [(name: String, fields: [(name: String, type: String)])] { [] }

    static func signature(_ name: String, _ fields: [(name: String, type: String)]) -> String {
        name + "(" + fields.map { "\($0.type) \($0.name)" }.joined(separator: ",") + ")"
    }

    /// encodeType: the primary type, then referenced types sorted by name.
    public static var encodeType: String {
        signature(typeName, fields) + referencedTypes.sorted { $0.name < $1.name }.map { signature($0.name, $0.fields) }.joined()
    }

    /// The `types` member of the eth_signTypedData_v4 form, domain included. Built once per type:
    /// every envelope's JSON carries it.
    public static var typesJSON: JSONObject {
        if let known = TypesCache.shared.get(Self.self) { return known }
        func list(_ fields: [(name: String, type: String)]) -> JSONValue {
            .array(fields.map { .object(["name": .string($0.name), "type": .string($0.type)]) })
        }
        var types: JSONObject = ["EIP712Domain": list(Domain.fields), typeName: list(fields)]
        for referenced in referencedTypes { types[referenced.name] = list(referenced.fields) }
        TypesCache.shared.put(Self.self, types)
        return types
    }

    /// The id of a signed message: its EIP-712 digest under `domain`.
    public func digest(in domain: Domain) -> [UInt8] {
        StructHasher.digest(domainSeparator: domain.separator, structHash: structHash())
    }

    /// The full `{types, primaryType, domain, message}` object any EIP-712 tool can hash.
    public func typedData(in domain: Domain) -> JSONValue {
        .object([
            "types": .object(Self.typesJSON), "primaryType": .string(Self.typeName),
            "domain": .object(domain.json), "message": .object(messageJSON),
        ])
    }
}

/// Each message type's `typesJSON`, by type (a handful, never evicted).
final class TypesCache: @unchecked Sendable {
    static let shared = TypesCache()
    private let lock = NSLock()
    private var types: [ObjectIdentifier: JSONObject] = [:]
    func get(_ type: Any.Type) -> JSONObject? { lock.withLock { types[ObjectIdentifier(type)] } }
    func put(_ type: Any.Type, _ value: JSONObject) { lock.withLock { types[ObjectIdentifier(type)] = value } }
}

/// Hex for bytes32 fields.
extension Array where Element == UInt8 {
    var jsonHex: JSONValue { .string(hexString) }
}
