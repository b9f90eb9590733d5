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

    /// Written straight into the string's storage from contiguous bytes (arrays, slices): a payee store
    /// writes several hex columns per voucher, and a generic byte-by-byte loop here cost it microseconds.
    private func hex(prefixed: Bool) -> String {
        if let fast = withContiguousStorageIfAvailable({ Ethereum.hex($0, prefixed: prefixed) }) { return fast }
        return Array(self).withUnsafeBufferPointer { Ethereum.hex($0, prefixed: prefixed) }
    }
}

private func hex(_ bytes: UnsafeBufferPointer<UInt8>, prefixed: Bool) -> String {
    let prefix = prefixed ? 2 : 0
    return String(unsafeUninitializedCapacity: prefix + bytes.count * 2) { out in
        if prefixed {
            out[0] = UInt8(ascii: "0")
            out[1] = UInt8(ascii: "x")
        }
        hexDigits.withUnsafeBufferPointer { table in
            for (i, byte) in bytes.enumerated() {
                out[prefix + 2 * i] = table[Int(byte >> 4)]
                out[prefix + 2 * i + 1] = table[Int(byte & 0x0F)]
            }
        }
        return prefix + bytes.count * 2
    }
}

let hexDigitTable = hexDigits
