import BigInt
import Delegation
import Ethereum
import Foundation
import GRDB
import TestSupport
import Testing

@testable import PlayerCore

/// Real processes on one wallet: concurrent payers, and payers killed with SIGKILL at random moments.
/// The invariants are checked from the database and from every voucher that reached stdout.
@Suite(.serialized, .timeLimit(.minutes(5))) struct ProcessTests {
    struct Run {
        let process: Process
        let output: Pipe
        /// The payer's stderr, kept in a file: a sanitizer's report lands there (scripts/sanitize).
        let errorPath: String
        var errors: String { (try? String(contentsOfFile: errorPath, encoding: .utf8)) ?? "" }

        /// After the payer exited: no sanitizer spoke. scripts/sanitize gives ASan and TSan exit codes
        /// of their own (86, 66), never 1, which is the payer's refusal at the cap.
        func expectNoSanitizerReport() {
            #expect(!errors.contains("Sanitizer"), "the payer's stderr holds a sanitizer report: \(errors)")
            if process.terminationReason == .exit {
                #expect(![86, 66].contains(process.terminationStatus), "the payer exited as a sanitizer does: \(errors)")
            }
        }
    }

    /// `key`: the payments' idempotency keys are `key-0`, `key-1`, …; `outputPath`: stdout goes to that
    /// file (readable while the payer is stopped) instead of the pipe.
    static func spawnPayer(_ f: WalletFixture, repeat count: Int, key: String? = nil, outputPath: String? = nil) throws -> Run {
        let passwordFile = f.directory + "/password"
        if !FileManager.default.fileExists(atPath: passwordFile) {
            try f.password.write(toFile: passwordFile, atomically: true, encoding: .utf8)
        }
        let process = Process()
        process.executableURL = Binary.paratii
        process.arguments =
            [
                "wallet", "pay", "--dir", f.directory, "--password-file", passwordFile, "--payee", f.payee.checksummed,
                "--token", "ETH", "--amount", "0.0001", "--repeat", String(count),
            ] + (key.map { ["--key", $0] } ?? [])
        var environment = ProcessInfo.processInfo.environment
        environment["XDG_CONFIG_HOME"] = f.directory
        process.environment = environment
        let output = Pipe()
        if let outputPath {
            _ = FileManager.default.createFile(atPath: outputPath, contents: nil)
            process.standardOutput = try FileHandle(forWritingTo: URL(fileURLWithPath: outputPath))
        } else {
            process.standardOutput = output
        }
        let errorPath = f.directory + "/payer-\(UUID().uuidString).stderr"
        _ = FileManager.default.createFile(atPath: errorPath, contents: nil)
        let errors = try FileHandle(forWritingTo: URL(fileURLWithPath: errorPath))
        defer { try? errors.close() }
        process.standardError = errors
        try process.run()
        return Run(process: process, output: output, errorPath: errorPath)
    }

    /// Complete lines only: a line cut by the kill was never fully released.
    static func vouchers(_ data: Data) throws -> [Voucher] {
        let text = String(decoding: data, as: UTF8.self)
        var lines = text.components(separatedBy: "\n")
        lines.removeLast()  // empty after the final newline, or a partial line
        return try lines.map { line in
            let envelope = try Envelope(parsing: Array(line.utf8))
            guard case .voucher(let voucher) = envelope.message else { throw WalletError.invalid("not a voucher") }
            return voucher
        }
    }

    static func ledger(_ f: WalletFixture) throws -> (spent: BigUInt, rows: [(sequence: Int64, cumulative: BigUInt, amount: BigUInt)]) {
        let pool = try DatabasePool(path: f.directory + "/" + Wallet.databaseFile)
        return try pool.read { db in
            let spent = BigUInt(try String.fetchOne(db, sql: "SELECT spent FROM allowance")!, radix: 10)!
            let rows = try Row.fetchAll(db, sql: "SELECT sequence, cumulative, amount FROM voucher ORDER BY sequence").map {
                ($0["sequence"] as Int64, BigUInt($0["cumulative"] as String, radix: 10)!, BigUInt($0["amount"] as String, radix: 10)!)
            }
            return (spent, rows)
        }
    }

    static func checkInvariants(_ f: WalletFixture, printed: [Voucher], total: BigUInt) throws {
        let (spent, rows) = try ledger(f)
        #expect(spent <= total)
        #expect(rows.reduce(BigUInt(0)) { $0 + $1.amount } == spent)
        #expect(rows.map(\.sequence) == Array(1...Int64(max(rows.count, 1))).prefix(rows.count).map { $0 })
        #expect(rows.last?.cumulative ?? 0 == spent)
        var bySequence: [Int64: BigUInt] = [:]
        for row in rows { bySequence[row.sequence] = row.cumulative }
        for voucher in printed {
            #expect(bySequence[Int64(voucher.sequence)] == voucher.cumulative, "voucher #\(voucher.sequence) was released but not recorded")
            #expect(voucher.cumulative <= total)
        }
        #expect(Set(printed.map(\.sequence)).count == printed.count, "a sequence was released twice")
    }

    @Test func twoProcessesNeverOverspendTogether() throws {
        let f = try WalletFixture()
        defer { f.cleanup() }
        let total = WalletFixture.wei("0.003")
        try f.wallet.importDelegation(
            try f.delegation(
                allowances: [Allowance(token: .zero, total: total, perPayment: WalletFixture.wei("0.0001"))],
                after: 0, until: UInt64(Date().timeIntervalSince1970) + 3600))
        let runs = try (0..<2).map { _ in try Self.spawnPayer(f, repeat: 25) }
        var printed: [Voucher] = []
        for run in runs {
            let data = run.output.fileHandleForReading.readDataToEndOfFile()
            run.process.waitUntilExit()
            run.expectNoSanitizerReport()
            printed += try Self.vouchers(data)
        }
        #expect(printed.count == 30, "30 payments fit the total; \(printed.count) were released")
        try Self.checkInvariants(f, printed: printed, total: total)
        #expect(try Self.ledger(f).spent == total)
    }

    /// Where a stopped payer stood, seen from outside: holding SQLite's write lock (inside a payment's
    /// transaction, between BEGIN and the end of COMMIT), past a commit whose voucher it has not printed,
    /// or between payments.
    enum Moment: String, CaseIterable {
        case inTransaction = "inside a payment's transaction"
        case recordedNotPrinted = "after a commit, before printing its voucher"
        case betweenPayments = "between payments"
    }

    static func moment(_ f: WalletFixture, printed: Int, reissued: Int) throws -> (Moment, committed: Int) {
        var configuration = Configuration()
        configuration.busyMode = .timeout(0.05)
        let queue = try DatabaseQueue(path: f.directory + "/" + Wallet.databaseFile, configuration: configuration)
        defer { try? queue.close() }
        let committed = try queue.read { db in try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM voucher") ?? 0 }
        do {
            try queue.writeWithoutTransaction { db in
                try db.execute(sql: "BEGIN IMMEDIATE")
                try db.execute(sql: "ROLLBACK")
            }
        } catch let error as DatabaseError where error.resultCode == .SQLITE_BUSY {
            return (.inTransaction, committed)
        }
        return (committed > printed && printed >= reissued ? .recordedNotPrinted : .betweenPayments, committed)
    }

    /// Complete lines of a payer's output file (a line cut by the kill was never fully released).
    static func lines(_ path: String) -> [String] {
        var lines = ((try? String(contentsOfFile: path, encoding: .utf8)) ?? "").components(separatedBy: "\n")
        lines.removeLast()
        return lines
    }

    static func waitStopped(_ pid: Int32) throws {
        for _ in 0..<10_000 {
            let stat = (try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8)) ?? ""
            // The state follows the parenthesised command name: T when stopped by SIGSTOP.
            if let close = stat.lastIndex(of: ")"), stat[stat.index(close, offsetBy: 2)] == "T" { return }
            usleep(100)
        }
        throw WalletError.invalid("payer \(pid) did not stop")
    }

    /// `wallet pay --key … --repeat` SIGKILLed at seeded random moments (the seed is printed). Each payer
    /// is first stopped (SIGSTOP) at random moments until it stands where a kill proves something — inside
    /// a payment's transaction, or after a commit and before its voucher is printed — and killed there;
    /// both must happen. After every kill: the ledger holds what was committed when it stopped (an open
    /// transaction leaves nothing), the invariants hold, and every run reissues each earlier key's voucher
    /// byte for byte, including the one the killed run recorded but never printed. Nothing lost or doubled.
    @Test func killedAtRandomMomentsMidPaymentNothingIsLostOrDoubled() throws {
        var random = SeededGenerator.announced(for: "killedAtRandomMomentsMidPaymentNothingIsLostOrDoubled")
        let f = try WalletFixture()
        defer { f.cleanup() }
        // Room to spare: each round's search lets its payer run on between stops (at most `attempts` times).
        let payments = 500
        let attempts = 30
        let total = WalletFixture.wei("0.05")
        try f.wallet.importDelegation(
            try f.delegation(
                allowances: [Allowance(token: .zero, total: total, perPayment: WalletFixture.wei("0.0001"))],
                after: 0, until: UInt64(Date().timeIntervalSince1970) + 3600))
        /// The voucher line first released for each key index: every later release must be identical.
        var released: [String] = []
        var printedAll: [Voucher] = []
        var kills: [Moment: Int] = [:]
        /// Checks one run's output against what was released before and against the ledger's rows.
        func check(_ lines: [String]) throws {
            let rows = try Self.ledger(f).rows
            #expect(lines.count <= rows.count, "\(lines.count) vouchers printed, \(rows.count) recorded")
            for (index, line) in lines.enumerated() {
                if index < released.count {
                    #expect(line == released[index], "key pay-\(index) was reissued differently")
                } else {
                    released.append(line)
                    printedAll += try Self.vouchers(Data((line + "\n").utf8))
                }
                let voucher = try Self.vouchers(Data((line + "\n").utf8))[0]
                #expect(voucher.sequence == UInt64(index + 1) && index < rows.count && voucher.cumulative == rows[index].cumulative)
            }
            try Self.checkInvariants(f, printed: printedAll, total: total)
        }
        for round in 0..<10 {
            let reissued = try Self.ledger(f).rows.count
            let outputPath = f.directory + "/round-\(round).out"
            let run = try Self.spawnPayer(f, repeat: payments, key: "pay", outputPath: outputPath)
            let pid = run.process.processIdentifier
            // Into new payments first: past the reissued vouchers and 0–2 new ones.
            let fresh = reissued + 1 + Int.random(in: 0...2, using: &random)
            let start = ContinuousClock.now
            while Self.lines(outputPath).count < fresh, run.process.isRunning, ContinuousClock.now - start < .seconds(60) { usleep(200) }
            // The moment still missing is looked for first; once both were seen, any moment will do.
            let wanted = [Moment.inTransaction, .recordedNotPrinted].first { kills[$0] == nil }
            var moment = Moment.betweenPayments
            var committed = reissued
            for attempt in 0..<attempts where run.process.isRunning {
                usleep(UInt32.random(in: 0...2_000, using: &random))
                kill(pid, SIGSTOP)
                try Self.waitStopped(pid)
                (moment, committed) = try Self.moment(f, printed: Self.lines(outputPath).count, reissued: reissued)
                if wanted == nil || moment == wanted || attempt == attempts - 1 { break }
                kill(pid, SIGCONT)
            }
            kill(pid, SIGKILL)
            run.process.waitUntilExit()
            #expect(run.process.terminationReason == .uncaughtSignal, "round \(round): the payer ended before the kill")
            run.expectNoSanitizerReport()
            kills[moment, default: 0] += 1
            let after = try Self.ledger(f).rows.count
            // An open transaction died with the payer, unless its commit had reached the log already.
            let expected = moment == .inTransaction ? [committed, committed + 1] : [committed]
            #expect(expected.contains(after), "round \(round) (\(moment.rawValue)): \(committed) committed at the stop, \(after) after")
            let lines = Self.lines(outputPath)
            #expect(lines.count > reissued, "round \(round): the killed run printed no new voucher")
            try check(lines)
        }
        print("random kills: " + Moment.allCases.map { "\(kills[$0] ?? 0) \($0.rawValue)" }.joined(separator: ", "))
        #expect(kills[.inTransaction] != nil, "no kill landed inside a payment's transaction")
        #expect(kills[.recordedNotPrinted] != nil, "no kill landed between a commit and its voucher's printing")
        // A last payer reissues everything, pays up to the cap exactly, and is refused one more.
        let outputPath = f.directory + "/last.out"
        let last = try Self.spawnPayer(f, repeat: payments + 1, key: "pay", outputPath: outputPath)
        last.process.waitUntilExit()
        last.expectNoSanitizerReport()
        #expect(last.process.terminationStatus == 1, "the payer stops with a refusal at the cap: \(last.errors)")
        let lines = Self.lines(outputPath)
        #expect(lines.count == payments)
        try check(lines)
        #expect(try Self.ledger(f).spent == total)
        #expect(try Self.ledger(f).rows.count == payments)
    }
}
