import BigInt
import Delegation
import Ethereum
import Foundation
import PayeeStorePostgres
import PlayerCore

/// Issue 17: payees at scale, in one run, each figure against a limit measured in the same run.
/// - SQLite store, one process, batches of 500: accepts/s vs cores × one core's recoveries/s (goal ≥ 0.8).
/// - PostgreSQL store on a private local server: 1, 2 and 4 accept processes (this benchmark re-run as
///   `ParatiiBench payee-worker`), accepts/s in all, vs the server's bare one-row commits/s (pgbench, one
///   client) and vs cores × recoveries/s; goals: 2 processes ≥ 1.6 × one, the total ≥ 0.8 of the binding limit.
enum PayeeScaleBenchmarks {
    static let batch = 500
    static let batchesPerWorker = 12
    /// Each process count runs this many times, each on a fresh database; the fastest counts (as
    /// Measure's best round), since a shared machine only ever slows a run down.
    static let repetitions = 3
    static let channelsPerBatch = 50

    /// Vouchers for worker `w`: its own channels (its own payees), sequences rising batch after batch.
    static func vouchers(worker w: Int, spender: PrivateKey, delegation: Envelope, domain: Domain) throws -> [[Envelope]] {
        try (0..<batchesPerWorker).map { b in
            try (0..<batch).map { i in
                let sequence = UInt64(b * (batch / channelsPerBatch) + i / channelsPerBatch + 1)
                let payee = try Address("0x" + String(format: "%040x", 0xbe00_0000 + w * 1000 + i % channelsPerBatch))
                let voucher = Voucher(
                    delegation: delegation.id, payee: payee, token: .zero, cumulative: BigUInt(sequence) * 1000, sequence: sequence,
                    memo: Keccak256.hash("s\(sequence)"))
                return try Envelope.sign(voucher, domain: domain, signer: spender, parents: [delegation])
            }
        }
    }

    /// The spending delegation every benchmark voucher hangs from.
    static func delegation(master: PrivateKey, spender: PrivateKey, domain: Domain, now: UInt64) throws -> Envelope {
        try Envelope.sign(
            SpendingDelegation(
                master: master.address, spender: spender.address,
                allowances: [
                    Allowance(
                        token: .zero, total: BigUInt(10).power(30), perPayment: BigUInt(10).power(29), period: 86400,
                        perPeriod: BigUInt(10).power(30))
                ],
                validAfter: now - 60, validUntil: now + 86400, salt: 7), domain: domain, signer: master)
    }

