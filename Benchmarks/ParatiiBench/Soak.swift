import BigInt
import CBaseline
import Delegation
import Ethereum
import Foundation
import PlayerCore
import Synchronization

/// Issue 9's soak: many players pay concurrently, each through its own wallet and delegation, while
/// one payee accepts their vouchers in batches, for a fixed time. RSS and open descriptors are sampled
/// every second; the run fails (exit 1) when either grows between the first and the last third of
/// the measured window, or along a least-squares line over it, by more than the stated limits.
/// SQLite's page caches legitimately fill (up to cache_size per connection) for minutes while the
/// databases grow, so memory is judged net of what SQLite itself holds, which is reported apart.
enum Soak {
    static let players = 16
    /// Vouchers waiting for the payee: players wait when it is full, so a slow payee is not a "leak".
    static let backlog = 2048
    /// Allowed growth of RSS net of SQLite: 2% of the first third's median plus 4 MiB (allocator settling).
    /// A leak of 100 bytes a voucher passes it within a minute here.
    static func rssLimit(_ base: Double) -> Double { base * 0.02 + 4 * 1024 }
    /// Allowed descriptor growth.
    static let fdLimit = 2.0

    struct Sample { let second: Double; let rssKiB: Double; let sqliteKiB: Double; let fds: Double }

