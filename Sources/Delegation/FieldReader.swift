import BigInt
import Ethereum

/// Reads a typed message's JSON strictly: every declared field once, nothing undeclared, values
/// in the forms EIP-712 wallets use (integers as numbers, decimal or 0x-hex strings).
struct FieldReader {
    private let object: JSONObject
    private let context: String
    private var consumed = Set<String>()

    init(_ object: JSONObject, context: String) {
        self.object = object
        self.context = context
    }

    private mutating func value(_ name: String) throws(DelegationError) -> JSONValue {
        guard let value = object[name] else { throw .malformed("\(context).\(name) is missing") }
        consumed.insert(name)
        return value
    }

    func fail(_ name: String, _ why: String) -> DelegationError { .malformed("\(context).\(name) \(why)") }

    mutating func string(_ name: String) throws(DelegationError) -> String {
        guard case .string(let text) = try value(name) else { throw fail(name, "must be a string") }
        return text
    }

    mutating func address(_ name: String) throws(DelegationError) -> Address {
        try Self.address(try value(name), fail(name, "must be an address"))
    }

    static func address(_ value: JSONValue, _ failure: DelegationError) throws(DelegationError) -> Address {
        guard case .string(let text) = value, let address = try? Address(text) else { throw failure }
        return address
    }

    mutating func uint(_ name: String, bits: Int) throws(DelegationError) -> BigUInt {
        guard let parsed = IntegerText.parseUnsigned(try value(name), bits: bits) else { throw fail(name, "must be a uint\(bits)") }
        return parsed
    }

    mutating func uint64(_ name: String) throws(DelegationError) -> UInt64 { UInt64(try uint(name, bits: 64)) }

    mutating func int(_ name: String, bits: Int) throws(DelegationError) -> Int64 {
        let limit = BigInt(1) << (bits - 1)
        guard let parsed = IntegerText.parse(try value(name)), parsed >= -limit, parsed < limit else {
            throw fail(name, "must be an int\(bits)")
        }
        return Int64(parsed)
    }

    mutating func bytes32(_ name: String) throws(DelegationError) -> [UInt8] {
        guard case .string(let text) = try value(name), text.hasPrefix("0x"), let bytes = try? [UInt8](hex: text), bytes.count == 32 else {
            throw fail(name, "must be 32 bytes of 0x-hex")
        }
        return bytes
    }

    mutating func array(_ name: String) throws(DelegationError) -> [JSONValue] {
        guard case .array(let items) = try value(name) else { throw fail(name, "must be an array") }
        return items
    }

    /// Refuses members the type does not declare: what is signed is exactly what is shown.
    func finish() throws(DelegationError) {
        for key in object.keys where !consumed.contains(key) {
            throw .malformed("\(context) has no field \"\(key)\"")
        }
    }
}