    static func run() throws {
        let scratch = try Scratch.directory("payee-scale")
        defer { try? FileManager.default.removeItem(atPath: scratch) }
        let cores = ProcessInfo.processInfo.activeProcessorCount
        let domain = Domain(chainId: 1, verifyingContract: .zero)
        let master = PrivateKey.generate(), spender = PrivateKey.generate()
        let now = Wallet.systemClock()
        let delegation = try delegation(master: master, spender: spender, domain: domain, now: now)

        // The recovery limit, one core, in this run: its fastest round of all, taken before, between the
        // SQLite rounds and after the PostgreSQL runs, so that a moment of load elsewhere on the machine
        // does not lower the limit (and raise every ratio).
        let sample = try vouchers(worker: 99, spender: spender, delegation: delegation, domain: domain)[0]
        let signature = try Signature(bytes: sample[0].signature)
        var perRecover = Double.infinity
        func measureRecovery(rounds: Int) {
            let seconds = Measure.secondsPerCall(iterations: 1, rounds: rounds) {
                for voucher in sample { _ = try? signature.recoverPublicKey(digest: voucher.id) }
            }
            perRecover = min(perRecover, seconds / Double(sample.count))
        }
        measureRecovery(rounds: 5)

        // Verification alone (VoucherCheck.batch, every core) bounds any store's accept rate on this machine
        // as loaded right now; a store's ratio to it is the store's own cost.
        let checks = VoucherCheck(verifier: Verifier(domain: domain), payees: [])
        // 1. SQLite, one process, batches of 500 into a fresh store each round, in rounds alternating with
        //    verification alone so that a busy machine slows both alike.
        // The stores are opened (created, migrated) before the clock starts: accepting is what is timed.
        //    Also a stream of batches of 500 (`acceptBatches`: each batch its own commit, the next verifying
        //    while the previous commits), 12 batches into a fresh store each round.
        let stores = try (0..<9).map { try PayeeStore(path: scratch + "/sqlite-\($0).sqlite", verifier: Verifier(domain: domain)) }
        let streams = try (0..<9).map { try PayeeStore(path: scratch + "/stream-\($0).sqlite", verifier: Verifier(domain: domain)) }
        let stream = try vouchers(worker: 97, spender: spender, delegation: delegation, domain: domain)
        var perCheck = Double.infinity, perBatch = Double.infinity, perStream = Double.infinity
        for (store, streamStore) in zip(stores, streams) {
            measureRecovery(rounds: 1)
            perCheck = min(perCheck, Measure.secondsPerCall(iterations: 1, rounds: 1) { _ = checks.batch(sample, now: now) })
            perBatch = min(perBatch, try Measure.secondsPerCall(iterations: 1, rounds: 1) { _ = try store.acceptBatch(sample) })
            perStream = min(
                perStream,
                try Measure.secondsPerCall(iterations: 1, rounds: 1) {
                    try streamStore.acceptBatches(stream) { outcomes in
                        guard outcomes.allSatisfy({ (try? $0.get()) != nil }) else { throw CardBenchmarks.Failure(description: "refused") }
                    }
                } / Double(stream.count))
        }
        // 2. PostgreSQL: a private server, its bare commit rate, then 1, 2 and 4 worker processes.
        let (commitRate, rates, cpu) = try postgres(scratch: scratch) { w in
            try vouchers(worker: w, spender: spender, delegation: delegation, domain: domain)
        }
        measureRecovery(rounds: 5)
        let recoverLimit = Double(cores) / perRecover
        let checkRate = Double(batch) / perCheck
        Measure.report(
            "payee verification alone (batches of \(batch), every core) vs \(cores) cores × recoveries/s", ratio: checkRate / recoverLimit,
            goal: "n/a (the ceiling of the store figures below)", detail: String(format: "%.0f vouchers/s", checkRate))
        let sqliteRate = Double(batch) / perBatch
        Measure.report(
            "payee (SQLite, 1 process, one batch of \(batch)) accepts/s vs \(cores) cores × recoveries/s", ratio: sqliteRate / recoverLimit,
            goal: "n/a (a lone batch idles the cores through its commit)",
            detail: String(
                format: "%.0f accepts/s, %.0f recoveries/s on one core; %.2f of verification alone", sqliteRate, 1 / perRecover,
                sqliteRate / checkRate))
        let streamRate = Double(batch) / perStream
        Measure.report(
            "payee (SQLite, 1 process, batches of \(batch), \(batchesPerWorker) in a row) accepts/s vs \(cores) cores × recoveries/s",
            ratio: streamRate / recoverLimit, goal: "≥ 0.8",
            detail: String(
                format: "%.0f accepts/s (acceptBatches: one commit per batch, the next verifying meanwhile); %.2f of verification alone",
                streamRate, streamRate / checkRate))

        let limit = min(commitRate * Double(batch), recoverLimit)
        let binding = commitRate * Double(batch) < recoverLimit ? "commits" : "recoveries"
        for processes in [1, 2, 4] {
            Measure.report(
                "payee (PostgreSQL, \(processes) process\(processes == 1 ? "" : "es"), batches of \(batch)) accepts/s vs \(cores) cores × recoveries/s",
                ratio: rates[processes]! / recoverLimit, goal: processes == 1 ? "n/a" : "≥ 0.8 of the binding limit",
                detail: String(
                    format:
                        "%.0f accepts/s in all, %.0f per process; CPU per voucher %.1f µs in the accept processes, %.1f µs in the server",
                    rates[processes]!, rates[processes]! / Double(processes), cpu[processes]!.client, cpu[processes]!.server))
        }
        Measure.report(
            "payee (PostgreSQL) 2 processes vs 1", ratio: rates[2]! / rates[1]!, goal: "≥ 1.6",
            detail: String(format: "%.0f vs %.0f accepts/s", rates[2]!, rates[1]!))
        Measure.report(
            "payee (PostgreSQL, 4 processes) vs the binding limit (\(binding))", ratio: rates[4]! / limit, goal: "≥ 0.8",
            detail: String(
                format: "bare one-row commits %.0f/s (pgbench, 1 client) = %.0f vouchers/s at %d per commit; %d cores × recoveries %.0f/s",
                commitRate, commitRate * Double(batch), batch, cores, recoverLimit))
    }