    static func run(seconds: Int) throws -> Bool {
        let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("paratii-soak-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: scratch, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: scratch) }

        let master = PrivateKey.generate()
        let domain = Domain(chainId: 1, verifyingContract: .zero)
        let now = Wallet.systemClock()
        let payee = try Address("0x00000000000000000000000000000000000000bb")
        let wallets = try (0..<players).map { i in
            let wallet = try Wallet.create(directory: "\(scratch)/wallet-\(i)", password: "soak", kdf: .light)
            try wallet.importDelegation(
                try Envelope.sign(
                    SpendingDelegation(
                        master: master.address, spender: wallet.address,
                        allowances: [Allowance(token: .zero, total: BigUInt(10).power(30), perPayment: BigUInt(10).power(15))],
                        validAfter: now - 60, validUntil: now + 86400 * 365, salt: BigUInt(i)), domain: domain, signer: master))
            return wallet
        }
        let store = try PayeeStore(path: scratch + "/payee.sqlite", verifier: Verifier(domain: domain), payees: [payee])

        let queue = VoucherQueue(capacity: backlog)
        let stop = Atomic<Bool>(false)
        let paid = Atomic<Int>(0), accepted = Atomic<Int>(0), failures = Atomic<Int>(0)
        var threads: [pthread_t] = []
        for wallet in wallets {
            threads.append(
                Joinable.start {
                    let request = PaymentRequest(payee: payee, token: .zero, amount: 1000)
                    while !stop.load(ordering: .relaxed) {
                        do { queue.push(try wallet.pay(request)); paid.add(1, ordering: .relaxed) } catch {
                            failures.add(1, ordering: .relaxed); report(error)
                        }
                    }
                })
        }
        threads.append(
            Joinable.start {
                while !stop.load(ordering: .relaxed) || !queue.isEmpty {
                    let batch = queue.drain(max: 256)
                    if batch.isEmpty { usleep(20_000); continue }
                    do {
                        for outcome in try store.acceptBatch(batch) {
                            if case .success = outcome { accepted.add(1, ordering: .relaxed) } else { failures.add(1, ordering: .relaxed) }
                        }
                    } catch { failures.add(1, ordering: .relaxed); report(error) }
                }
            })

        // The first 10% (at least 5 s) warms caches and threads up; it is shown but not judged.
        let warmUp = max(5, seconds / 10)
        say("soak: \(players) players paying concurrently, one payee accepting in batches, \(seconds) s (\(warmUp) s warm-up)")
        let start = Date()
        var samples: [Sample] = []
        var next = 1.0
        while true {
            let elapsed = Date().timeIntervalSince(start)
            if elapsed >= Double(seconds) { break }
            if elapsed < next { usleep(UInt32((next - elapsed) * 1e6)); continue }
            next += 1
            let sample = Sample(
                second: elapsed, rssKiB: rssKiB(), sqliteKiB: Double(cb_sqlite_memory_used()) / 1024, fds: Double(openDescriptors()))
            if Int(elapsed) >= warmUp { samples.append(sample) }
            if Int(elapsed) % 30 == 0 || Int(elapsed) == warmUp {
                say(
                    String(
                        format: "  %4.0f s  RSS %6.1f MiB (SQLite %5.1f MiB)  fds %3.0f  paid %8d  accepted %8d", elapsed,
                        sample.rssKiB / 1024, sample.sqliteKiB / 1024, sample.fds,
                        paid.load(ordering: .relaxed), accepted.load(ordering: .relaxed)))
            }
        }
        stop.store(true, ordering: .relaxed)
        queue.close()
        // Joined, not just signalled: each thread has dropped its wallet before the files go.
        for thread in threads { pthread_join(thread, nil) }
        let elapsed = Date().timeIntervalSince(start)

        let total = paid.load(ordering: .relaxed), taken = accepted.load(ordering: .relaxed), failed = failures.load(ordering: .relaxed)
        say(
            String(
                format: "soak: %d vouchers paid (%.0f/s), %d accepted by the payee, %d failures", total, Double(total) / elapsed, taken,
                failed))
        guard samples.count >= 6 else { say("soak: FAIL: too few samples (\(samples.count)); run at least 12 s"); return false }
        var ok = failed == 0 && taken == total
        if !ok { say("soak: FAIL: every voucher paid must be accepted, and nothing may fail") }
        _ = judge("RSS (KiB), shown", samples.map { ($0.second, $0.rssKiB) }, limit: nil)
        _ = judge("SQLite's memory (KiB), shown", samples.map { ($0.second, $0.sqliteKiB) }, limit: nil)
        ok = judge("RSS net of SQLite (KiB)", samples.map { ($0.second, $0.rssKiB - $0.sqliteKiB) }, limit: rssLimit) && ok
        ok = judge("open fds", samples.map { ($0.second, $0.fds) }, limit: { _ in fdLimit }) && ok
        say("soak: \(ok ? "PASS" : "FAIL")")
        return ok
    }

    /// First-third vs last-third medians and the least-squares slope, projected over the window.
    static func judge(_ name: String, _ points: [(x: Double, y: Double)], limit: ((Double) -> Double)?) -> Bool {
        let third = points.count / 3
        let first = median(points.prefix(third).map(\.y)), last = median(points.suffix(third).map(\.y))
        let meanX = points.map(\.x).reduce(0, +) / Double(points.count), meanY = points.map(\.y).reduce(0, +) / Double(points.count)
        let slope =
            points.map { ($0.x - meanX) * ($0.y - meanY) }.reduce(0, +)
            / max(points.map { ($0.x - meanX) * ($0.x - meanX) }.reduce(0, +), 1e-9)
        let window = points.last!.x - points.first!.x
        let summary = String(
            format: "soak: %@: first third median %.1f, last third median %.1f (growth %.1f), slope %.3f/s = %.1f over %.0f s",
            name, first, last, last - first, slope, slope * window, window)
        guard let limit else { say(summary); return true }
        let allowed = limit(first)
        let ok = last - first <= allowed && slope * window <= allowed
        say(summary + String(format: "; limit %.1f: %@", allowed, ok ? "ok" : "GROWS"))
        return ok
    }

    /// Straight to the descriptor: progress shows as it comes, also through a pipe.
    static func say(_ line: String) { FileHandle.standardOutput.write(Data((line + "\n").utf8)) }

    static func median(_ values: [Double]) -> Double {
        let sorted = values.sorted()
        return sorted.isEmpty
            ? 0 : sorted.count % 2 == 1 ? sorted[sorted.count / 2] : (sorted[sorted.count / 2 - 1] + sorted[sorted.count / 2]) / 2
    }

    static func rssKiB() -> Double {
        let status = (try? String(contentsOfFile: "/proc/self/status", encoding: .utf8)) ?? ""
        let line = status.split(separator: "\n").first { $0.hasPrefix("VmRSS:") } ?? ""
        return Double(line.split(separator: " ").dropFirst().first ?? "") ?? .nan
    }

    static func openDescriptors() -> Int {
        ((try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd")) ?? []).count
    }

    static let reported = Atomic<Int>(0)
    /// The first few failures are printed; the count says the rest.
    static func report(_ error: any Error) {
        if reported.add(1, ordering: .relaxed).newValue <= 5 { say("soak: failure: \(error)") }
    }
}

/// A bounded queue of vouchers between the players and the payee.
final class VoucherQueue: @unchecked Sendable {
    private let condition = NSCondition()
    private var items: [Envelope] = []
    private var closed = false
    let capacity: Int
    init(capacity: Int) { self.capacity = capacity }

    func push(_ envelope: Envelope) {
        condition.lock()
        defer { condition.unlock() }
        while items.count >= capacity && !closed { condition.wait() }
        items.append(envelope)
    }

    func drain(max: Int) -> [Envelope] {
        condition.lock()
        defer { condition.unlock() }
        let batch = Array(items.prefix(max))
        items.removeFirst(batch.count)
        condition.broadcast()
        return batch
    }

    var isEmpty: Bool { condition.lock(); defer { condition.unlock() }; return items.isEmpty }

    func close() { condition.lock(); closed = true; condition.broadcast(); condition.unlock() }
}

/// A thread that can be joined: its closure, and everything the closure holds, is gone once `pthread_join` returns.
enum Joinable {
    final class Body { let run: () -> Void; init(_ run: @escaping () -> Void) { self.run = run } }

    static func start(_ run: @escaping () -> Void) -> pthread_t {
        var thread = pthread_t()
        let body = Unmanaged.passRetained(Body(run)).toOpaque()
        let created = pthread_create(
            &thread, nil,
            { raw in
                Unmanaged<Body>.fromOpaque(raw!).takeRetainedValue().run()
                return nil
            }, body)
        precondition(created == 0, "pthread_create failed: \(created)")
        return thread
    }
}
