import BigInt

/// ABI values as JSON, the way JSON-RPC tools write them: integers as decimal or 0x strings (or
/// numbers), addresses and bytes as 0x hex, booleans, strings, arrays and tuples as JSON arrays.
extension ABIValue {
    public init(json value: JSONValue, as type: ABIType) throws(EthereumError) {
        switch type {
        case .uint(let bits):
            guard let n = IntegerText.parseUnsigned(value, bits: bits) else { throw .invalidABI("\(type) must be a non-negative integer") }
            self = .uint(n)
        case .int:
            guard let n = IntegerText.parse(value) else { throw .invalidABI("\(type) must be an integer") }
            self = .int(n)
        case .address:
            guard case .string(let text) = value else { throw .invalidABI("address must be a 0x string") }
            self = .address(try Address(text))
        case .bool:
            guard case .bool(let flag) = value else { throw .invalidABI("bool must be true or false") }
            self = .bool(flag)
        case .fixedBytes, .bytes:
            guard case .string(let text) = value else { throw .invalidABI("\(type) must be a 0x hex string") }
            self = .bytes(try [UInt8](hex: text))
        case .string:
            guard case .string(let text) = value else { throw .invalidABI("string must be a JSON string") }
            self = .string(text)
        case .array(let element), .fixedArray(let element, _):
            guard case .array(let items) = value else { throw .invalidABI("\(type) must be a JSON array") }
            var values: [ABIValue] = []
            for item in items { values.append(try ABIValue(json: item, as: element)) }
            self = .array(values)
        case .tuple(let types):
            guard case .array(let items) = value, items.count == types.count else {
                throw .invalidABI("\(type) must be an array of \(types.count)")
            }
            var values: [ABIValue] = []
            for (item, member) in zip(items, types) { values.append(try ABIValue(json: item, as: member)) }
            self = .tuple(values)
        }
    }

    /// Integers as decimal strings, so no reader loses precision.
    public var json: JSONValue {
        switch self {
        case .uint(let n): .string(String(n))
        case .int(let n): .string(String(n))
        case .address(let address): .string(address.checksummed)
        case .bool(let flag): .bool(flag)
        case .bytes(let bytes): .string(bytes.hexString)
        case .string(let text): .string(text)
        case .array(let items), .tuple(let items): .array(items.map(\.json))
        }
    }
}
