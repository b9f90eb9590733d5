import BigInt
import Foundation

/// A value of an `ABIType`. Fixed bytes and dynamic bytes share `.bytes`; the type says which.
public indirect enum ABIValue: Equatable, Sendable {
    case uint(BigUInt)
    case int(BigInt)
    case address(Address)
    case bool(Bool)
    case bytes([UInt8])
    case string(String)
    /// Elements of `T[]` and `T[k]`.
    case array([ABIValue])
    case tuple([ABIValue])
}

/// The contract ABI's encoding (Solidity ABI spec): heads and tails, offsets relative to the start of
/// the enclosing tuple. Decoding is strict, as calldata and return data come from outside: padding
/// must be zero, every offset and length must lie inside the data, values must fit their type.
public enum ABI {
    /// `selector(signature) ‖ encode(arguments)`: calldata for `signature` like `redeem((address,…),bytes)`.
    public static func call(_ signature: String, _ arguments: [ABIValue]) throws(EthereumError) -> [UInt8] {
        guard let open = signature.firstIndex(of: "(") else { throw .invalidABI("\(signature) is not a function signature") }
        let type = try ABIType(String(signature[open...]))
        guard case .tuple(let types) = type else { throw .invalidABI("\(signature) is not a function signature") }
        return selector(signature) + (try encode(arguments, as: types))
    }

    public static func selector(_ signature: String) -> [UInt8] { Array(Keccak256.hash(signature).prefix(4)) }

    /// The values as one tuple of `types`.
    public static func encode(_ values: [ABIValue], as types: [ABIType]) throws(EthereumError) -> [UInt8] {
        try encode(.tuple(values), as: .tuple(types))
    }

    public static func decode(_ data: [UInt8], as types: [ABIType]) throws(EthereumError) -> [ABIValue] {
        guard case .tuple(let values) = try decode(data[...], as: .tuple(types), depth: 0) else { return [] }
        return values
    }

    // MARK: Encoding

    static func encode(_ value: ABIValue, as type: ABIType) throws(EthereumError) -> [UInt8] {
        switch (type, value) {
        case (.uint(let bits), .uint(let n)):
            guard n.bitWidth <= bits else { throw .invalidABI("\(n) does not fit uint\(bits)") }
            return word(n)
        case (.int(let bits), .int(let n)):
            let limit = BigInt(1) << (bits - 1)
            guard n >= -limit, n < limit else { throw .invalidABI("\(n) does not fit int\(bits)") }
            return word(n >= 0 ? BigUInt(n) : BigUInt((BigInt(1) << 256) + n))
        case (.address, .address(let address)):
            return [UInt8](repeating: 0, count: 12) + address.bytes
        case (.bool, .bool(let flag)):
            return word(flag ? 1 : 0)
        case (.fixedBytes(let size), .bytes(let bytes)):
            guard bytes.count == size else { throw .invalidABI("bytes\(size) given \(bytes.count) bytes") }
            return padded(bytes)
        case (.bytes, .bytes(let bytes)):
            return word(BigUInt(bytes.count)) + padded(bytes)
        case (.string, .string(let text)):
            return word(BigUInt(text.utf8.count)) + padded(Array(text.utf8))
        case (.fixedArray(let element, let count), .array(let items)):
            guard items.count == count else { throw .invalidABI("\(type) given \(items.count) elements") }
            return try encodeSequence(items, Array(repeating: element, count: count))
        case (.array(let element), .array(let items)):
            return word(BigUInt(items.count)) + (try encodeSequence(items, Array(repeating: element, count: items.count)))
        case (.tuple(let types), .tuple(let items)):
            guard items.count == types.count else { throw .invalidABI("\(type) given \(items.count) members") }
            return try encodeSequence(items, types)
        default:
            throw .invalidABI("a value of the wrong kind for \(type)")
        }
    }

    /// Heads in order, dynamic members as offsets from the sequence's start to their tails.
    static func encodeSequence(_ values: [ABIValue], _ types: [ABIType]) throws(EthereumError) -> [UInt8] {
        var head: [UInt8] = []
        var tail: [UInt8] = []
        let headSize = types.reduce(0) { $0 + $1.headSize }
        for (value, type) in zip(values, types) {
            let encoded = try encode(value, as: type)
            if type.isDynamic {
                head += word(BigUInt(headSize + tail.count))
                tail += encoded
            } else {
                head += encoded
            }
        }
        return head + tail
    }

    static func word(_ n: BigUInt) -> [UInt8] {
        let bytes = Array(n.serialize())
        return [UInt8](repeating: 0, count: 32 - bytes.count) + bytes
    }

