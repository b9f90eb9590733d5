import BigInt
import Delegation
import Ethereum
import Foundation
import GRDB
import Testing

@testable import PlayerCore

/// Issue 9's fault drills for the player side: a full disk and a read-only wallet directory under a
/// real `paratii wallet pay` process, and damaged files that must be refused byte for byte.
@Suite(.serialized, .timeLimit(.minutes(5))) struct FaultDrills {
    /// ETH: 1 in total, 0.0001 a payment: the drills end on the fault, never on the cap.
    static func roomyWallet() throws -> WalletFixture {
        let f = try WalletFixture()
        try f.wallet.importDelegation(
            try f.delegation(
                allowances: [Allowance(token: .zero, total: WalletFixture.wei("1"), perPayment: WalletFixture.wei("0.0001"))],
                after: 0, until: UInt64(Date().timeIntervalSince1970) + 3600))
        try f.password.write(toFile: f.directory + "/password", atomically: true, encoding: .utf8)
        return f
    }

    static func payArguments(_ f: WalletFixture, repeat count: Int) -> [String] {
        [
            "wallet", "pay", "--dir", f.directory, "--password-file", f.directory + "/password", "--payee", f.payee.checksummed,
            "--token", "ETH", "--amount", "0.0001", "--repeat", String(count),
        ]
    }

    /// Runs `executable arguments` to the end; stdout and stderr in full.
    static func run(_ executable: String, _ arguments: [String], directory: String) throws -> (status: Int32, stdout: Data, stderr: String)
    {
        // A child run as `nobody` may not reach a suppressions file inside a private checkout: the sanitizer
        // would abort on it, so the option is dropped (the file is empty) and everything else kept.
        var environment = ["XDG_CONFIG_HOME": directory]
        if let options = ProcessInfo.processInfo.environment["TSAN_OPTIONS"] {
            environment["TSAN_OPTIONS"] = options.split(separator: ":").filter { !$0.hasPrefix("suppressions=") }.joined(separator: ":")
        }
        return try ChildProcess.run(URL(fileURLWithPath: executable), arguments, environment: environment)
    }

    static func fileBytes(_ directory: String) throws -> [String: Data] {
        var bytes: [String: Data] = [:]
        for name in try FileManager.default.contentsOfDirectory(atPath: directory) where !name.hasSuffix("-shm") {
            var isDirectory: ObjCBool = false
            if FileManager.default.fileExists(atPath: directory + "/" + name, isDirectory: &isDirectory), !isDirectory.boolValue {
                bytes[name] = try Data(contentsOf: URL(fileURLWithPath: directory + "/" + name))
            }
        }
        return bytes
    }

    static func integrityCheck(_ path: String) throws -> String {
        try DatabaseQueue(path: path).read { db in try String.fetchOne(db, sql: "PRAGMA integrity_check") ?? "" }
    }

    // MARK: - Disk full

    /// The payer runs with a file-size limit (RLIMIT_FSIZE, SIGXFSZ ignored so writes fail with
    /// EFBIG, exactly as on a full disk); no privilege needed, so it runs everywhere CI does.
    @Test func diskFullDuringPaymentsLosesNothing() throws {
        let f = try Self.roomyWallet()
        defer { f.cleanup() }
        let database = f.directory + "/" + Wallet.databaseFile
        let largest =
            [database, database + "-wal"].compactMap { try? FileManager.default.attributesOfItem(atPath: $0)[.size] as? Int }.max() ?? 0
        let limit = largest + 256 * 1024
        let limited = try Self.run(
            "/bin/sh",
            ["-c", "trap '' XFSZ; exec prlimit --fsize=\(limit) -- \"$0\" \"$@\"", Binary.paratii.path]
                + Self.payArguments(f, repeat: 100_000), directory: f.directory)
        #expect(limited.status == 1, "the payer stops with an error on the full disk: \(limited.stderr)")
        #expect(
            limited.stderr.hasPrefix("error: storage: \(database):") && limited.stderr.contains("File too large")
                && limited.stderr.contains("nothing was recorded"), "\(limited.stderr)")
        #expect(limited.stderr.split(separator: "\n").count == 1, "one clear line: \(limited.stderr)")
        var printed = try ProcessTests.vouchers(limited.stdout)
        #expect(printed.count > 3, "the limit leaves room for some payments first")
        try ProcessTests.checkInvariants(f, printed: printed, total: WalletFixture.wei("1"))
        #expect(
            try ProcessTests.ledger(f).rows.count == printed.count,
            "nothing was recorded without being released, nor released without being recorded")

        // Room again: the same wallet pays on from where it stopped.
        let after = try Self.run(Binary.paratii.path, Self.payArguments(f, repeat: 5), directory: f.directory)
        #expect(after.status == 0, "\(after.stderr)")
        let more = try ProcessTests.vouchers(after.stdout)
        #expect(more.map(\.sequence) == (1...5).map { UInt64(printed.count) + UInt64($0) })
        printed += more
        try ProcessTests.checkInvariants(f, printed: printed, total: WalletFixture.wei("1"))
        #expect(try Self.integrityCheck(database) == "ok")
    }

    // MARK: - Read-only directory

    /// Permissions do not stop root: as root the payer runs as `nobody` (setpriv) on files it owns
    /// but may not write; otherwise it runs as this user on the chmodded files. Either way the kernel
    /// refuses the writes (EACCES), which is what the drill needs.
    @Test func readOnlyWalletDirectoryRefusesAndLosesNothing() throws {
        let f = try Self.roomyWallet()
        defer {
            chmodTree(f.directory, directory: 0o700, file: 0o600)
            f.cleanup()
        }
        for _ in 0..<3 { _ = try f.pay("0.0001") }
        let before = try ProcessTests.ledger(f)
        let snapshot = try Self.fileBytes(f.directory)
        let asRoot = geteuid() == 0
        if asRoot { try #require(chown(tree: f.directory, uid: 65534, gid: 65534)) }
        chmodTree(f.directory, directory: 0o500, file: 0o400)
        var command = [Binary.paratii.path]
        if asRoot {
            // `nobody` may not reach the build directory (a checkout under /root): it runs a copy.
            let bin = FileManager.default.temporaryDirectory.appendingPathComponent("paratii-nobody-\(UUID().uuidString)").path
            try FileManager.default.createDirectory(atPath: bin, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o755])
            try FileManager.default.copyItem(atPath: Binary.paratii.path, toPath: bin + "/paratii")
            command = ["/usr/bin/setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "--", bin + "/paratii"]
        }
        defer { if asRoot { try? FileManager.default.removeItem(atPath: (command[5] as NSString).deletingLastPathComponent) } }
        let refused = try Self.run(command[0], Array(command.dropFirst()) + Self.payArguments(f, repeat: 3), directory: f.directory)
        #expect(refused.status != 0)
        #expect(refused.stdout.isEmpty, "no voucher is released that was not recorded")
        #expect(refused.stderr.contains("not writable") && refused.stderr.contains(f.directory), "\(refused.stderr)")
        #expect(refused.stderr.split(separator: "\n").count == 1, "one clear line: \(refused.stderr)")
        #expect(try Self.fileBytes(f.directory) == snapshot, "a read-only wallet is left byte for byte as it was")

        if asRoot { try #require(chown(tree: f.directory, uid: 0, gid: 0)) }
        chmodTree(f.directory, directory: 0o700, file: 0o600)
        let after = try Self.run(Binary.paratii.path, Self.payArguments(f, repeat: 2), directory: f.directory)
        #expect(after.status == 0, "\(after.stderr)")
        let ledger = try ProcessTests.ledger(f)
        #expect(ledger.rows.count == before.rows.count + 2)
        #expect(ledger.rows.map(\.sequence) == Array(1...Int64(ledger.rows.count)))
    }

    func chmodTree(_ path: String, directory: mode_t, file: mode_t) {
        for name in (try? FileManager.default.subpathsOfDirectory(atPath: path)) ?? [] {
            var isDirectory: ObjCBool = false
            _ = FileManager.default.fileExists(atPath: path + "/" + name, isDirectory: &isDirectory)
            chmod(path + "/" + name, isDirectory.boolValue ? directory : file)
        }
        chmod(path, directory)
    }

    func chown(tree path: String, uid: uid_t, gid: gid_t) -> Bool {
        let names = ((try? FileManager.default.subpathsOfDirectory(atPath: path)) ?? []).map { path + "/" + $0 } + [path]
        return names.allSatisfy { Glibc.chown($0, uid, gid) == 0 }
    }

    // MARK: - Clock moved back

    /// (A spent period never reopening is LedgerTests.periodsResetLazilyAndTheTotalHolds.) Back before
    /// the delegation starts: refused as not yet valid, nothing written, and paying resumes in sequence.
    @Test func clockMovedBackBeforeTheDelegationStartsPaysNothing() throws {
        let f = try WalletFixture()
        defer { f.cleanup() }
        try f.wallet.importDelegation(try f.delegation())
        _ = try f.pay("0.0001")
        f.clock.set(WalletFixture.start - 3600)
        do { _ = try f.pay("0.0001"); Issue.record("paid before the delegation starts") } catch let e as WalletError {
            #expect(e.refusal == .notYetValid)
        }
        #expect(try f.wallet.budget().map(\.spent) == [WalletFixture.wei("0.0001")])
        #expect(try f.wallet.history().count == 1)
        f.clock.set(WalletFixture.start)
        guard case .voucher(let voucher) = try f.pay("0.0001").message else { Issue.record("not a voucher"); return }
        #expect(voucher.sequence == 2 && voucher.cumulative == WalletFixture.wei("0.0002"))
    }

    // MARK: - Damaged files

    /// A wallet with payments in its WAL, copied as a crash would leave it (the WAL not checkpointed).
    static func crashCopy(_ f: WalletFixture, payments: Int) throws -> String {
        for _ in 0..<payments { _ = try f.pay("0.0001") }
        let copy = f.directory + "-copy-\(UUID().uuidString.prefix(6))"
        try FileManager.default.createDirectory(atPath: copy, withIntermediateDirectories: true)
        for name in [Wallet.spendingKeyFile, Wallet.databaseFile, Wallet.databaseFile + "-wal"] {
            try FileManager.default.copyItem(atPath: f.directory + "/" + name, toPath: copy + "/" + name)
        }
        return copy
    }

    /// Opens `directory`'s wallet after `damage`; the refusal names `file` and every file stays byte-identical.
    func expectRefused(
        _ directory: String, password: String, naming file: String, _ label: String,
        damage: (String) throws -> Void, sourceLocation: SourceLocation = #_sourceLocation
    ) throws {
        try damage(directory)
        let snapshot = try Self.fileBytes(directory)
        do {
            _ = try Wallet.open(directory: directory, password: password)
            Issue.record("\(label): the damaged wallet opened", sourceLocation: sourceLocation)
        } catch {
            #expect("\(error)".contains(directory + "/" + file), "\(label): \(error)", sourceLocation: sourceLocation)
        }
        #expect(try Self.fileBytes(directory) == snapshot, "\(label): a file changed", sourceLocation: sourceLocation)
    }

    static func overwrite(_ path: String, at offset: Int, with bytes: [UInt8]) throws {
        let handle = try FileHandle(forUpdating: URL(fileURLWithPath: path))
        try handle.seek(toOffset: UInt64(offset))
        try handle.write(contentsOf: bytes)
        try handle.close()
    }

    static func truncate(_ path: String, to fraction: Double) throws {
        let size = try FileManager.default.attributesOfItem(atPath: path)[.size] as! Int
        #expect(Glibc.truncate(path, off_t(Double(size) * fraction)) == 0)
    }

    @Test func damagedLedgerAndKeystoreAreRefusedByteForByte() throws {
        let f = try WalletFixture()
        defer { f.cleanup() }
        try f.wallet.importDelegation(
            try f.delegation(allowances: [Allowance(token: .zero, total: WalletFixture.wei("1"), perPayment: WalletFixture.wei("0.0001"))]))
        let db = Wallet.databaseFile, key = Wallet.spendingKeyFile
        let garbage = [UInt8](repeating: 0x5A, count: 64)

        // The control: an undamaged crash copy opens with every payment in it.
        let intact = try Self.crashCopy(f, payments: 12)
        defer { try? FileManager.default.removeItem(atPath: intact) }
        #expect(try Wallet.open(directory: intact, password: f.password).history().count == 12)

        var copies: [String] = []
        defer { for copy in copies { try? FileManager.default.removeItem(atPath: copy) } }
        func copy(checkpointed: Bool = false) throws -> String {
            let directory = try Self.crashCopy(f, payments: 2)
            if checkpointed {
                // The last connection to close checkpoints the WAL into the file and deletes it.
                try DatabaseQueue(path: directory + "/" + db).writeWithoutTransaction {
                    try $0.execute(sql: "PRAGMA wal_checkpoint(TRUNCATE)")
                }
                try? FileManager.default.removeItem(atPath: directory + "/" + db + "-wal")
                try? FileManager.default.removeItem(atPath: directory + "/" + db + "-shm")
            }
            copies.append(directory)
            return directory
        }
        try expectRefused(try copy(checkpointed: true), password: f.password, naming: db, "ledger with a garbage header") {
            try Self.overwrite($0 + "/" + db, at: 0, with: garbage)
        }
        try expectRefused(try copy(checkpointed: true), password: f.password, naming: db, "truncated ledger") {
            try Self.truncate($0 + "/" + db, to: 0.5)
        }
        // SQLite alone would replay the WAL up to the garbage, drop the payments after it and delete the file.
        try expectRefused(try copy(), password: f.password, naming: db + "-wal", "garbage in the middle of the WAL") {
            let size = try FileManager.default.attributesOfItem(atPath: $0 + "/" + db + "-wal")[.size] as! Int
            try Self.overwrite($0 + "/" + db + "-wal", at: size / 3, with: garbage)
        }
        try expectRefused(try copy(), password: f.password, naming: db + "-wal", "garbage WAL header") {
            try Self.overwrite($0 + "/" + db + "-wal", at: 0, with: [UInt8](garbage.prefix(32)))
        }
        try expectRefused(try copy(), password: f.password, naming: key, "truncated keystore JSON") {
            try Self.truncate($0 + "/" + key, to: 0.6)
        }
        for (field, label) in [("ciphertext", "flipped ciphertext byte"), ("mac", "wrong MAC")] {
            try expectRefused(try copy(), password: f.password, naming: key, label) { directory in
                let path = directory + "/" + key
                let text = try String(contentsOfFile: path, encoding: .utf8)
                let range = try #require(text.range(of: "\"\(field)\"\\s*:\\s*\"[0-9a-f]", options: .regularExpression))
                let digit = text[text.index(before: range.upperBound)]
                try text.replacingCharacters(in: text.index(before: range.upperBound)..<range.upperBound, with: digit == "0" ? "1" : "0")
                    .write(toFile: path, atomically: false, encoding: .utf8)
            }
        }
    }

    @Test func damagedPayeeStoreIsRefusedByteForByte() throws {
        let f = try WalletFixture()
        defer { f.cleanup() }
        try f.wallet.importDelegation(try f.delegation())
        let path = f.directory + "/payee.sqlite"
        let store = try PayeeStore(path: path, verifier: Verifier(domain: f.domain), clock: f.clock.closure)
        for _ in 0..<3 { _ = try store.accept(try f.pay("0.0001")) }
        let copy = f.directory + "/payee-copy.sqlite"
        try FileManager.default.copyItem(atPath: path, toPath: copy)
        try FileManager.default.copyItem(atPath: path + "-wal", toPath: copy + "-wal")
        try Self.overwrite(copy + "-wal", at: 32 + 24 + 100, with: [UInt8](repeating: 0xA5, count: 64))
        let walBefore = try Data(contentsOf: URL(fileURLWithPath: copy + "-wal")),
            dbBefore = try Data(contentsOf: URL(fileURLWithPath: copy))
        #expect(throws: WalletError.self) { _ = try PayeeStore(path: copy, verifier: Verifier(domain: f.domain)) }
        do { _ = try PayeeStore(path: copy, verifier: Verifier(domain: f.domain)) } catch {
            #expect("\(error)".contains(copy + "-wal"), "\(error)")
        }
        #expect(try Data(contentsOf: URL(fileURLWithPath: copy + "-wal")) == walBefore)
        #expect(try Data(contentsOf: URL(fileURLWithPath: copy)) == dbBefore)
        try Data(repeating: 0x5A, count: 4096).write(to: URL(fileURLWithPath: f.directory + "/payee-garbage.sqlite"))
        do {
            _ = try PayeeStore(path: f.directory + "/payee-garbage.sqlite", verifier: Verifier(domain: f.domain));
            Issue.record("garbage opened")
        } catch {
            #expect("\(error)".contains("payee-garbage.sqlite"), "\(error)")
        }
        #expect(try Data(contentsOf: URL(fileURLWithPath: f.directory + "/payee-garbage.sqlite")) == Data(repeating: 0x5A, count: 4096))
    }
}
