import Doctor
import Foundation
import OpenPGPCard
import PCSC
import SoftToken
import TestSupport
import Testing
import TokenHub

/// Doctor against the real pcscd on this machine (no USB bus), with a software card in vpcd's SECOND
/// slot so the hardware-path tests keep the first. Fails, never skips, when pcscd is missing.
@Suite(.serialized, .timeLimit(.minutes(15)))
struct DoctorOnPCSCDTests {
    static let reader = "Virtual PCD 00 01"
    static let port: UInt16 = 35964

    /// vpcd's second slot is shared with the bridge's card tests (Tests/BridgeTests/CardFlowTests.swift),
    /// which may run in parallel in this process or in another: each test holds this flock meanwhile.
    /// The hardware drills restart pcscd only under LOCK_EX of the restart lock, so a test talking to
    /// pcscd also holds that one shared (taken after the slot, in CardFlowTests' order).
    final class SlotLock {
        static let slotPath = "/tmp/paratii-vpcd-slot1.lock"
        static let restartPath = "/tmp/paratii-pcscd-restart.lock"
        private let fds: [Int32]
        private init(fds: [Int32]) { self.fds = fds }
        /// Waits without holding a thread of the cooperative pool (other suites need it to finish).
        static func acquire() async throws -> SlotLock {
            let slot = try await lock(slotPath, shared: false, patience: 600, holder: "another test on vpcd's second slot")
            do {
                return SlotLock(fds: [slot, try await lock(restartPath, shared: true, patience: 300, holder: "a pcscd restart")])
            } catch {
                flock(slot, LOCK_UN)
                close(slot)
                throw error
            }
        }
        private static func lock(_ path: String, shared: Bool, patience: TimeInterval, holder: String) async throws -> Int32 {
            let fd = open(path, O_CREAT | O_RDWR, 0o666)
            try #require(fd >= 0, "cannot open \(path)")
            let deadline = Date().addingTimeInterval(patience)
            while flock(fd, (shared ? LOCK_SH : LOCK_EX) | LOCK_NB) != 0 {
                if Date() >= deadline { close(fd) }
                try #require(Date() < deadline, "\(holder) held \(path) for \(Int(patience)) s")
                try await Task.sleep(for: .milliseconds(100))
            }
            return fd
        }
        deinit {
            for fd in fds.reversed() {
                flock(fd, LOCK_UN)
                close(fd)
            }
        }
    }

    /// pcscd with our reader; waits out a restart by the hardware-path tests running alongside.
    static func requirePCSCD() throws -> PCSCContext {
        let deadline = Date().addingTimeInterval(15)
        var lastError: Error?
        while Date() < deadline {
            do {
                let context = try PCSCContext()
                if try context.readers().contains(reader) { return context }
            } catch { lastError = error }
            Thread.sleep(forTimeInterval: 0.2)
        }
        Issue.record(
            "pcscd is not reachable or has no '\(reader)' reader (\(lastError.map { "\($0)" } ?? "reader missing")): run scripts/pcscd-up")
        throw PCSCError.noService
    }

    static func waitForCard(_ present: Bool, _ context: PCSCContext) throws {
        let deadline = Date().addingTimeInterval(10)
        while Date() < deadline {
            if let state = try? context.readerStates().first(where: { $0.name == reader }), state.cardPresent == present { return }
            Thread.sleep(forTimeInterval: 0.05)
        }
        Issue.record("timed out waiting for card \(present ? "insertion" : "removal") in \(reader)")
        throw PCSCError.timeout
    }

    /// Runs doctor examining only our reader (never the hardware tests' card), retrying across a pcscd restart.
    static func diagnose() throws -> Report {
        var report = Doctor(examine: { $0 == reader }).run()
        let deadline = Date().addingTimeInterval(15)
        while report.findings("pcscd.reachable").isEmpty && Date() < deadline {
            Thread.sleep(forTimeInterval: 0.2)
            report = Doctor(examine: { $0 == reader }).run()
        }
        return report
    }

    @Test func thisMachineWithoutACard() async throws {
        let slot = try await SlotLock.acquire()
        defer { withExtendedLifetime(slot) {} }
        let context = try Self.requirePCSCD()
        try Self.waitForCard(false, context)
        let report = try Self.diagnose()
        #expect(report.findings("pcscd.reachable").first?.severity == .ok)
        #expect(report.findings("pcscd.reader").contains { $0.summary == "reader '\(Self.reader)': empty" })
        // No USB bus here: information, never an error.
        let usb = report.findings.filter { $0.area == "usb" }
        #expect(usb.contains { ["usb.unavailable", "usb.noDevices", "usb.noKnownTokens"].contains($0.id) && $0.severity == .info })
        #expect(!usb.contains { $0.severity == .error })
        #expect(!report.findings.contains { $0.area == "card" })
    }

