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

    /// Times two workloads in alternating rounds, so a busy machine slows both alike; best round of each.
    static func pair(iterations: Int, rounds: Int = 9, _ a: () throws -> Void, _ b: () throws -> Void) rethrows -> (Double, Double) {
        var bestA = Double.infinity, bestB = Double.infinity
        for _ in 0..<rounds {
            bestA = min(bestA, try secondsPerCall(iterations: iterations, rounds: 1, a))
            bestB = min(bestB, try secondsPerCall(iterations: iterations, rounds: 1, b))
        }
        return (bestA, bestB)
    }

    static func report(_ name: String, ratio: Double, goal: String, detail: String) {
        let verdict = ratio.isFinite ? String(format: "%.2f", ratio) : "n/a"
        print("\(name): ratio \(verdict) (goal \(goal)); \(detail)")
    }
}