    /// The server's bare commit rate, then accepts/s with 1, 2 and 4 worker processes (each the fastest of
    /// `repetitions` runs on a fresh database) and, in that run, the CPU µs per voucher of the accept
    /// processes (verification included) and of the server.
    static func postgres(
        scratch: String, vouchers: (Int) throws -> [[Envelope]]
    ) throws -> (
        commitRate: Double, rates: [Int: Double], cpu: [Int: (client: Double, server: Double)]
    ) {
        // Its own directory, open to the server's user (the scratch one is owner-only).
        let pg = try Scratch.directory("pg")
        chmod(pg, 0o755)
        defer { try? FileManager.default.removeItem(atPath: pg) }
        let server = try shell(["/bin/bash", scriptsDirectory + "/pg-server", "init", pg + "/server"])
        defer { _ = try? shell(["/bin/bash", scriptsDirectory + "/pg-server", "remove", pg + "/server"]) }
        let commitRate = try pgbenchCommits(pg + "/server")
        var rates: [Int: Double] = [:]
        var cpu: [Int: (client: Double, server: Double)] = [:]
        for processes in [1, 2, 4] {
            var files: [String] = []
            for w in 0..<processes {
                let path = scratch + "/worker-\(processes)-\(w).jsonl"
                let batches = try vouchers(w)
                try batches.map { $0.map { $0.json.compactText }.joined(separator: "\n") }.joined(separator: "\n=\n")
                    .write(toFile: path, atomically: true, encoding: .utf8)
                files.append(path)
            }
            var fastest = Double.infinity
            for repetition in 0..<repetitions {
                let database = "bench\(processes)_\(repetition)"
                _ = try shell(["/bin/bash", scriptsDirectory + "/pg-server", "psql", pg + "/server", "-c", "CREATE DATABASE \(database)"])
                let url = server.replacingOccurrences(of: "/paratii?", with: "/\(database)?")
                // Each worker prints the seconds its accepts took (after connecting); the slowest bounds the total.
                let serverBefore = try serverCPU(pg + "/server")
                let (seconds, clientCPU) = try runWorkers(url: url, files: files)
                let serverSpent = try serverCPU(pg + "/server") - serverBefore
                let vouchers = Double(processes * batchesPerWorker * batch)
                if seconds < fastest { cpu[processes] = (clientCPU / vouchers * 1e6, serverSpent / vouchers * 1e6) }
                fastest = min(fastest, seconds)
            }
            rates[processes] = Double(processes * batchesPerWorker * batch) / fastest
        }
        return (commitRate, rates, cpu)
    }

    static var scriptsDirectory: String {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("scripts").path
    }

