import BigInt

/// Encoding of atomic EIP-712 values into 32-byte words, with the strict input rules of the core:
/// integers as JSON integers, decimal strings or 0x-hex strings, range-checked for their width.
enum EIP712Value {
    static func atomicWord(_ type: EIP712Type, _ value: JSONValue, path: @autoclosure () -> String) throws(EthereumError) -> [UInt8] {
        switch type {
        case .bool:
            guard case .bool(let flag) = value else { throw .invalidTypedData("\(path()) must be true or false") }
            return word(flag ? 1 : 0)
        case .address:
            guard case .string(let text) = value else { throw .invalidTypedData("\(path()) must be an address string") }
            let address: Address
            do { address = try Address(text) } catch { throw .invalidTypedData("\(path()): \(error)") }
            return [UInt8](repeating: 0, count: 12) + address.bytes
        case .fixedBytes(let size):
            let bytes = try hexBytes(value, path: path())
            guard bytes.count == size else { throw .invalidTypedData("\(path()) must be exactly \(size) bytes, got \(bytes.count)") }
            return bytes + [UInt8](repeating: 0, count: 32 - size)
        case .integer(let bits, let signed):
            return try integerWord(value, bits: bits, signed: signed, path: path())
        default:
            throw .invalidTypedData("\(path()) is not an atomic type")
        }
    }

    static func hexBytes(_ value: JSONValue, path: @autoclosure () -> String) throws(EthereumError) -> [UInt8] {
        guard case .string(let text) = value, text.hasPrefix("0x") || text.hasPrefix("0X") else {
            throw .invalidTypedData("\(path()) must be a 0x-hex string")
        }
        do { return try [UInt8](hex: text) } catch { throw .invalidTypedData("\(path()): \(error)") }
    }

    static func word(_ small: UInt8) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: 32)
        out[31] = small
        return out
    }

    /// Parses an integer and range-checks it for intN/uintN; negatives become two's complement.
    static func integerWord(_ value: JSONValue, bits: Int, signed: Bool, path: @autoclosure () -> String) throws(EthereumError) -> [UInt8] {
        let parsed = try parseInteger(value, path: path())
        let limit = BigInt(1) << (signed ? bits - 1 : bits)
        let minimum: BigInt = signed ? -limit : 0
        guard parsed >= minimum, parsed < limit else {
            throw .invalidTypedData("\(path()) = \(parsed) is out of range for \(signed ? "int" : "uint")\(bits)")
        }
        let magnitude = parsed >= 0 ? BigUInt(parsed) : BigUInt((BigInt(1) << 256) + parsed)
        return magnitude.word256
    }

    static func parseInteger(_ value: JSONValue, path: @autoclosure () -> String) throws(EthereumError) -> BigInt {
        guard let parsed = IntegerText.parse(value) else {
            throw .invalidTypedData("\(path()) must be an integer (number, decimal or 0x-hex string)")
        }
        return parsed
    }
}
