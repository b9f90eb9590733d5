import BigInt

/// Streams the EIP-712 `encodeData` of a struct straight into Keccak-256: typeHash, then one
/// 32-byte word per field. For code that knows its types statically (no JSON, no allocation per word).
public struct StructHasher {
    private var hasher = Keccak256()

    public init(typeHash: [UInt8]) { hasher.update(typeHash) }

    public mutating func add(word: [UInt8]) {
        precondition(word.count == 32, "an EIP-712 word is 32 bytes")
        hasher.update(word)
    }

    public mutating func add(_ address: Address) {
        hasher.update(StructHasher.zeros12)
        hasher.update(address.bytes)
    }

    /// A uint256 word straight from the integer's 64-bit limbs, most significant first (no allocation).
    public mutating func add(_ value: BigUInt) {
        precondition(value.bitWidth <= 256, "an EIP-712 uint256 fits in 256 bits")
        let words = value.words
        for index in (0..<4).reversed() {
            addLimb(index < words.count ? UInt64(words[index]) : 0)
        }
    }

    public mutating func add(_ value: UInt64) {
        hasher.update(StructHasher.zeros24)
        addLimb(value)
    }

    private mutating func addLimb(_ limb: UInt64) {
        withUnsafeBytes(of: limb.bigEndian) { hasher.update($0) }
    }

    /// Signed integers as two's complement over 256 bits.
    public mutating func add(signed value: Int64) {
        var word = [UInt8](repeating: value < 0 ? 0xFF : 0, count: 32)
        for i in 0..<8 { word[31 - i] = UInt8(truncatingIfNeeded: value >> (8 * Int64(i))) }
        hasher.update(word)
    }

    /// `string` and `bytes` contribute the Keccak-256 of their contents.
    public mutating func add(dynamic bytes: [UInt8]) { hasher.update(Keccak256.hash(bytes)) }

    public mutating func add(string: String) { add(dynamic: Array(string.utf8)) }

    /// An array contributes the Keccak-256 of its elements' words concatenated.
    public mutating func add(arrayOfWords words: [[UInt8]]) {
        var inner = Keccak256()
        for word in words { inner.update(word) }
        hasher.update(inner.finalize())
    }

    public mutating func add(_ addresses: [Address]) {
        var inner = Keccak256()
        for address in addresses {
            inner.update(StructHasher.zeros12)
            inner.update(address.bytes)
        }
        hasher.update(inner.finalize())
    }

    public consuming func finalize() -> [UInt8] { hasher.finalize() }

    static let zeros12 = [UInt8](repeating: 0, count: 12)
    static let zeros24 = [UInt8](repeating: 0, count: 24)

    /// keccak256(0x19 0x01 ‖ domainSeparator ‖ structHash): the digest that gets signed.
    public static func digest(domainSeparator: [UInt8], structHash: [UInt8]) -> [UInt8] {
        var hasher = Keccak256()
        hasher.update([0x19, 0x01])
        hasher.update(domainSeparator)
        hasher.update(structHash)
        return hasher.finalize()
    }
}
