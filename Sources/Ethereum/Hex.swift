private let hexDigits: [UInt8] = Array("0123456789abcdef".utf8)

extension Array where Element == UInt8 {
    /// Parses hex with or without a `0x` prefix. Odd length or a non-hex character is an error, never a guess.
    public init(hex: String) throws(EthereumError) {
        var utf8 = Substring(hex).utf8[...]
        if utf8.starts(with: "0x".utf8) || utf8.starts(with: "0X".utf8) { utf8 = utf8.dropFirst(2) }
        guard utf8.count % 2 == 0 else { throw .invalidHex("odd number of hex digits") }
        var bytes = [UInt8]()
        bytes.reserveCapacity(utf8.count / 2)
        var high: UInt8?
        for char in utf8 {
            guard let nibble = Self.nibble(char) else { throw .invalidHex("not a hex digit: \(Unicode.Scalar(char))") }
            if let h = high {
                bytes.append(h << 4 | nibble)
                high = nil
            } else {
                high = nibble
            }
        }
        self = bytes
    }

    @inline(__always)
    static func nibble(_ char: UInt8) -> UInt8? {
        switch char {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return char - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): return char - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): return char - UInt8(ascii: "A") + 10
        default: return nil
        }
    }
}

extension Sequence where Element == UInt8 {
    /// Lower-case hex without prefix.
    public var hexDigits: String { hex(prefixed: false) }

    /// Lower-case hex with the `0x` prefix, as Ethereum tools print bytes.
    public var hexString: String { hex(prefixed: true) }

    /// Written straight into the string's storage: ids, addresses and signatures are rendered on every answer.
    private func hex(prefixed: Bool) -> String {
        guard let text = withContiguousStorageIfAvailable({ hexText($0, prefixed: prefixed) }) else {
            return Array(self).hex(prefixed: prefixed)
        }
        return text
    }
}

let hexDigitTable = hexDigits

private func hexText(_ bytes: UnsafeBufferPointer<UInt8>, prefixed: Bool) -> String {
    String(unsafeUninitializedCapacity: bytes.count * 2 + (prefixed ? 2 : 0)) { writeHex(bytes, prefixed: prefixed, into: $0) }
}

/// Writes the hex of `bytes` into `out` (room for it assumed); returns how many bytes it wrote.
private func writeHex(_ bytes: UnsafeBufferPointer<UInt8>, prefixed: Bool, into out: UnsafeMutableBufferPointer<UInt8>) -> Int {
    var i = 0
    if prefixed {
        out[0] = UInt8(ascii: "0")
        out[1] = UInt8(ascii: "x")
        i = 2
    }
    for byte in bytes {
        out[i] = hexDigitTable[Int(byte >> 4)]
        out[i + 1] = hexDigitTable[Int(byte & 0x0F)]
        i += 2
    }
    return i
}

extension Array where Element == UInt8 {
    /// The lower-case `0x`-hex's UTF-8, written on the stack, for `body` only: for a caller that copies it
    /// (a database binding) and would otherwise make a string per value.
    public func withHexString<R>(_ body: (UnsafeBufferPointer<UInt8>) throws -> R) rethrows -> R {
        try withUnsafeBufferPointer { bytes in
            try withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 2 + 2 * bytes.count) { out in
                try body(UnsafeBufferPointer(rebasing: out[..<writeHex(bytes, prefixed: true, into: out)]))
            }
        }
    }
}
