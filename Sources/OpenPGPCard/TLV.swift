/// A BER-TLV parser for card responses. Card output is untrusted input: every length is checked
/// against what remains, nesting depth is bounded, and malformed data throws instead of trapping.
public struct TLV: Hashable, Sendable {
    /// The tag with its continuation bytes, e.g. 0x7F49, 0x5F52, 0x4F.
    public let tag: UInt32
    public let value: [UInt8]

    public init(tag: UInt32, value: [UInt8]) {
        self.tag = tag
        self.value = value
    }

    /// Bit 6 of the first tag byte: the value is itself a sequence of TLVs.
    public var isConstructed: Bool {
        var first = tag
        while first > 0xFF { first >>= 8 }
        return first & 0x20 != 0
    }

    public struct ParseError: Error, Equatable, Sendable, CustomStringConvertible {
        public let reason: String
        public var description: String { "malformed BER-TLV: \(reason)" }
    }

    public static let maxDepth = 8

    /// Parses a sequence of TLVs. Trailing 00 or FF padding between objects is skipped.
    public static func parse(_ bytes: [UInt8]) throws(ParseError) -> [TLV] {
        var index = 0
        var out: [TLV] = []
        while index < bytes.count {
            if bytes[index] == 0x00 || bytes[index] == 0xFF { index += 1; continue }
            out.append(try parseOne(bytes, at: &index))
        }
        return out
    }

    private static func parseOne(_ b: [UInt8], at index: inout Int) throws(ParseError) -> TLV {
        // Tag.
        var tag = UInt32(b[index])
        index += 1
        if tag & 0x1F == 0x1F {
            var count = 0
            repeat {
                guard index < b.count else { throw ParseError(reason: "truncated tag") }
                count += 1
                guard count <= 3 else { throw ParseError(reason: "tag too long") }
                tag = tag << 8 | UInt32(b[index])
                index += 1
            } while b[index - 1] & 0x80 != 0
        }
        // Length.
        guard index < b.count else { throw ParseError(reason: "missing length") }
        var length = Int(b[index])
        index += 1
        if length == 0x80 { throw ParseError(reason: "indefinite length") }
        if length > 0x80 {
            let n = length & 0x7F
            guard n <= 3 else { throw ParseError(reason: "length field too long") }
            guard index + n <= b.count else { throw ParseError(reason: "truncated length") }
            length = 0
            for _ in 0..<n { length = length << 8 | Int(b[index]); index += 1 }
        }
        guard length <= b.count - index else {
            throw ParseError(reason: "value of \(length) bytes overruns the \(b.count - index) left")
        }
        let value = Array(b[index..<(index + length)])
        index += length
        return TLV(tag: tag, value: value)
    }

    /// The children of a constructed object.
    public func children() throws(ParseError) -> [TLV] {
        guard isConstructed else { throw ParseError(reason: "tag \(String(tag, radix: 16)) is primitive") }
        return try TLV.parse(value)
    }

    /// Depth-first search for `tag` through constructed objects.
    public static func find(_ tag: UInt32, in objects: [TLV], depth: Int = 0) -> TLV? {
        guard depth < maxDepth else { return nil }
        for object in objects {
            if object.tag == tag { return object }
            if object.isConstructed, let inner = try? object.children(),
                let hit = find(tag, in: inner, depth: depth + 1)
            {
                return hit
            }
        }
        return nil
    }

    /// Encodes one object (definite length, up to 3 length bytes).
    public var encoded: [UInt8] {
        var out: [UInt8] = []
        var t = tag
        var tagBytes: [UInt8] = []
        repeat { tagBytes.insert(UInt8(t & 0xFF), at: 0); t >>= 8 } while t > 0
        out += tagBytes
        out += TLV.encodeLength(value.count)
        out += value
        return out
    }

    public static func encodeLength(_ n: Int) -> [UInt8] {
        if n < 0x80 { return [UInt8(n)] }
        if n <= 0xFF { return [0x81, UInt8(n)] }
        if n <= 0xFFFF { return [0x82, UInt8(n >> 8), UInt8(n & 0xFF)] }
        return [0x83, UInt8((n >> 16) & 0xFF), UInt8((n >> 8) & 0xFF), UInt8(n & 0xFF)]
    }
}
