import Foundation

/// SplitMix64: a random generator whose whole run follows from the seed it prints, so a failure seen
/// once can be replayed (`PARATII_TEST_SEED=…`). Shared by the test targets that draw random inputs;
/// a test-only target, since no library of ours has any business holding it.
public struct SeededGenerator: RandomNumberGenerator {
    private var state: UInt64
    public init(seed: UInt64) { state = seed }

    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// `PARATII_TEST_SEED` when set, else a fresh one; printed either way with the command that replays it.
    public static func announced(for test: String) -> SeededGenerator {
        let seed = ProcessInfo.processInfo.environment["PARATII_TEST_SEED"].flatMap { UInt64($0) } ?? UInt64.random(in: 0...UInt64.max)
        print("\(test): seed \(seed) (replay: PARATII_TEST_SEED=\(seed) swift test --filter \(test))")
        return SeededGenerator(seed: seed)
    }
}
