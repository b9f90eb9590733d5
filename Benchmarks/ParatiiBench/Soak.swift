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
/// databases grow, so memory is judged net of what SQLite itself holds, and SQLite's own memory is
/// judged against that ceiling: its connections (counted from the open database files) times its cache
/// size, plus an allowance per connection. A stall fails too: payments and accepts must each keep a
/// quarter of the rate measured in the warm-up, in every third of the window; and a worker that does
/// not stop within `joinTimeout` once told fails the run instead of hanging it.
enum Soak {
    static let players = 16
    /// Vouchers waiting for the payee: players wait when it is full, so a slow payee is not a "leak".
    static let backlog = 2048
    /// Allowed growth of RSS net of SQLite: 2% of the first third's median plus 4 MiB (allocator settling).
    /// A leak of 100 bytes a voucher passes it within a minute here.
    static func rssLimit(_ base: Double) -> Double { base * 0.02 + 4 * 1024 }
    /// Allowed descriptor growth.
    static let fdLimit = 2.0
    /// SQLite's memory beyond its page caches, per connection: schema, statement cache, lookaside.
    static let sqliteOverheadKiB = 1024.0
    /// Each third of the window must keep this fraction of the warm-up's payment and accept rates.
    static let minimumRateFraction = 0.25
    /// How long the workers may take to stop once told, before the soak is declared hung.
    static let joinTimeout: TimeInterval = 60

    struct Sample {
        let second: Double
        let rssKiB: Double
        let sqliteKiB: Double
        let fds: Double
        let connections: Int
        let paid: Int
        let accepted: Int
    }

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
        var threads: [Joinable.Handle] = []
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
        var warmUpRates: (paid: Double, accepted: Double)?
        var next = 1.0
        while true {
            let elapsed = Date().timeIntervalSince(start)
            if elapsed >= Double(seconds) { break }
            if elapsed < next { usleep(UInt32((next - elapsed) * 1e6)); continue }
            next += 1
            let sample = Sample(
                second: elapsed, rssKiB: rssKiB(), sqliteKiB: Double(cb_sqlite_memory_used()) / 1024, fds: Double(openDescriptors()),
                connections: sqliteConnections(), paid: paid.load(ordering: .relaxed), accepted: accepted.load(ordering: .relaxed))
            if Int(elapsed) >= warmUp {
                if warmUpRates == nil { warmUpRates = (Double(sample.paid) / elapsed, Double(sample.accepted) / elapsed) }
                samples.append(sample)
            }
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
        // Joined, not just signalled: each thread has dropped its wallet before the files go. A worker
        // stuck (a deadlock in the ledger or the store) fails the run here, within joinTimeout.
        let joinDeadline = Date().addingTimeInterval(joinTimeout)
        let stuck = threads.filter { !$0.join(before: joinDeadline) }.count
        if stuck > 0 {
            say("soak: FAIL: \(stuck) of \(threads.count) workers did not stop within \(Int(joinTimeout)) s (deadlock or stall)")
            say("soak: FAIL")
            exit(1)
        }
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
        ok = judgeSQLite(samples) && ok
        if let warmUpRates { ok = judgeRates(samples, warmUp: warmUpRates) && ok }
        say("soak: \(ok ? "PASS" : "FAIL")")
        return ok
    }

    /// SQLite's own memory, every sample, under what its configuration allows the connections open then.
    static func judgeSQLite(_ samples: [Sample]) -> Bool {
        let cacheKiB = Double(cb_sqlite_default_cache_kib())
        guard cacheKiB > 0 else { say("soak: FAIL: cannot read SQLite's cache_size"); return false }
        var worst: (sample: Sample, ceiling: Double)?
        for sample in samples {
            let ceiling = Double(sample.connections) * (cacheKiB + sqliteOverheadKiB)
            if worst == nil || sample.sqliteKiB - ceiling > worst!.sample.sqliteKiB - worst!.ceiling { worst = (sample, ceiling) }
        }
        guard let worst else { return false }
        let ok = worst.sample.sqliteKiB <= worst.ceiling
        say(
            String(
                format: "soak: SQLite's memory (KiB): at most %.1f against a ceiling of %.1f (%d connections x (%.0f cache + %.0f)): %@",
                worst.sample.sqliteKiB, worst.ceiling, worst.sample.connections, cacheKiB, sqliteOverheadKiB, ok ? "ok" : "OVER"))
        return ok
    }

    /// Payments and accepts per second in each third of the window, against the warm-up's.
    static func judgeRates(_ samples: [Sample], warmUp: (paid: Double, accepted: Double)) -> Bool {
        let third = samples.count / 3
        var ok = true
        for (index, part) in [samples.prefix(third + 1), samples.dropFirst(third).prefix(third + 1), samples.suffix(third + 1)].enumerated()
        {
            guard let first = part.first, let last = part.last, last.second > first.second else { continue }
            let span = last.second - first.second
            let paidRate = Double(last.paid - first.paid) / span, acceptedRate = Double(last.accepted - first.accepted) / span
            let floor = (paid: warmUp.paid * minimumRateFraction, accepted: warmUp.accepted * minimumRateFraction)
            let good = paidRate >= floor.paid && acceptedRate >= floor.accepted
            say(
                String(
                    format: "soak: third %d: %.0f paid/s, %.0f accepted/s; at least %.0f and %.0f (%.0f%% of the warm-up's): %@",
                    index + 1, paidRate, acceptedRate, floor.paid, floor.accepted, minimumRateFraction * 100, good ? "ok" : "STALLS"))
            ok = ok && good
        }
        return ok
    }

    /// Open SQLite connections: each holds its database file open once (its -wal and -shm apart).
    static func sqliteConnections() -> Int {
        let fds = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd")) ?? []
        return fds.count { fd in
            guard let target = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/fd/" + fd) else { return false }
            return target.hasSuffix(".sqlite")
        }
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
    final class Body {
        let run: () -> Void
        let finished: DispatchSemaphore
        init(_ run: @escaping () -> Void, finished: DispatchSemaphore) {
            self.run = run
            self.finished = finished
        }
    }

    /// A started thread; `join(before:)` waits for it until a deadline, never forever.
    struct Handle {
        let thread: pthread_t
        let finished: DispatchSemaphore
        /// True once the thread has finished and was joined; false if it was still running at the deadline.
        func join(before deadline: Date) -> Bool {
            let seconds = max(0, deadline.timeIntervalSinceNow)
            guard finished.wait(timeout: .now() + seconds) == .success else { return false }
            pthread_join(thread, nil)
            return true
        }
    }

    static func start(_ run: @escaping () -> Void) -> Handle {
        var thread = pthread_t()
        let finished = DispatchSemaphore(value: 0)
        let body = Unmanaged.passRetained(Body(run, finished: finished)).toOpaque()
        let created = pthread_create(
            &thread, nil,
            { raw in
                // Signalled once the body, and everything its closure holds, is released.
                Joinable.runAndRelease(raw!).signal()
                return nil
            }, body)
        precondition(created == 0, "pthread_create failed: \(created)")
        return Handle(thread: thread, finished: finished)
    }

    static func runAndRelease(_ raw: UnsafeMutableRawPointer) -> DispatchSemaphore {
        let body = Unmanaged<Body>.fromOpaque(raw).takeRetainedValue()
        body.run()
        return body.finished
    }
}