    static func padded(_ bytes: [UInt8]) -> [UInt8] {
        bytes + [UInt8](repeating: 0, count: (32 - bytes.count % 32) % 32)
    }

    // MARK: Decoding

    static func decode(_ data: ArraySlice<UInt8>, as type: ABIType, depth: Int) throws(EthereumError) -> ABIValue {
        guard depth <= ABIType.maxDepth else { throw .invalidABI("nested too deep") }
        switch type {
        case .uint(let bits):
            let n = BigUInt(Data(try wordAt(data, 0)))
            guard n.bitWidth <= bits else { throw .invalidABI("value does not fit uint\(bits)") }
            return .uint(n)
        case .int(let bits):
            let raw = BigUInt(Data(try wordAt(data, 0)))
            let signed = raw.bitWidth == 256 ? BigInt(raw) - (BigInt(1) << 256) : BigInt(raw)
            let limit = BigInt(1) << (bits - 1)
            guard signed >= -limit, signed < limit else { throw .invalidABI("value does not fit int\(bits)") }
            return .int(signed)
        case .address:
            let raw = try wordAt(data, 0)
            guard raw.prefix(12).allSatisfy({ $0 == 0 }) else { throw .invalidABI("address with dirty high bytes") }
            return .address(try Address(bytes: Array(raw.suffix(20))))
        case .bool:
            let raw = try wordAt(data, 0)
            guard raw.dropLast().allSatisfy({ $0 == 0 }), raw.last! <= 1 else { throw .invalidABI("bool neither 0 nor 1") }
            return .bool(raw.last! == 1)
        case .fixedBytes(let size):
            let raw = try wordAt(data, 0)
            guard raw.suffix(32 - size).allSatisfy({ $0 == 0 }) else { throw .invalidABI("bytes\(size) with dirty padding") }
            return .bytes(Array(raw.prefix(size)))
        case .bytes, .string:
            let length = try count(data, 0, limit: data.count - 32)
            let start = data.startIndex + 32
            let content = Array(data[start..<start + length])
            let padding = (32 - length % 32) % 32
            guard data.count >= 32 + length + padding, data[(start + length)..<(start + length + padding)].allSatisfy({ $0 == 0 }) else {
                throw .invalidABI("\(type) with missing or dirty padding")
            }
            if case .bytes = type { return .bytes(content) }
            guard let text = String(validating: content, as: UTF8.self) else { throw .invalidABI("string is not UTF-8") }
            return .string(text)
        case .fixedArray(let element, let n):
            return .array(try decodeSequence(data, Array(repeating: element, count: n), depth: depth))
        case .array(let element):
            // Each element takes at least one word of the data: a length beyond that is a lie.
            let n = try count(data, 0, limit: (data.count - 32) / 32)
            return .array(try decodeSequence(data.dropFirst(32), Array(repeating: element, count: n), depth: depth))
        case .tuple(let types):
            return .tuple(try decodeSequence(data, types, depth: depth))
        }
    }

    static func decodeSequence(_ data: ArraySlice<UInt8>, _ types: [ABIType], depth: Int) throws(EthereumError) -> [ABIValue] {
        var values: [ABIValue] = []
        var position = 0
        for type in types {
            if type.isDynamic {
                let offset = try count(data, position, limit: data.count)
                values.append(try decode(data.dropFirst(offset), as: type, depth: depth + 1))
            } else {
                guard data.count >= position + type.headSize else { throw .invalidABI("data too short for \(type)") }
                values.append(try decode(data.dropFirst(position), as: type, depth: depth + 1))
            }
            position += type.headSize
        }
        return values
    }

    static func wordAt(_ data: ArraySlice<UInt8>, _ position: Int) throws(EthereumError) -> [UInt8] {
        guard position >= 0, data.count >= position + 32 else { throw .invalidABI("data too short") }
        let start = data.startIndex + position
        return Array(data[start..<start + 32])
    }

    /// A length or offset word, at most `limit`.
    static func count(_ data: ArraySlice<UInt8>, _ position: Int, limit: Int) throws(EthereumError) -> Int {
        let raw = try wordAt(data, position)
        guard raw.prefix(24).allSatisfy({ $0 == 0 }) else { throw .invalidABI("length or offset out of range") }
        let n = raw.suffix(8).reduce(0) { ($0 << 8) | Int($1) }
        guard n >= 0, n <= max(limit, 0) else { throw .invalidABI("length or offset out of range") }
        return n
    }
}
