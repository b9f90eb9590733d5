/// EIP-712 typed structured data in its `eth_signTypedData_v4` JSON form `{types, primaryType, domain, message}`.
///
/// Parsing validates the type definitions completely (unknown types, duplicate fields, cyclic
/// structs); hashing validates values against them (missing or undeclared fields, ranges, lengths).
public struct TypedData: Sendable {
    public let json: JSONValue
    public let primaryType: String
    public let domain: JSONObject
    public let message: JSONObject
    let structs: [String: [EIP712Field]]
    /// keccak256(encodeType) of every struct, computed once at parse time: hashing reuses them.
    private let typeHashes: [String: [UInt8]]

    public static let domainTypeName = "EIP712Domain"
    /// Hostile documents must not make parsing slow: every struct's type hash covers all the structs it
    /// references, so a long chain of structs costs their number squared. Real documents define a handful.
    public static let maxStructs = 256
    public static let maxEncodeTypeBytes = 1 << 20

    public init(json: JSONValue) throws(EthereumError) {
        guard case .object(let root) = json else { throw .invalidTypedData("expected a JSON object") }
        for key in root.keys where !["types", "primaryType", "domain", "message"].contains(key) {
            throw .invalidTypedData("unexpected member \"\(key)\"")
        }
        guard case .object(let typesObject) = root["types"] else { throw .invalidTypedData("missing types object") }
        guard case .string(let primaryType) = root["primaryType"] else { throw .invalidTypedData("missing primaryType") }
        guard case .object(let domain) = root["domain"] else { throw .invalidTypedData("missing domain object") }
        guard case .object(let message) = root["message"] else { throw .invalidTypedData("missing message object") }

        guard typesObject.members.count <= Self.maxStructs else {
            throw .invalidTypedData("more than \(Self.maxStructs) struct types")
        }
        let names = Set(typesObject.keys)
        var structs: [String: [EIP712Field]] = [:]
        for (name, definition) in typesObject.members {
            guard EIP712Type.isValidStructName(name) else { throw .invalidTypedData("invalid struct name \"\(name)\"") }
            if (try? EIP712Type(parsing: name, structs: [])) != nil {
                throw .invalidTypedData("struct name \(name) shadows an atomic type")
            }
            guard case .array(let members) = definition else { throw .invalidTypedData("type \(name) must be an array of fields") }
            var fields: [EIP712Field] = []
            var seen = Set<String>()
            for member in members {
                guard case .object(let field) = member, field.keys.count == 2,
                    case .string(let fieldName) = field["name"], case .string(let typeName) = field["type"]
                else { throw .invalidTypedData("field of \(name) must be {name, type}") }
                guard !fieldName.isEmpty, seen.insert(fieldName).inserted else {
                    throw .invalidTypedData("duplicate or empty field name \"\(fieldName)\" in \(name)")
                }
                fields.append(EIP712Field(name: fieldName, typeName: typeName, type: try EIP712Type(parsing: typeName, structs: names)))
            }
            structs[name] = fields
        }
        guard structs[Self.domainTypeName] != nil else { throw .invalidTypedData("types must define EIP712Domain") }
        guard structs[primaryType] != nil else { throw .invalidTypedData("primaryType \(primaryType) is not defined in types") }
        try Self.rejectCycles(structs)

        self.json = json
        self.primaryType = primaryType
        self.domain = domain
        self.message = message
        self.structs = structs
        var hashes: [String: [UInt8]] = [:]
        var budget = Self.maxEncodeTypeBytes
        for name in structs.keys {
            let encoded = Self.encodeType(name, structs)
            budget -= encoded.utf8.count
            guard budget >= 0 else {
                throw .invalidTypedData("type definitions expand past \(Self.maxEncodeTypeBytes) bytes of encodeType")
            }
            hashes[name] = Keccak256.hash(encoded)
        }
        self.typeHashes = hashes
    }

    public init(parsing text: String) throws(EthereumError) {
        try self.init(json: try JSONValue.parse(text))
    }

    public init(parsing bytes: [UInt8]) throws(EthereumError) {
        try self.init(json: try JSONValue.parse(bytes))
    }

