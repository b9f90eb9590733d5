import Delegation
import Ethereum
import Foundation
import OpenPGPCard
import PCSC
import TestSupport
import Testing

@testable import Bridge

/// README claims about `paratii approve` and the bridge's CLI that only a run of the real executable
/// against the soft card on the real pcscd can hold (issue 19 item 8; docs/readme-claims.md maps them).
@Suite(.serialized, .timeLimit(.minutes(15))) struct ReadmeClaimsTests {
    typealias Flow = CardFlowTests

    /// `paratii approve ID` with the rig's PIN file (or `pin`), plus `extra` arguments and environment.
    static func approve(
        _ rig: CardBridgeRig, _ id: String, pin: String? = nil, config: String? = nil, _ extra: [String] = [],
        environment: [String: String] = [:]
    ) -> Process {
        let process = Process()
        process.executableURL = Flow.binary
        process.arguments =
            [
                "approve", id, "--socket", rig.bridge.settings.socketPath, "--config", config ?? rig.config, "--reader", Flow.reader,
                "--pin-file", pin ?? rig.pin,
            ] + extra
        process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        process.standardInput = FileHandle.nullDevice
        return process
    }

    /// Runs `process` to its end; its exit status and stderr.
    static func finish(_ process: Process) async throws -> (status: Int32, stderr: String) {
        let (result, deadline) = try await call {
            let err = Pipe()
            process.standardError = err
            process.standardOutput = FileHandle.nullDevice
            if !process.isRunning { try process.run() }
            let deadline = ChildDeadline(process)
            let data = err.fileHandleForReading.readDataToEndOfFile()
            process.waitUntilExit()
            deadline.disarm()
            return ((process.terminationStatus, String(decoding: data, as: UTF8.self)), deadline)
        }
        if deadline.fired { Issue.record("\(deadline.describe(process.arguments?.joined(separator: " ") ?? "a child"))") }
        return result
    }

    static func request(_ rig: CardBridgeRig) async throws -> (player: BridgeClient, id: String) {
        let player = rig.bridge.client(token: try await rig.bridge.pair())
        let id = try #require(try await call { try player.post("/v1/delegation-requests", SecurityTests.request) }.json?["id"]?.stringValue)
        return (player, id)
    }

    static func state(_ player: BridgeClient, _ id: String) async throws -> JSONValue? {
        try await call { try player.get("/v1/delegation-requests/\(id)") }.json?["state"]
    }

    /// Spends wrong-PIN tries on the card directly until `left` remain.
    static func spendTries(_ rig: CardBridgeRig, leaving left: Int) throws {
        let card = OpenPGPCard(channel: try rig.context.connect(reader: Flow.reader))
        while try card.pinStatus().pw1TriesLeft > left {
            #expect(throws: OpenPGPCardError.self) { try card.verify(.userSign, pin: PIN("654321"), allowLastTry: true) }
        }
    }

    static func triesLeft(_ rig: CardBridgeRig) throws -> Int {
        try OpenPGPCard(channel: try rig.context.connect(reader: Flow.reader)).pinStatus().pw1TriesLeft
    }

    /// "a card error other than the PIN (… blocked) fails the request": the request is failed, not left
    /// pending for a PIN that can no longer be typed.
    @Test func aBlockedPINFailsTheRequest() async throws {
        let rig = try await CardBridgeRig()
        let (player, id) = try await Self.request(rig)
        try Self.spendTries(rig, leaving: 0)
        let blocked = try await Self.finish(Self.approve(rig, id))
        #expect(blocked.status != 0)
        #expect(blocked.stderr.contains("PIN blocked"), "\(blocked.stderr)")
        #expect(try await Self.state(player, id) == .string("failed"))
        await rig.finish()
    }

    /// `--allow-last-pin-try`: without it `approve` does not spend the last try, even on the right PIN
    /// (the request stays pending, the counter at 1); with it the right PIN signs.
    @Test func theLastPINTryIsSpentOnlyWithAllowLastPINTry() async throws {
        let rig = try await CardBridgeRig()
        let (player, id) = try await Self.request(rig)
        try Self.spendTries(rig, leaving: 1)
        let refused = try await Self.finish(Self.approve(rig, id))
        #expect(refused.status != 0)
        #expect(refused.stderr.contains("only one PIN try is left"), "\(refused.stderr)")
        #expect(try await Self.state(player, id) == .string("pending"))
        #expect(try Self.triesLeft(rig) == 1)
        let allowed = try await Self.finish(Self.approve(rig, id, ["--allow-last-pin-try"]))
        #expect(allowed.status == 0, "\(allowed.stderr)")
        #expect(try await Self.state(player, id) == .string("approved"))
        #expect(try Self.triesLeft(rig) == 3)
        await rig.finish()
    }

    /// "`paratii approve` signs for the chain the bridge is configured for": the user's own
    /// configuration names chain 1, the bridge chain 1337; the envelope verifies under the bridge's domain.
    @Test func approveSignsForTheBridgesChainNotTheLocalConfiguration() async throws {
        let rig = try await CardBridgeRig()
        let (player, id) = try await Self.request(rig)
        let otherChain = rig.bridge.directory + "/mainnet.json"
        try Data(#"{"chainId": 1, "ptiToken": "0x2222222222222222222222222222222222222222"}"#.utf8).write(
            to: URL(fileURLWithPath: otherChain))
        let approved = try await Self.finish(Self.approve(rig, id, config: otherChain))
        #expect(approved.status == 0, "\(approved.stderr)")
        let polled = try await call { try player.get("/v1/delegation-requests/\(id)") }
        #expect(polled.json?["state"] == .string("approved"))
        let envelope = try Envelope(json: try #require(polled.json?["envelope"]))
        #expect(envelope.domain.chainId == 1337)
        let verdict = Verifier(domain: rig.bridge.settings.chain.domain).verify(envelope, at: UInt64(Date().timeIntervalSince1970) + 1)
        #expect(verdict.valid && verdict.master == rig.card.master, "\(verdict.detail)")
        await rig.finish()
    }

    /// "One approval at a time uses the card (an exclusive lock next to the socket)": while the lock is
    /// held, `approve` waits without touching the card; released, it signs.
    @Test func oneApprovalAtATimeHoldsTheCardLock() async throws {
        let rig = try await CardBridgeRig()
        let (player, id) = try await Self.request(rig)
        let lockPath = rig.bridge.directory + "/run/card.lock"  // next to bridge.sock
        let lock = open(lockPath, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0o600)
        try #require(lock >= 0 && flock(lock, LOCK_EX) == 0)
        let counterBefore = try OpenPGPCard(channel: try rig.context.connect(reader: Flow.reader)).signatureCounter()
        let waiting = Self.approve(rig, id)
        let err = Pipe()
        waiting.standardError = err
        waiting.standardOutput = FileHandle.nullDevice
        try waiting.run()
        try await Task.sleep(for: .seconds(4))
        #expect(waiting.isRunning, "approve did not wait for the card lock")
        #expect(try await Self.state(player, id) == .string("pending"))
        #expect(try OpenPGPCard(channel: try rig.context.connect(reader: Flow.reader)).signatureCounter() == counterBefore)
        flock(lock, LOCK_UN)
        close(lock)
        let deadline = ChildDeadline(waiting)
        let status = try await call {
            waiting.waitUntilExit()
            return waiting.terminationStatus
        }
        deadline.disarm()
        #expect(!deadline.fired, "\(deadline.describe("approve after the lock's release"))")
        let stderr = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        #expect(status == 0, "\(stderr)")
        #expect(try await Self.state(player, id) == .string("approved"))
        await rig.finish()
    }

    /// "`PARATII_APDU_LOG` … masks every secret-bearing APDU", end to end: an approval through the CLI
    /// logs its VERIFY and PSO:CDS, the file is 0600, and the PIN's bytes appear nowhere in it.
    @Test func theAPDULogOfAnApprovalHoldsNoPIN() async throws {
        let rig = try await CardBridgeRig()
        let (player, id) = try await Self.request(rig)
        let log = rig.bridge.directory + "/apdu.log"
        let approved = try await Self.finish(Self.approve(rig, id, environment: ["PARATII_APDU_LOG": log]))
        #expect(approved.status == 0, "\(approved.stderr)")
        #expect(try await Self.state(player, id) == .string("approved"))
        let text = try String(contentsOfFile: log, encoding: .utf8)
        #expect(text.contains("VERIFY PW1 for signing (81), 6 PIN bytes masked"), "\(text)")
        #expect(text.contains("00 20 00 81 06 ** ** ** ** ** **"), "\(text)")
        #expect(text.contains("PSO: COMPUTE DIGITAL SIGNATURE"), "\(text)")
        // 123456 in ASCII, spaced as the log writes bytes or run together.
        let compact = text.replacingOccurrences(of: " ", with: "").lowercased()
        #expect(!compact.contains("313233343536") && !text.contains("123456"), "the PIN is in the APDU log")
        var info = stat()
        #expect(stat(log, &info) == 0 && info.st_mode & 0o777 == 0o600)
        await rig.finish()
    }

    /// `paratii bridge tokens list` shows a player's pairing; `revoke ID` stops its token at once.
    @Test func bridgeTokensListAndRevoke() async throws {
        let bridge = try await TestBridge()
        let player = bridge.client(token: try await bridge.pair("claims player"))
        #expect(try await call { try player.get("/v1/tokens") }.status == 200)
        let listed = try await Flow.run(["bridge", "tokens", "list", "--socket", bridge.settings.socketPath])
        #expect(listed.status == 0, "\(listed.stderr)")
        let line = try #require(listed.stdout.split(separator: "\n").first { $0.contains("claims player") }, "\(listed.stdout)")
        #expect(line.contains("approved") && line.contains("token delivered"), "\(line)")
        let id = String(try #require(line.split(separator: " ").first))
        let revoked = try await Flow.run(["bridge", "tokens", "revoke", id, "--socket", bridge.settings.socketPath])
        #expect(revoked.status == 0 && revoked.stdout.contains("revoked \(id)"), "\(revoked.stderr)")
        #expect(try await call { try player.get("/v1/tokens") }.status == 401)
        let after = try await Flow.run(["bridge", "tokens", "list", "--socket", bridge.settings.socketPath])
        #expect(after.stdout.split(separator: "\n").contains { $0.hasPrefix(id) && $0.contains("revoked") }, "\(after.stdout)")
        let bad = try await Flow.run(["bridge", "tokens", "revoke", "not-an-id", "--socket", bridge.settings.socketPath])
        #expect(bad.status != 0 && bad.stderr.split(separator: "\n").count == 1, "\(bad.stderr)")
        await bridge.stop()
    }
}
