/// Recursive Length Prefix, Ethereum's serialisation (Yellow Paper appendix B).
public indirect enum RLP: Equatable, Sendable {
    case bytes([UInt8])
    case list([RLP])

    public static let maxDepth = 64

    public func encoded() -> [UInt8] {
        var out = [UInt8]()
        encode(into: &out)
        return out
    }

    func encode(into out: inout [UInt8]) {
        switch self {
        case .bytes(let bytes):
            if bytes.count == 1 && bytes[0] < 0x80 {
                out.append(bytes[0])
            } else {
                Self.appendLength(bytes.count, offset: 0x80, into: &out)
                out += bytes
            }
        case .list(let items):
            var body = [UInt8]()
            for item in items { item.encode(into: &body) }
            Self.appendLength(body.count, offset: 0xC0, into: &out)
            out += body
        }
    }

    static func appendLength(_ length: Int, offset: UInt8, into out: inout [UInt8]) {
        if length < 56 {
            out.append(offset + UInt8(length))
        } else {
            let be = bigEndianMinimal(UInt64(length))
            out.append(offset + 55 + UInt8(be.count))
            out += be
        }
    }

    /// Decodes exactly one item spanning all of `input`; non-canonical encodings are refused.
    public static func decode(_ input: [UInt8]) throws(EthereumError) -> RLP {
        var cursor = 0
        let item = try decodeItem(input, &cursor, end: input.count, depth: 0)
        guard cursor == input.count else { throw .invalidRLP("\(input.count - cursor) trailing bytes") }
        return item
    }

    private static func decodeItem(_ input: [UInt8], _ cursor: inout Int, end: Int, depth: Int) throws(EthereumError) -> RLP {
        guard depth < maxDepth else { throw .invalidRLP("nested deeper than \(maxDepth)") }
        guard cursor < end else { throw .invalidRLP("unexpected end of input") }
        let prefix = input[cursor]
        cursor += 1
        switch prefix {
        case 0x00...0x7F:
            return .bytes([prefix])
        case 0x80...0xBF:
            let length = try readLength(input, &cursor, end: end, prefix: prefix, offset: 0x80)
            let bytes = Array(input[cursor..<cursor + length])
            if length == 1 && bytes[0] < 0x80 { throw .invalidRLP("single byte below 0x80 must encode as itself") }
            cursor += length
            return .bytes(bytes)
        default:
            let length = try readLength(input, &cursor, end: end, prefix: prefix, offset: 0xC0)
            let listEnd = cursor + length
            var items: [RLP] = []
            while cursor < listEnd { items.append(try decodeItem(input, &cursor, end: listEnd, depth: depth + 1)) }
            return .list(items)
        }
    }

    private static func readLength(
        _ input: [UInt8], _ cursor: inout Int, end: Int, prefix: UInt8, offset: UInt8
    ) throws(EthereumError) -> Int {
        let short = Int(prefix - offset)
        var length: Int
        if short <= 55 {
            length = short
        } else {
            let lengthOfLength = short - 55
            guard cursor + lengthOfLength <= end else { throw .invalidRLP("truncated length") }
            guard input[cursor] != 0 else { throw .invalidRLP("length with leading zero") }
            guard lengthOfLength <= 4 else { throw .invalidRLP("length too large") }
            length = 0
            for byte in input[cursor..<cursor + lengthOfLength] { length = length << 8 | Int(byte) }
            guard length >= 56 else { throw .invalidRLP("long form used for a short length") }
            cursor += lengthOfLength
        }
        guard length <= end - cursor else { throw .invalidRLP("item runs past the end of its input") }
        return length
    }

    public var bytesValue: [UInt8]? { if case .bytes(let b) = self { b } else { nil } }
    public var listValue: [RLP]? { if case .list(let l) = self { l } else { nil } }
}

/// Big-endian bytes without leading zeros (zero is the empty string), as RLP encodes integers.
func bigEndianMinimal(_ value: UInt64) -> [UInt8] {
    var out = [UInt8]()
    var v = value
    while v > 0 { out.insert(UInt8(v & 0xFF), at: 0); v >>= 8 }
    return out
}