    /// The server's bare one-row commit rate: pgbench, one client, one INSERT per transaction, 5 s.
    static func pgbenchCommits(_ directory: String) throws -> Double {
        let psql = ["/bin/bash", scriptsDirectory + "/pg-server", "psql", directory]
        _ = try shell(psql + ["-c", "CREATE TABLE bare_commit (k bigint)"])
        try "INSERT INTO bare_commit VALUES (1);\n".write(toFile: directory + "/bare.sql", atomically: true, encoding: .utf8)
        chmod(directory + "/bare.sql", 0o644)
        let bin = try shell(["/bin/bash", "-c", "ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1"])
        let port = try String(contentsOfFile: directory + "/port", encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
        let out = try shell([
            bin + "/pgbench", "-n", "-c", "1", "-T", "5", "-f", directory + "/bare.sql", "-h", directory + "/socket", "-p", port, "-U",
            "paratii",
            "paratii",
        ])
        guard let line = out.split(separator: "\n").first(where: { $0.hasPrefix("tps") }),
            let tps = line.split(separator: " ").dropFirst(2).first.flatMap({ Double($0) })
        else { throw CardBenchmarks.Failure(description: "pgbench: \(out)") }
        return tps
    }

    /// CPU seconds the server has used so far: the postmaster, the children it has reaped (exited
    /// backends) and the children alive (backends, WAL writer, checkpointer), from /proc.
    static func serverCPU(_ directory: String) throws -> Double {
        let postmaster = try String(contentsOfFile: directory + "/data/postmaster.pid", encoding: .utf8).split(separator: "\n")[0]
        var ticks = 0.0
        for entry in try FileManager.default.contentsOfDirectory(atPath: "/proc") where entry.allSatisfy(\.isNumber) {
            guard let stat = try? String(contentsOfFile: "/proc/\(entry)/stat", encoding: .utf8),
                let close = stat.lastIndex(of: ")")
            else { continue }
            // Fields after "pid (comm)": state ppid … utime stime cutime cstime (fields 14–17 of the whole line).
            let fields = stat[stat.index(after: close)...].split(separator: " ")
            guard fields.count > 14 else { continue }
            if entry == postmaster {
                ticks += fields[11...14].compactMap { Double($0) }.reduce(0, +)
            } else if fields[1] == postmaster {
                ticks += fields[11...12].compactMap { Double($0) }.reduce(0, +)
            }
        }
        return ticks / Double(sysconf(Int32(_SC_CLK_TCK)))
    }

    /// The slowest worker's seconds, and the CPU seconds all workers spent accepting.
    static func runWorkers(url: String, files: [String]) throws -> (seconds: Double, cpu: Double) {
        let processes = try files.map { file in
            let process = Process()
            process.executableURL = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath()
            process.arguments = ["payee-worker", url, file]
            let out = Pipe(), go = Pipe()
            process.standardOutput = out
            process.standardInput = go
            try process.run()
            return (process, out, go)
        }
        // Every worker has parsed its file and connected before any starts accepting: their timed spans
        // coincide, and no worker's parsing competes with another's accepts.
        var ready = 0
        for (_, out, _) in processes {
            var line: [UInt8] = []
            while line.last != UInt8(ascii: "\n") {
                let data = out.fileHandleForReading.readData(ofLength: 1)
                if data.isEmpty { break }
                line += data
            }
            if line == Array("ready\n".utf8) { ready += 1 }
        }
        // A worker that failed before it was ready has exited: its failure is reported below.
        if ready == processes.count { for (_, _, go) in processes { go.fileHandleForWriting.write(Data("go\n".utf8)) } }
        for (_, _, go) in processes { try? go.fileHandleForWriting.close() }
        var slowest = 0.0, cpu = 0.0
        for (process, out, _) in processes {
            let text = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            process.waitUntilExit()
            let figures = text.split(whereSeparator: \.isWhitespace).compactMap { Double($0) }
            guard process.terminationStatus == 0, figures.count == 2 else {
                throw CardBenchmarks.Failure(description: "payee worker failed: \(text)")
            }
            slowest = max(slowest, figures[0])
            cpu += figures[1]
        }
        return (slowest, cpu)
    }

    /// `ParatiiBench payee-worker URL FILE`: opens the store, then accepts the file's batches (separated
    /// by `=` lines) one after another; prints the seconds the accepts took and the CPU seconds this
    /// process spent on them (parsing the file excluded). Every voucher must be accepted.
    static func worker(url: String, file: String) async throws {
        let batches = try String(contentsOfFile: file, encoding: .utf8).components(separatedBy: "\n=\n").map { text in
            try text.split(separator: "\n").map { try Envelope(parsing: Array($0.utf8)) }
        }
        let store = try await PayeeStores.open(url, verifier: Verifier(domain: Domain(chainId: 1, verifyingContract: .zero)))
        // Ready; accepting starts when the benchmark says go (one line on standard input).
        FileHandle.standardOutput.write(Data("ready\n".utf8))
        _ = readLine()
        let start = DispatchTime.now().uptimeNanoseconds, startCPU = PayeeCPUBenchmarks.processCPU()
        for batch in batches {
            let outcomes = try await store.acceptBatch(batch)
            guard outcomes.allSatisfy({ if case .success(.accepted) = $0 { true } else { false } }) else {
                throw CardBenchmarks.Failure(description: "a voucher was refused")
            }
        }
        print(Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9, PayeeCPUBenchmarks.processCPU() - startCPU)
        await store.close()
    }

    @discardableResult
    static func shell(_ arguments: [String]) throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: arguments[0])
        process.arguments = Array(arguments.dropFirst())
        let out = Pipe()
        process.standardOutput = out
        try process.run()
        let text = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            throw CardBenchmarks.Failure(description: "\(arguments.joined(separator: " ")) failed")
        }
        return text.trimmingCharacters(in: .whitespacesAndNewlines)
    }
}
