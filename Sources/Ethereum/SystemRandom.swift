/// Bytes from the kernel CSPRNG (getrandom on Linux, arc4random on Darwin): keys, salts, ids and tokens.
public enum SystemRandom {
    /// Eight bytes per draw: a 16-byte id is two system calls, not sixteen.
    public static func fill(_ bytes: inout [UInt8]) {
        var rng = SystemRandomNumberGenerator()
        var index = bytes.startIndex
        while index < bytes.endIndex {
            var word: UInt64 = rng.next()
            for _ in 0..<min(8, bytes.endIndex - index) {
                bytes[index] = UInt8(truncatingIfNeeded: word)
                word >>= 8
                index += 1
            }
        }
    }

    public static func bytes(_ count: Int) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: count)
        fill(&out)
        return out
    }
}
