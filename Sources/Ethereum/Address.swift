/// A 20-byte Ethereum address. Printed EIP-55 checksummed; parsing refuses a mixed-case string
/// whose checksum is wrong (all-lower and all-upper carry no checksum and are accepted).
public struct Address: Hashable, Comparable, Sendable, CustomStringConvertible {
    public let bytes: [UInt8]

    public static let zero = Address(validated: [UInt8](repeating: 0, count: 20))

    init(validated bytes: [UInt8]) { self.bytes = bytes }

    public init(bytes: some Collection<UInt8>) throws(EthereumError) {
        guard bytes.count == 20 else { throw .invalidAddress("expected 20 bytes, got \(bytes.count)") }
        self.bytes = Array(bytes)
    }

    public init(_ text: String) throws(EthereumError) {
        let utf8 = Array(text.utf8)
        guard utf8.count >= 2, utf8[0] == UInt8(ascii: "0"), utf8[1] | 0x20 == UInt8(ascii: "x") else {
            throw .invalidAddress("missing 0x prefix: \(text)")
        }
        guard utf8.count == 42 else { throw .invalidAddress("expected 40 hex digits: \(text)") }
        var bytes = [UInt8](repeating: 0, count: 20)
        var hasLower = false, hasUpper = false
        for i in 0..<40 {
            let char = utf8[2 + i]
            guard let nibble = [UInt8].nibble(char) else { throw .invalidAddress("not hex: \(text)") }
            bytes[i / 2] |= i % 2 == 0 ? nibble << 4 : nibble
            if char >= UInt8(ascii: "a") { hasLower = true } else if char >= UInt8(ascii: "A") { hasUpper = true }
        }
        self.bytes = bytes
        if hasLower && hasUpper && Array(checksummed.utf8) != [utf8[0], UInt8(ascii: "x")] + utf8[2...] {
            throw .invalidAddress("EIP-55 checksum mismatch: \(text)")
        }
    }

    /// EIP-55: a hex letter is upper-case where the matching nibble of Keccak(lower-case hex) is ≥ 8.
    public var checksummed: String {
        let lower = Array(bytes.hexDigits.utf8)
        let hash = Keccak256.hash(lower)
        var out = [UInt8]("0x".utf8)
        for (i, char) in lower.enumerated() {
            let nibble = i % 2 == 0 ? hash[i / 2] >> 4 : hash[i / 2] & 0x0F
            out.append(char >= UInt8(ascii: "a") && nibble >= 8 ? char - 32 : char)
        }
        return String(decoding: out, as: UTF8.self)
    }

    public var description: String { checksummed }

    public static func < (lhs: Address, rhs: Address) -> Bool { lhs.bytes.lexicographicallyPrecedes(rhs.bytes) }
}
