import Delegation
import Ethereum
import Foundation
import OpenPGPCard
import PCSC
import SoftToken
import TestSupport
import Testing

@testable import Bridge

/// The whole stack: the real pcscd, a soft OpenPGP card in vpcd's SECOND slot (the first belongs to
/// the hardware suites), the bridge on a temporary socket, and the `paratii approve` executable
/// driving the card with a PIN file. Fails (never skips) when pcscd or the reader is missing.
@Suite(.serialized, .timeLimit(.minutes(15))) struct CardFlowTests {
    static let reader = "Virtual PCD 00 01"
    static let vpcdPort: UInt16 = 35964

    /// A flock held for one test; waits without holding a thread of the cooperative pool (other
    /// suites need it to finish). vpcd's second slot is shared with DoctorOnPCSCDTests and other runs
    /// (exclusive, per test); pcscd restarts by the hardware suites happen only under LOCK_EX of the
    /// restart lock, so a test talking to pcscd holds that one shared.
    final class FileLock {
        private let fd: Int32
        private init(fd: Int32) { self.fd = fd }

        static func acquire(_ path: String, shared: Bool, patience: TimeInterval, holder: String) async throws -> FileLock {
            let fd = open(path, O_CREAT | O_RDWR, 0o666)
            try #require(fd >= 0)
            let deadline = Date().addingTimeInterval(patience)
            while flock(fd, (shared ? LOCK_SH : LOCK_EX) | LOCK_NB) != 0 {
                if Date() >= deadline { close(fd) }
                try #require(Date() < deadline, "\(holder) held \(path) for \(Int(patience)) s")
                try await Task.sleep(for: .milliseconds(100))
            }
            return FileLock(fd: fd)
        }

        static func secondSlot() async throws -> FileLock {
            try await acquire("/tmp/paratii-vpcd-slot1.lock", shared: false, patience: 600, holder: "another test on vpcd's second slot")
        }

        static func noRestart() async throws -> FileLock {
            try await acquire("/tmp/paratii-pcscd-restart.lock", shared: true, patience: 300, holder: "pcscd restarts")
        }

        deinit { flock(fd, LOCK_UN); close(fd) }
    }

    static var binary: URL {
        if let override = ProcessInfo.processInfo.environment["PARATII_BIN_DIR"] {
            return URL(fileURLWithPath: override).appendingPathComponent("paratii")
        }
        var url = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath()
        while url.path != "/"
            && !FileManager.default.fileExists(atPath: url.deletingLastPathComponent().appendingPathComponent("paratii").path)
        {
            url = url.deletingLastPathComponent()
        }
        return url.deletingLastPathComponent().appendingPathComponent("paratii")
    }

    static func waitForCard(_ present: Bool, _ context: PCSCContext) throws {
        let deadline = Date().addingTimeInterval(10)
        while Date() < deadline {
            if let state = try? context.readerStates().first(where: { $0.name == reader }), state.cardPresent == present { return }
            Thread.sleep(forTimeInterval: 0.05)
        }
        Issue.record("timed out waiting for the card to be \(present ? "inserted" : "removed")")
        throw PCSCError.timeout
    }

    static func run(_ arguments: [String]) async throws -> (status: Int32, stdout: String, stderr: String) {
        try await runProgram(binary.path, arguments)
    }

    /// Runs any program (stdin empty) and returns its exit status and output.
    static func runProgram(_ path: String, _ arguments: [String]) async throws -> (status: Int32, stdout: String, stderr: String) {
        let (result, deadline) = try await call {
            let process = Process()
            process.executableURL = URL(fileURLWithPath: path)
            process.arguments = arguments
            let out = Pipe(), err = Pipe()
            process.standardOutput = out
            process.standardError = err
            process.standardInput = FileHandle.nullDevice
            try process.run()
            let deadline = ChildDeadline(process)
            let outData = out.fileHandleForReading.readDataToEndOfFile()
            let errData = err.fileHandleForReading.readDataToEndOfFile()
            process.waitUntilExit()
            deadline.disarm()
            let result = (process.terminationStatus, String(decoding: outData, as: UTF8.self), String(decoding: errData, as: UTF8.self))
            return (result, deadline)
        }
        // Recorded here, in the test's task, so the issue is the test's.
        if deadline.fired { Issue.record("\(deadline.describe(([path] + arguments).joined(separator: " ")))") }
        return result
    }

    /// A fresh soft card with a secp256k1 key, plugged into the second slot.
    final class Plugged: @unchecked Sendable {
        let connection: VPCDConnection
        let master: Address
        init(_ context: PCSCContext) throws {
            try waitForCard(false, context)
            let dir = "/tmp/pb-card-\(UUID().uuidString.prefix(8))"
            try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
            let path = dir + "/card.json"
            try SoftCardState.factoryFresh(serial: SoftCardState.randomSerial(), insecure: true).save(path: path)
            connection = VPCDConnection(card: try SoftCard(path: path, passphrase: nil), port: vpcdPort)
            connection.start()
            #expect(connection.waitUntilConnected(timeout: 10), "the soft card could not reach vpcd on port \(vpcdPort)")
            try waitForCard(true, context)
            let card = OpenPGPCard(channel: try context.connect(reader: reader))
            try card.setSignatureAlgorithmSecp256k1(adminPIN: PIN("12345678"))
            master = try card.generateSigningKey(adminPIN: PIN("12345678")).address
        }
        func unplug(_ context: PCSCContext) {
            connection.stop()
            try? waitForCard(false, context)
        }
        deinit { connection.stop() }
    }

    func setUp() throws -> PCSCContext {
        let context = try PCSCContext()
        let readers = try context.readers()
        try #require(readers.contains(Self.reader), "pcscd has no '\(Self.reader)' reader (scripts/pcscd-up): \(readers)")
        try #require(FileManager.default.isExecutableFile(atPath: Self.binary.path), "no paratii executable at \(Self.binary.path)")
        return context
    }

    func files(_ bridge: TestBridge) throws -> (config: String, pin: String, badPin: String) {
        let config = bridge.directory + "/config.json"
        try Data(#"{"chainId": 1337, "ptiToken": "0x1111111111111111111111111111111111111111"}"#.utf8).write(
            to: URL(fileURLWithPath: config))
        try Data("123456\n".utf8).write(to: URL(fileURLWithPath: bridge.directory + "/pin"))
        try Data("654321\n".utf8).write(to: URL(fileURLWithPath: bridge.directory + "/bad-pin"))
        return (config, bridge.directory + "/pin", bridge.directory + "/bad-pin")
    }

    @Test func pairRequestApproveWithPINVerifiesToTheCard() async throws {
        let slot = try await FileLock.secondSlot()
        let noRestart = try await FileLock.noRestart()
        defer { withExtendedLifetime((slot, noRestart)) {} }
        let context = try setUp()
        let card = try Plugged(context)
        defer { card.unplug(context) }
        let bridge = try await TestBridge(tokens: TokenListing.tokens, watchTokens: true)
        let (config, pin, badPin) = try files(bridge)
        let player = bridge.client(token: try await bridge.pair())

        // The token list shows the card: reader, master address, tries, counter; never a PIN.
        // Polled until it comes (a long poll answers at once when other events exist; a loaded machine may
        // record the insertion after them).
        var sawInsertion = false
        let insertionDeadline = Date().addingTimeInterval(60)
        while !sawInsertion && Date() < insertionDeadline {
            let inserted = try await call { try player.get("/v1/events?since=0&timeout=5") }
            sawInsertion =
                inserted.json?["events"]?.arrayValue?.contains {
                    $0["type"] == .string("token.inserted") && $0["id"] == .string(Self.reader)
                } == true
            if !sawInsertion { try await Task.sleep(for: .milliseconds(200)) }
        }
        #expect(sawInsertion, "no token.inserted event for \(Self.reader)")
        let tokens = try await call { try player.get("/v1/tokens") }
        let entry = try #require(tokens.json?["tokens"]?.arrayValue?.first { $0["reader"] == .string(Self.reader) })
        #expect(entry["master"] == .string(card.master.checksummed))
        #expect(entry["pinTries"] == .number("3"))
        #expect(entry["signatureCounter"] == .number("0"))

        let id = try #require(try await call { try player.post("/v1/delegation-requests", SecurityTests.request) }.json?["id"]?.stringValue)
        let listed = try await Self.run(["approve", "--socket", bridge.settings.socketPath, "--config", config])
        #expect(listed.status == 0)
        #expect(listed.stdout.contains(id) && listed.stdout.contains("ETH: total 0.05"), "\(listed.stdout)")

        // A wrong PIN: refused, one try spent, the request still pending.
        let wrong = try await Self.run([
            "approve", id, "--socket", bridge.settings.socketPath, "--config", config, "--reader", Self.reader, "--pin-file", badPin,
        ])
        #expect(wrong.status != 0)
        #expect(wrong.stderr.contains("wrong PIN"), "\(wrong.stderr)")
        #expect(try await call { try player.get("/v1/delegation-requests/\(id)") }.json?["state"] == .string("pending"))

        let approved = try await Self.run([
            "approve", id, "--socket", bridge.settings.socketPath, "--config", config, "--reader", Self.reader, "--pin-file", pin,
        ])
        #expect(approved.status == 0, "\(approved.stderr)")
        let polled = try await call { try player.get("/v1/delegation-requests/\(id)") }
        #expect(polled.json?["state"] == .string("approved"))
        let envelope = try Envelope(json: try #require(polled.json?["envelope"]))
        let verdict = Verifier(domain: bridge.settings.chain.domain).verify(envelope, at: UInt64(Date().timeIntervalSince1970) + 1)
        #expect(verdict.valid, "\(verdict.detail)")
        #expect(verdict.master == card.master)

        // The audit log carries the card's counter; the chain verifies.
        let report = try await bridge.store.verifyAudit()
        #expect(report.broken.isEmpty && report.signatures == 1 && report.counterGaps.isEmpty)
        #expect(try await bridge.store.auditEntries().last { $0.signatureCounter != nil }?.signatureCounter == 1)

        // Deny through the CLI.
        let second = try #require(
            try await call { try player.post("/v1/delegation-requests", SecurityTests.request) }.json?["id"]?.stringValue)
        #expect(try await Self.run(["approve", second, "--deny", "--socket", bridge.settings.socketPath, "--config", config]).status == 0)
        #expect(try await call { try player.get("/v1/delegation-requests/\(second)") }.json?["state"] == .string("denied"))

        // Card removed: approving fails cleanly and the request stays for when the card is back.
        let third = try #require(
            try await call { try player.post("/v1/delegation-requests", SecurityTests.request) }.json?["id"]?.stringValue)
        let before = try await bridge.store.revision()
        card.unplug(context)
        // The watcher reports the removal to long-polling players.
        // (Other suites' cards come and go in the first slot meanwhile: keep polling from each answer's revision.)
        var since = before
        var sawRemoval = false
        let eventsDeadline = Date().addingTimeInterval(120)
        while !sawRemoval && Date() < eventsDeadline {
            let events = try await call { [since] in try player.get("/v1/events?since=\(since)&timeout=5") }
            sawRemoval =
                events.json?["events"]?.arrayValue?.contains { $0["type"] == .string("token.removed") && $0["id"] == .string(Self.reader) }
                == true
            if case .number(let text) = events.json?["revision"], let revision = Int64(text) { since = revision }
        }
        #expect(sawRemoval, "no token.removed event for \(Self.reader)")
        let removed = try await Self.run([
            "approve", third, "--socket", bridge.settings.socketPath, "--config", config, "--reader", Self.reader, "--pin-file", pin,
        ])
        #expect(removed.status != 0)
        #expect(removed.stderr.contains("no card"), "\(removed.stderr)")
        await bridge.stop()
    }

    @Test func walletRequestsDelegationThroughTheBridge() async throws {
        let rig = try await CardBridgeRig()
        let (card, bridge, config, pin) = (rig.card, rig.bridge, rig.config, rig.pin)
        let walletDir = bridge.directory + "/wallet"
        try Data("wallet password\n".utf8).write(to: URL(fileURLWithPath: bridge.directory + "/password"))
        let created = try await Self.run([
            "wallet", "init", "--dir", walletDir, "--password-file", bridge.directory + "/password", "--scrypt-n", "1024",
        ])
        #expect(created.status == 0, "\(created.stderr)")

        // The player asks (pairing first); the user approves the pairing, then the request, on the bridge side.
        async let asked = Self.run([
            "wallet", "request-delegation", "--dir", walletDir, "--password-file", bridge.directory + "/password",
            "--bridge", bridge.settings.socketPath, "--name", "test player",
            "--allowance", "token=ETH,total=0.05,per-payment=0.001", "--valid-for", "7d", "--timeout", "300",
        ])
        let pairing = try await bridge.waitPending("pairings")
        // The user must type the code the player shows: a wrong one, or none without a terminal, approves nothing.
        let noCode = try await Self.run(["approve", pairing, "--socket", bridge.settings.socketPath])
        #expect(noCode.status != 0 && noCode.stderr.contains("give --code"), "\(noCode.stderr)")
        let wrongCode = try await Self.run(["approve", pairing, "--socket", bridge.settings.socketPath, "--code", "000000x"])
        #expect(wrongCode.status != 0 && wrongCode.stderr.contains("stays pending"), "\(wrongCode.stderr)")
        #expect(try await bridge.store.pairing(pairing)?.state == .pending)
        let code = try #require(try await bridge.store.pairing(pairing)?.code)
        #expect(try await Self.run(["approve", pairing, "--socket", bridge.settings.socketPath, "--code", code]).status == 0)
        let request = try await bridge.waitPending("requests")
        let approved = try await Self.run([
            "approve", request, "--socket", bridge.settings.socketPath, "--config", config, "--reader", Self.reader, "--pin-file", pin,
        ])
        #expect(approved.status == 0, "\(approved.stderr)")
        let result = try await asked
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout.contains("imported") && result.stdout.contains(card.master.checksummed), "\(result.stdout)")
        var info = stat()
        #expect(stat(walletDir + "/bridge-token.json", &info) == 0 && info.st_mode & 0o777 == 0o600)
        await rig.finish()
    }
}
