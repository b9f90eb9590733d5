/// The one constant-time compare: MACs, PIN checks, token hashes. No early exit, so timing tells
/// nothing about where two byte strings differ (only whether their lengths do).
public enum ConstantTime {
    public static func equal(_ a: some Collection<UInt8>, _ b: some Collection<UInt8>) -> Bool {
        guard a.count == b.count else { return false }
        var difference: UInt8 = 0
        for (x, y) in zip(a, b) { difference |= x ^ y }
        return difference == 0
    }
}
