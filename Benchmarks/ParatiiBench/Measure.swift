import Foundation

/// Best-of-N timing: the fastest round is the one least disturbed by the rest of the machine.
enum Measure {
    /// Seconds per call of `body`, best of `rounds` rounds of `iterations` calls each.
    static func secondsPerCall(iterations: Int, rounds: Int = 7, _ body: () throws -> Void) rethrows -> Double {
        var best = Double.infinity
        for _ in 0..<rounds {
            let start = DispatchTime.now().uptimeNanoseconds
            for _ in 0..<iterations { try body() }
            let elapsed = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
            best = min(best, elapsed / Double(iterations))
        }
        return best
    }

    /// Seconds for one call of `body`, which itself loops `inner` times (for C loops), best of `rounds`.
    static func secondsPerInner(inner: Int, rounds: Int = 7, _ body: () throws -> Void) rethrows -> Double {
        try secondsPerCall(iterations: 1, rounds: rounds, body) / Double(inner)
    }

    static func report(_ name: String, ratio: Double, goal: String, detail: String) {
        let verdict = ratio.isFinite ? String(format: "%.2f", ratio) : "n/a"
        print("\(name): ratio \(verdict) (goal \(goal)); \(detail)")
    }
}
