import BigInt
import Delegation
import Ethereum
import Foundation
import GRDB
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

    static func spawnPayer(_ f: WalletFixture, repeat count: Int) throws -> Run {
        let passwordFile = f.directory + "/password"
        if !FileManager.default.fileExists(atPath: passwordFile) {
            try f.password.write(toFile: passwordFile, atomically: true, encoding: .utf8)
        }
        let process = Process()
        process.executableURL = Binary.paratii
        process.arguments = [
            "wallet", "pay", "--dir", f.directory, "--password-file", passwordFile, "--payee", f.payee.checksummed,
            "--token", "ETH", "--amount", "0.0001", "--repeat", String(count),
        ]
        var environment = ProcessInfo.processInfo.environment
        environment["XDG_CONFIG_HOME"] = f.directory
        process.environment = environment
        let output = Pipe()
        process.standardOutput = output
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

    @Test func killedAtRandomMomentsNothingIsLostOrExceeded() throws {
        let f = try WalletFixture()
        defer { f.cleanup() }
        let total = WalletFixture.wei("0.006")
        try f.wallet.importDelegation(
            try f.delegation(
                allowances: [Allowance(token: .zero, total: total, perPayment: WalletFixture.wei("0.0001"))],
                after: 0, until: UInt64(Date().timeIntervalSince1970) + 3600))
        var printed: [Voucher] = []
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<6 {
            let run = try Self.spawnPayer(f, repeat: 60)
            usleep(UInt32.random(in: 30_000...400_000, using: &generator))
            kill(run.process.processIdentifier, SIGKILL)
            let data = run.output.fileHandleForReading.readDataToEndOfFile()
            run.process.waitUntilExit()
            run.expectNoSanitizerReport()
            printed += try Self.vouchers(data)
            try Self.checkInvariants(f, printed: printed, total: total)
        }
        // A last payer runs to the cap: the total is reached exactly and not passed.
        let last = try Self.spawnPayer(f, repeat: 61)
        let data = last.output.fileHandleForReading.readDataToEndOfFile()
        last.process.waitUntilExit()
        last.expectNoSanitizerReport()
        printed += try Self.vouchers(data)
        try Self.checkInvariants(f, printed: printed, total: total)
        #expect(try Self.ledger(f).spent == total)
        #expect(last.process.terminationStatus == 1, "the payer stops with a refusal at the cap: \(last.errors)")
    }
}
