import BigInt

/// Integers as wallets hand them over in JSON: an integer literal, a decimal string (optionally
/// negative) or a 0x-hex string. Fractions, exponents, blanks and absurd lengths are refused.
public enum IntegerText {
    public static func parse(_ value: JSONValue) -> BigInt? {
        switch value {
        case .number(let literal): parse(literal)
        case .string(let string): parse(string)
        default: nil
        }
    }

    public static func parse(_ text: String) -> BigInt? {
        var body = Substring(text)
        let negative = body.hasPrefix("-")
        if negative { body = body.dropFirst() }
        guard body.utf8.count <= 80 else { return nil }
        let magnitude: BigUInt?
        if body.hasPrefix("0x") || body.hasPrefix("0X") {
            let digits = body.dropFirst(2)
            magnitude = !digits.isEmpty && digits.utf8.allSatisfy({ [UInt8].nibble($0) != nil }) ? BigUInt(digits, radix: 16) : nil
        } else {
            let decimal = !body.isEmpty && body.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 })
            // Up to 19 digits fit a UInt64: parsed there, without BigUInt's general conversion.
            magnitude = !decimal ? nil : body.utf8.count <= 19 ? UInt64(body).map { BigUInt($0) } : BigUInt(body, radix: 10)
        }
        guard let magnitude else { return nil }
        return negative ? -BigInt(magnitude) : BigInt(magnitude)
    }

    /// A non-negative integer that fits in `bits` bits.
    public static func parseUnsigned(_ value: JSONValue, bits: Int = 256) -> BigUInt? {
        guard let parsed = parse(value), parsed.sign == .plus, parsed.magnitude.bitWidth <= bits else { return nil }
        return parsed.magnitude
    }

    /// JSON-RPC quantity: 0x-prefixed minimal hex.
    public static func quantity(_ value: BigUInt) -> String {
        "0x" + String(value, radix: 16)
    }
}

extension BigUInt {
    /// Exactly 32 big-endian bytes (the value must fit in 256 bits).
    public var word256: [UInt8] {
        let raw = Array(serialize())
        return [UInt8](repeating: 0, count: 32 - raw.count) + raw
    }

    /// Big-endian bytes without leading zeros, as RLP encodes integers.
    public var minimalBytes: [UInt8] { Array(serialize()) }
}