    /// A struct that contains itself without a dynamic array in between has no finite value.
    private static func rejectCycles(_ structs: [String: [EIP712Field]]) throws(EthereumError) {
        var state: [String: Bool] = [:]  // false = on the current path, true = done
        func visit(_ name: String) throws(EthereumError) {
            if state[name] == true { return }
            if state[name] == false { throw .invalidTypedData("cyclic type \(name): it contains itself and has no finite value") }
            state[name] = false
            for field in structs[name] ?? [] {
                if let ref = field.type.referencedStruct, !ref.throughDynamicArray { try visit(ref.name) }
            }
            state[name] = true
        }
        for name in structs.keys.sorted() { try visit(name) }
    }

    // MARK: - Hashing

    /// keccak256(0x19 0x01 ‖ domainSeparator ‖ hashStruct(message)), the value that gets signed.
    public func digest() throws(EthereumError) -> [UInt8] {
        var preimage: [UInt8] = [0x19, 0x01]
        preimage += try domainSeparator()
        if primaryType != Self.domainTypeName {
            preimage += try hashStruct(primaryType, message)
        }
        return Keccak256.hash(preimage)
    }

    public func domainSeparator() throws(EthereumError) -> [UInt8] {
        try hashStruct(Self.domainTypeName, domain)
    }

    public func hashStruct(_ typeName: String, _ value: JSONObject) throws(EthereumError) -> [UInt8] {
        Keccak256.hash(try encodeData(typeName, value))
    }

    public func typeHash(_ typeName: String) throws(EthereumError) -> [UInt8] {
        guard let hash = typeHashes[typeName] else { throw .invalidTypedData("unknown type \(typeName)") }
        return hash
    }

    /// `Name(type field,…)` followed by every struct it references, sorted by name.
    public func encodeType(_ typeName: String) throws(EthereumError) -> String {
        guard structs[typeName] != nil else { throw .invalidTypedData("unknown type \(typeName)") }
        return Self.encodeType(typeName, structs)
    }

    private static func encodeType(_ typeName: String, _ structs: [String: [EIP712Field]]) -> String {
        var found = Set<String>()
        func collect(_ name: String) {
            guard found.insert(name).inserted else { return }
            for field in structs[name] ?? [] { if let ref = field.type.referencedStruct { collect(ref.name) } }
        }
        collect(typeName)
        found.remove(typeName)
        return ([typeName] + found.sorted()).map { name in
            name + "(" + structs[name]!.map { "\($0.typeName) \($0.name)" }.joined(separator: ",") + ")"
        }.joined()
    }

    func encodeData(_ typeName: String, _ value: JSONObject) throws(EthereumError) -> [UInt8] {
        guard let fields = structs[typeName] else { throw .invalidTypedData("unknown type \(typeName)") }
        for key in value.keys where !fields.contains(where: { $0.name == key }) {
            throw .invalidTypedData("\(typeName) has no field \"\(key)\"")
        }
        var out = try typeHash(typeName)
        out.reserveCapacity(32 * (fields.count + 1))
        for field in fields {
            guard let member = value[field.name] else { throw .invalidTypedData("\(typeName).\(field.name) is missing") }
            out += try encodeValue(field.type, member, path: "\(typeName).\(field.name)")
        }
        return out
    }

    /// The 32-byte word a value contributes to its parent's encoding.
    func encodeValue(_ type: EIP712Type, _ value: JSONValue, path: @autoclosure () -> String) throws(EthereumError) -> [UInt8] {
        switch type {
        case .structure(let name):
            guard case .object(let object) = value else { throw .invalidTypedData("\(path()) must be an object") }
            return try hashStruct(name, object)
        case .array(let element, let count):
            guard case .array(let items) = value else { throw .invalidTypedData("\(path()) must be an array") }
            if let count, items.count != count {
                throw .invalidTypedData("\(path()) must have exactly \(count) items, has \(items.count)")
            }
            var concatenated: [UInt8] = []
            concatenated.reserveCapacity(32 * items.count)
            for (i, item) in items.enumerated() {
                concatenated += try encodeValue(element, item, path: "\(path())[\(i)]")
            }
            return Keccak256.hash(concatenated)
        case .string:
            guard case .string(let text) = value else { throw .invalidTypedData("\(path()) must be a string") }
            return Keccak256.hash(Array(text.utf8))
        case .bytes:
            return Keccak256.hash(try EIP712Value.hexBytes(value, path: path()))
        default:
            return try EIP712Value.atomicWord(type, value, path: path())
        }
    }
}