    @Test func softCardIsReportedHealthy() async throws {
        let slot = try await SlotLock.acquire()
        defer { withExtendedLifetime(slot) {} }
        let context = try Self.requirePCSCD()
        try Self.waitForCard(false, context)
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("paratii-doctor-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("card.json").path
        try SoftCardState.factoryFresh(serial: [0xD0, 0xC7, 0x00, 0x01], insecure: true).save(path: path)
        let connection = VPCDConnection(card: try SoftCard(path: path, passphrase: nil), port: Self.port)
        connection.start()
        defer {
            connection.stop()
            try? Self.waitForCard(false, context)
        }
        try #require(connection.waitUntilConnected(timeout: 10), "the soft card could not reach vpcd on port \(Self.port)")
        try Self.waitForCard(true, context)

        // Factory fresh: OpenPGP 3.4 with secp256k1 attributes, but no key yet.
        let fresh = try Self.diagnose()
        #expect(fresh.findings("card.key").first?.severity == .warning)
        #expect(fresh.findings("card.key").first?.fix == "paratii card init")

        let key = try OpenPGPCard(channel: try context.connect(reader: Self.reader)).generateSigningKey(adminPIN: .defaultAdmin)
        let report = try Self.diagnose()
        let card = report.findings.filter { $0.area == "card" }
        #expect(card.map(\.id) == ["card.openpgp", "card.algorithm", "card.key", "card.pin"], "\(card)")
        #expect(card.allSatisfy { $0.severity == .ok }, "\(card)")
        #expect(card.first?.summary.contains("OpenPGP 3.4") == true)
        #expect(card.first?.summary.contains("D0C70001") == true)
        #expect(report.findings("card.algorithm").first?.summary.contains("secp256k1") == true)
        #expect(report.findings("card.key").first?.summary.contains(key.address.checksummed) == true)
        #expect(report.findings("card.pin").first?.summary.contains("PIN tries: user 3, admin 3") == true)

        // PW1 valid for several signatures (a YubiKey so configured): an error, with the command that fixes it.
        try OpenPGPCard(channel: try context.connect(reader: Self.reader)).setSignaturePINPolicy(.several, adminPIN: .defaultAdmin)
        let several = try Self.diagnose()
        let finding = try #require(several.findings("card.signaturePINSeveral").first)
        #expect(finding.severity == .error && finding.fix == Diagnosis.setSignaturePINOnceFix)
        #expect(!several.healthy)
    }

    @Test func cliJSONAndExitStatus() async throws {
        let slot = try await SlotLock.acquire()
        defer { withExtendedLifetime(slot) {} }
        let context = try Self.requirePCSCD()
        try Self.waitForCard(false, context)
        let run = try Self.runParatii(["doctor", "--json", "--reader", Self.reader])
        let json = try #require(
            try JSONSerialization.jsonObject(with: Data(run.stdout.utf8)) as? [String: Any], "not JSON: \(run.stdout) \(run.stderr)")
        let findings = try #require(json["findings"] as? [[String: String]])
        let healthy = try #require(json["healthy"] as? Bool)
        #expect(findings.allSatisfy { Set($0.keys) == ["id", "severity", "summary", "fix"] })
        #expect(findings.contains { $0["id"] == "pcscd.reachable" && $0["severity"] == "ok" })
        #expect(healthy == !findings.contains { $0["severity"] == "error" })
        #expect(run.status == (healthy ? 0 : 1))

        let human = try Self.runParatii(["doctor", "--reader", Self.reader])
        #expect(human.stdout.contains("PC/SC\n  ✓ pcscd is running"))
        #expect(human.status == run.status)
    }

    /// pcsc-lite's client follows PCSCLITE_CSOCK_NAME: pointing it at nothing shows doctor's view of a
    /// stopped pcscd without stopping the one the other tests use.
    @Test func cliWithPCSCDUnreachable() async throws {
        let slot = try await SlotLock.acquire()
        defer { withExtendedLifetime(slot) {} }
        let run = try Self.runParatii(["doctor", "--json"], environment: ["PCSCLITE_CSOCK_NAME": "/nonexistent/paratii-doctor-test.comm"])
        #expect(run.status == 1)
        let json = try #require(
            try JSONSerialization.jsonObject(with: Data(run.stdout.utf8)) as? [String: Any], "not JSON: \(run.stdout) \(run.stderr)")
        #expect(json["healthy"] as? Bool == false)
        let findings = try #require(json["findings"] as? [[String: String]])
        #expect(
            findings.contains {
                $0["id"] == "pcscd.notRunning" && $0["severity"] == "error" && $0["summary"] == "pcscd is not running"
                    && $0["fix"] == "sudo systemctl start pcscd.socket (or scripts/pcscd-up)"
            })
    }

    /// The `paratii` executable built next to the test bundle.
    static func runParatii(
        _ arguments: [String], environment: [String: String] = [:]
    ) throws -> (status: Int32, stdout: String, stderr: String) {
        var dir = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath()
        if let override = ProcessInfo.processInfo.environment["PARATII_BIN_DIR"] {
            dir = URL(fileURLWithPath: override).appendingPathComponent("x")
        }
        while dir.path != "/"
            && !FileManager.default.fileExists(atPath: dir.deletingLastPathComponent().appendingPathComponent("paratii").path)
        {
            dir = dir.deletingLastPathComponent()
        }
        let process = Process()
        process.executableURL = dir.deletingLastPathComponent().appendingPathComponent("paratii")
        process.arguments = arguments
        process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        try process.run()
        let deadline = ChildDeadline(process)
        let stdout = out.fileHandleForReading.readDataToEndOfFile()
        let stderr = err.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        deadline.disarm()
        if deadline.fired { Issue.record("\(deadline.describe((["paratii"] + arguments).joined(separator: " ")))") }
        return (process.terminationStatus, String(decoding: stdout, as: UTF8.self), String(decoding: stderr, as: UTF8.self))
    }
}
