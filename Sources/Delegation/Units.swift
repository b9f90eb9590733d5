import BigInt

/// Exact decimal amounts in a token's units (18 decimals for ETH and PTI), and human durations.
/// Never through floating point: "0.1" is exactly 10^17 base units.
public enum Units {
    public static let decimals = 18

    public static func parseAmount(_ text: String, decimals: Int = Units.decimals) throws(DelegationError) -> BigUInt {
        let parts = text.split(separator: ".", omittingEmptySubsequences: false)
        guard (1...2).contains(parts.count), !text.isEmpty, text.utf8.count <= 100 else { throw .invalidAmount("\"\(text)\"") }
        let whole = parts[0], fraction = parts.count == 2 ? parts[1] : ""
        guard !(whole.isEmpty && fraction.isEmpty),
            (whole + fraction).utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 })
        else {
            throw .invalidAmount("\"\(text)\" is not a non-negative decimal number")
        }
        guard fraction.count <= decimals else { throw .invalidAmount("\"\(text)\" has more than \(decimals) decimals") }
        let digits = String(whole) + String(fraction) + String(repeating: "0", count: decimals - fraction.count)
        guard let value = BigUInt(digits.isEmpty ? "0" : digits, radix: 10), value.bitWidth <= 256 else {
            throw .invalidAmount("\"\(text)\" is out of range")
        }
        return value
    }

    public static func formatAmount(_ value: BigUInt, decimals: Int = Units.decimals) -> String {
        let scale = BigUInt(10).power(decimals)
        let (whole, fraction) = value.quotientAndRemainder(dividingBy: scale)
        guard fraction != 0 else { return String(whole) }
        var digits = String(fraction)
        digits = String(repeating: "0", count: decimals - digits.count) + digits
        while digits.hasSuffix("0") { digits.removeLast() }
        return "\(whole).\(digits)"
    }

    /// `90s`, `30m`, `12h`, `1d`, `2w`, or plain seconds; `0` means none.
    public static func parseDuration(_ text: String) throws(DelegationError) -> UInt64 {
        let units: [Character: UInt64] = ["s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604_800]
        var number = Substring(text)
        var multiplier: UInt64 = 1
        if let last = text.last, let unit = units[last] {
            multiplier = unit
            number = number.dropLast()
        }
        guard !number.isEmpty, number.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }), let value = UInt64(number) else {
            throw .invalidDuration("\"\(text)\" (use e.g. 90s, 30m, 12h, 1d, 2w)")
        }
        let (product, overflow) = value.multipliedReportingOverflow(by: multiplier)
        guard !overflow else { throw .invalidDuration("\"\(text)\" is too long") }
        return product
    }

    public static func formatDuration(_ seconds: UInt64) -> String {
        for (unit, size) in [("w", UInt64(604_800)), ("d", 86400), ("h", 3600), ("m", 60)] where seconds >= size && seconds % size == 0 {
            return "\(seconds / size)\(unit)"
        }
        return "\(seconds)s"
    }
}

/// Fresh 128-bit salts from the system CSPRNG, so two otherwise equal delegations get different ids.
public enum Salt {
    public static func random() -> BigUInt {
        var rng = SystemRandomNumberGenerator()
        return BigUInt(rng.next() as UInt64) << 64 | BigUInt(rng.next() as UInt64)
    }
}
