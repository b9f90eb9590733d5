import Ethereum
import Foundation
import OpenPGPCard
import PCSC
import SoftToken
import TestSupport
import Testing

/// Shared plumbing for the hardware-path tests: the real pcscd with vsmartcard's vpcd, and a software
/// OpenPGP card plugged into its first slot. Nothing here is a PC/SC mock.
enum Rig {
    static let reader = "Virtual PCD 00 00"
    static let vpcdPort: UInt16 = 35963

    static var repositoryRoot: URL {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    }

    /// The directory the test binary was built into; the `paratii` executable sits next to it.
    static var binaryDirectory: URL {
        if let override = ProcessInfo.processInfo.environment["PARATII_BIN_DIR"] { return URL(fileURLWithPath: override) }
        var url = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath()
        while url.path != "/"
            && !FileManager.default.fileExists(atPath: url.deletingLastPathComponent().appendingPathComponent("paratii").path)
        {
            url = url.deletingLastPathComponent()
        }
        return url.deletingLastPathComponent()
    }

    static func temporaryDirectory() throws -> URL {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("paratii-hw-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        return dir
    }

    /// One test process at a time drives vpcd's slot and may restart pcscd: a lock file shared by
    /// every checkout on the machine (held until the process exits) keeps concurrent runs apart.
    nonisolated(unsafe) static var lockFD: Int32 = -1
    static func lockTheRig() throws {
        if lockFD >= 0 { return }
        let fd = open("/tmp/paratii-hardware-tests.lock", O_CREAT | O_RDWR, 0o666)
        try #require(fd >= 0, "cannot open the rig lock file")
        let deadline = Date().addingTimeInterval(600)
        while flock(fd, LOCK_EX | LOCK_NB) != 0 {
            try #require(Date() < deadline, "another test run held the pcscd rig for 10 minutes")
            Thread.sleep(forTimeInterval: 0.2)
        }
        lockFD = fd
    }

    /// Restarting pcscd is exclusive. Any test (in this process or another) that must not see pcscd
    /// restart under it can hold `flock(LOCK_SH)` on this file while it talks to pcscd; the restart
    /// tests take `LOCK_EX` on it, so they wait until no such test is running.
    static let restartLockPath = "/tmp/paratii-pcscd-restart.lock"

    final class RestartLock {
        private let fd: Int32
        init(timeout: TimeInterval = 300) throws {
            fd = open(Rig.restartLockPath, O_CREAT | O_RDWR, 0o666)
            try #require(fd >= 0, "cannot open \(Rig.restartLockPath)")
            let deadline = Date().addingTimeInterval(timeout)
            while flock(fd, LOCK_EX | LOCK_NB) != 0 {
                if Date() >= deadline {
                    close(fd)
                    Issue.record("other tests held \(Rig.restartLockPath) (shared) for \(Int(timeout)) s: cannot restart pcscd")
                    throw PCSCError.timeout
                }
                Thread.sleep(forTimeInterval: 0.1)
            }
        }
        func release() { flock(fd, LOCK_UN); close(fd) }
    }

    /// Fails (never skips) when pcscd or the vpcd reader is missing: CI must not pass without them.
    static func requirePCSCD() throws -> PCSCContext {
        try lockTheRig()
        let context: PCSCContext
        do { context = try PCSCContext() } catch {
            Issue.record("pcscd is not reachable (\(error)): run scripts/pcscd-up")
            throw error
        }
        let readers = try context.readers()
        try #require(readers.contains(reader), "pcscd has no '\(reader)' reader (vsmartcard-vpcd missing?): \(readers)")
        return context
    }

    /// vpcd's second slot, shared with the Doctor and Bridge suites (and other runs) under its own lock.
    static let secondReader = "Virtual PCD 00 01"
    static let secondPort: UInt16 = 35964

    /// A flock held until released or deinit: `/tmp/paratii-vpcd-slot1.lock` exclusive while a test
    /// uses the second slot, the restart lock shared while it talks to pcscd.
    final class FileLock {
        private let fd: Int32
        init(_ path: String, shared: Bool, patience: TimeInterval = 600) throws {
            fd = open(path, O_CREAT | O_RDWR, 0o666)
            try #require(fd >= 0, "cannot open \(path)")
            let deadline = Date().addingTimeInterval(patience)
            while flock(fd, (shared ? LOCK_SH : LOCK_EX) | LOCK_NB) != 0 {
                if Date() >= deadline { close(fd) }
                try #require(Date() < deadline, "other tests held \(path) for \(Int(patience)) s")
                Thread.sleep(forTimeInterval: 0.1)
            }
        }
        static func secondSlot() throws -> FileLock { try FileLock("/tmp/paratii-vpcd-slot1.lock", shared: false) }
        static func noRestart() throws -> FileLock { try FileLock(Rig.restartLockPath, shared: true, patience: 300) }
        deinit { flock(fd, LOCK_UN); close(fd) }
    }

    /// Waits until pcscd sees a card present (or absent) in the reader.
    static func waitForCard(_ present: Bool, context: PCSCContext, reader: String = Rig.reader, timeout: TimeInterval = 10) throws {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            if let state = try? context.readerStates().first(where: { $0.name == reader }), state.cardPresent == present { return }
            Thread.sleep(forTimeInterval: 0.05)
        }
        Issue.record("timed out waiting for card \(present ? "insertion" : "removal") in \(reader)")
        throw PCSCError.timeout
    }

