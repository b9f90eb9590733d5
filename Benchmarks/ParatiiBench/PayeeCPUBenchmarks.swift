import Delegation
import Ethereum
import Foundation
import PlayerCore

/// Issue 17's per-voucher CPU, in microseconds of CPU time (not wall time, so other load on the
/// machine barely moves it): the bare recovery, the rest of verification, and the SQLite store's own
/// work. `ParatiiBench payee-cpu`.
enum PayeeCPUBenchmarks {
    /// CPU seconds this process used (all threads).
    static func processCPU() -> Double {
        var spec = timespec()
        clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &spec)
        return Double(spec.tv_sec) + Double(spec.tv_nsec) / 1e9
    }

    /// CPU seconds the calling thread used: a store's rules and writes run on it (GRDB's writer queue
    /// runs `sync` on the caller), verification on other threads.
    static func threadCPU() -> Double {
        var spec = timespec()
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &spec)
        return Double(spec.tv_sec) + Double(spec.tv_nsec) / 1e9
    }

    /// CPU microseconds per voucher of `body` over `count` vouchers (`clock`: the process's or the
    /// calling thread's), best of `rounds`.
    static func cpu(_ count: Int, rounds: Int = 5, clock: () -> Double = processCPU, _ body: () throws -> Void) rethrows -> Double {
        var best = Double.infinity
        for _ in 0..<rounds {
            let start = clock()
            try body()
            best = min(best, (clock() - start) / Double(count) * 1e6)
        }
        return best
    }

    static func run() throws {
        let scratch = try Scratch.directory("payee-cpu")
        defer { try? FileManager.default.removeItem(atPath: scratch) }
        let domain = Domain(chainId: 1, verifyingContract: .zero)
        let master = PrivateKey.generate(), spender = PrivateKey.generate()
        let now = Wallet.systemClock()
        let delegation = try PayeeScaleBenchmarks.delegation(master: master, spender: spender, domain: domain, now: now)
        let batches = try PayeeScaleBenchmarks.vouchers(worker: 98, spender: spender, delegation: delegation, domain: domain)
        let sample = batches[0]
        let signatures = try sample.map { try Signature(bytes: $0.signature) }

        let recover = try cpu(sample.count) {
            for (voucher, signature) in zip(sample, signatures) { _ = try signature.recoverPublicKey(digest: voucher.id) }
        }
        let address = try cpu(sample.count) {
            for (voucher, signature) in zip(sample, signatures) { _ = try signature.recoverAddress(digest: voucher.id) }
        }
        let parse = try cpu(sample.count) {
            for voucher in sample { _ = try Signature(bytes: voucher.signature, v: .ethereum) }
        }
        let checks = VoucherCheck(verifier: Verifier(domain: domain), payees: [])
        let one = try cpu(sample.count) {
            for voucher in sample { _ = try checks.one(voucher, now: now) }
        }
        let parallel = cpu(sample.count) { _ = checks.batch(sample, now: now) }
        let store = try PayeeStore(path: scratch + "/cpu.sqlite", verifier: Verifier(domain: domain))
        var next = 0
        let stored = try cpu(sample.count, rounds: batches.count) {
            _ = try store.acceptBatch(batches[next])
            next += 1
        }
        // The store's own CPU alone, on the thread that applies the rules and writes (the verification
        // of each chunk runs on other threads meanwhile): robust to what the other threads cost.
        let writer = try PayeeStore(path: scratch + "/writer.sqlite", verifier: Verifier(domain: domain))
        next = 0
        let own = try cpu(sample.count, rounds: batches.count, clock: threadCPU) {
            _ = try writer.acceptBatch(batches[next])
            next += 1
        }
        func us(_ value: Double) -> String { String(format: "%.1f µs", value) }
        print(
            "payee CPU per voucher: recovery (key) \(us(recover)); key → address \(us(address - recover)); signature parse and checks \(us(parse))"
        )
        print(
            "payee CPU per voucher: verification one thread \(us(one)) = \(String(format: "%.2f", one / recover)) recoveries (beyond the key: \(us(one - recover))); "
                + "on every core \(us(parallel)) (\(String(format: "%.2f", parallel / recover)))")
        print(
            "payee CPU per voucher: SQLite accept \(us(stored)) = verification on every core + \(us(stored - parallel)) of store "
                + "(its writing thread alone: \(us(own))); "
                + "ceiling \(String(format: "%.2f", recover / stored)) of cores × recoveries/s")
    }
}