    /// True once `pid` is gone or a zombie (PID 1 in containers may not reap a daemon).
    static func waitForExit(_ pid: Int32, timeout: TimeInterval) -> Bool {
        let deadline = Date().addingTimeInterval(timeout)
        repeat {
            guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
                let close = stat.lastIndex(of: ")")
            else { return true }
            let state = stat[stat.index(close, offsetBy: 2)...].prefix(1)
            if state == "Z" || state == "X" { return true }
            Thread.sleep(forTimeInterval: 0.05)
        } while Date() < deadline
        return false
    }

    static func run(
        _ executable: URL, _ arguments: [String], stdin: String? = nil, environment: [String: String] = [:],
        directory: String? = nil
    ) throws -> (status: Int32, stdout: String, stderr: String) {
        let process = Process()
        process.executableURL = executable
        process.arguments = arguments
        if let directory { process.currentDirectoryURL = URL(fileURLWithPath: directory) }
        var env = ProcessInfo.processInfo.environment
        for (k, v) in environment { env[k] = v }
        process.environment = env
        let out = Pipe(), err = Pipe(), input = Pipe()
        process.standardOutput = out
        process.standardError = err
        process.standardInput = input
        try process.run()
        let deadline = ChildDeadline(process)
        if let stdin { input.fileHandleForWriting.write(Data(stdin.utf8)) }
        try input.fileHandleForWriting.close()
        let outData = out.fileHandleForReading.readDataToEndOfFile()
        let errData = err.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        deadline.disarm()
        if deadline.fired { Issue.record("\(deadline.describe(([executable.path] + arguments).joined(separator: " ")))") }
        return (process.terminationStatus, String(decoding: outData, as: UTF8.self), String(decoding: errData, as: UTF8.self))
    }
}

/// A software card plugged into the first vpcd slot for the duration of a test.
final class PluggedSoftCard {
    let card: SoftCard
    let connection: VPCDConnection
    let statePath: String

    let reader: String

    /// A factory-fresh card, or (`statePath`) one whose state file already exists, in the first slot
    /// unless `second`.
    init(
        serial: [UInt8] = SoftCardState.randomSerial(), statePath existing: String? = nil, second: Bool = false, context: PCSCContext
    ) throws {
        reader = second ? Rig.secondReader : Rig.reader
        // A previous test's card must be gone from pcscd's view before this one counts as inserted
        // (in the second slot, possibly another run's, which may take a while to leave).
        try Rig.waitForCard(false, context: context, reader: reader, timeout: second ? 60 : 10)
        if let existing {
            statePath = existing
        } else {
            statePath = try Rig.temporaryDirectory().appendingPathComponent("card.json").path
            try SoftCardState.factoryFresh(serial: serial, insecure: true).save(path: statePath)
        }
        card = try SoftCard(path: statePath, passphrase: nil)
        let port = second ? Rig.secondPort : Rig.vpcdPort
        connection = VPCDConnection(card: card, port: port)
        connection.start()
        #expect(connection.waitUntilConnected(timeout: 10), "the soft card could not reach vpcd on port \(port)")
        try Rig.waitForCard(true, context: context, reader: reader)
    }

    func unplug(context: PCSCContext) throws {
        connection.stop()
        try Rig.waitForCard(false, context: context, reader: reader)
    }

    private init(card: SoftCard, connection: VPCDConnection, statePath: String) {
        self.card = card
        self.connection = connection
        self.statePath = statePath
        reader = Rig.reader
    }

    /// Starts a card without asking pcscd anything (for when pcscd is down; vpcd is dialled until it is back).
    static func unchecked(serial: [UInt8]) throws -> PluggedSoftCard {
        let path = try Rig.temporaryDirectory().appendingPathComponent("card.json").path
        try SoftCardState.factoryFresh(serial: serial, insecure: true).save(path: path)
        let card = try SoftCard(path: path, passphrase: nil)
        let connection = VPCDConnection(card: card, port: Rig.vpcdPort)
        connection.start()
        return PluggedSoftCard(card: card, connection: connection, statePath: path)
    }

    /// Stops the card and waits until pcscd has noticed, so the next test starts from an empty reader.
    func remove(context: PCSCContext) {
        connection.stop()
        try? Rig.waitForCard(false, context: context, reader: reader)
    }

    deinit { connection.stop() }
}
