import Delegation
import Ethereum
import Foundation
import GRDB
import OpenPGPCard
import PCSC
import SoftToken
import Synchronization
import Testing

@testable import Bridge

/// Issue 9's fault drills for the bridge: the clock moved back, its state file damaged, and (with the
/// real pcscd, a soft card in vpcd's second slot and the `paratii approve` executable) the card pulled
/// in the middle of the signature. The pcscd restart under a running bridge is in HardwareTests,
/// which own the first slot and the rig lock that restarting pcscd needs.
@Suite(.serialized, .timeLimit(.minutes(5))) struct FaultDrills {
    /// What the user would sign for `request`, signed by `master` now (by the bridge's clock).
    static func signed(_ bridge: TestBridge, master: PrivateKey) throws -> JSONValue {
        let asked = try DelegationRequest(json: SecurityTests.request, configuration: bridge.settings.chain)
        return .object([
            "envelope": try Envelope.sign(
                asked.delegation(master: master.address, now: bridge.clock.now),
                domain: bridge.settings.chain.domain, signer: master
            ).json
        ])
    }

    @Test func clockMovedBackNeverResurrectsAnExpiredRequest() async throws {
        let bridge = try await TestBridge {
            $0.requestExpiry = 60; $0.pairingExpiry = 60
        }
        let player = bridge.client(token: try await bridge.pair())
        let request = try #require(
            try await call { try player.post("/v1/delegation-requests", SecurityTests.request) }.json?["id"]?.stringValue)
        let latePlayer = TestPairing()
        let pairing = try #require(
            try await call { try bridge.client().post("/v1/pairings", latePlayer.body("late player")) }.json?["id"]?.stringValue)
        bridge.clock.advance(61)
        #expect(try await call { try player.get("/v1/delegation-requests/\(request)") }.json?["state"] == .string("expired"))
        #expect(try await call { try latePlayer.poll(bridge.client(), pairing) }.json?["state"] == .string("expired"))

        // An hour back: before either was even made. Expired stays expired; nothing can be approved.
        bridge.clock.rewind(3600)
        #expect(try await call { try player.get("/v1/delegation-requests/\(request)") }.json?["state"] == .string("expired"))
        let pending = try await call { try bridge.client().get("/v1/admin/pending") }
        #expect(
            pending.json?["requests"]?.arrayValue?.isEmpty == true && pending.json?["pairings"]?.arrayValue?.isEmpty == true,
            "\(pending.json?.compactText ?? "")")
        let body = try Self.signed(bridge, master: PrivateKey.generate())
        let late = try await call { try bridge.client().post("/v1/admin/delegation-requests/\(request)/approve", body) }
        #expect(late.status == 409, "\(late.errorText)")
        let latePairing = try await call { try bridge.client().request("POST", "/v1/admin/pairings/\(pairing)/approve") }
        #expect(latePairing.status == 409, "\(latePairing.errorText)")
        let polled = try await call { try player.get("/v1/delegation-requests/\(request)") }
        #expect(polled.json?["state"] == .string("expired") && polled.json?["envelope"] == nil)
        #expect(try await call { try bridge.client().get("/v1/pairings/\(pairing)") }.json?["token"] == nil)

        // Each expired once, and the audit chain (whose times now run backwards) still verifies.
        let entries = try await bridge.store.auditEntries()
        #expect(entries.filter { $0.kind == "request.expired" }.map(\.subject) == [request])
        #expect(entries.filter { $0.kind == "pairing.expired" }.map(\.subject) == [pairing])
        #expect(try await bridge.store.verifyAudit().broken.isEmpty)
        await bridge.stop()
    }

    @Test func damagedBridgeStateIsRefusedByteForByte() async throws {
        let bridge = try await TestBridge()
        let player = bridge.client(token: try await bridge.pair())
        for _ in 0..<3 { _ = try await call { try player.post("/v1/delegation-requests", SecurityTests.request) } }
        let path = bridge.settings.databasePath
        let scratch = bridge.directory + "/damaged"
        try FileManager.default.createDirectory(atPath: scratch, withIntermediateDirectories: true)
        defer { Task { await bridge.stop() } }

        func copy(_ name: String, checkpointed: Bool) throws -> String {
            let target = "\(scratch)/\(name).sqlite"
            try FileManager.default.copyItem(atPath: path, toPath: target)
            try FileManager.default.copyItem(atPath: path + "-wal", toPath: target + "-wal")
            if checkpointed {
                // The last connection to close checkpoints the WAL into the file and deletes it.
                try DatabaseQueue(path: target).writeWithoutTransaction { try $0.execute(sql: "PRAGMA wal_checkpoint(TRUNCATE)") }
                try? FileManager.default.removeItem(atPath: target + "-wal")
                try? FileManager.default.removeItem(atPath: target + "-shm")
            }
            return target
        }
        func damage(_ file: String, at fraction: Double, truncate: Bool = false) throws {
            let size = try #require(try FileManager.default.attributesOfItem(atPath: file)[.size] as? Int)
            if truncate { #expect(Glibc.truncate(file, off_t(Double(size) * fraction)) == 0); return }
            let handle = try FileHandle(forUpdating: URL(fileURLWithPath: file))
            try handle.seek(toOffset: UInt64(Double(size) * fraction))
            try handle.write(contentsOf: [UInt8](repeating: 0x5A, count: 64))
            try handle.close()
        }
        // The control: an undamaged copy opens with its requests.
        #expect(try await BridgeStore(path: try copy("intact", checkpointed: false)).requests().count == 3)

        let cases: [(String, String, Bool, (String) throws -> Void)] = [
            ("garbage-header", "", true, { try damage($0, at: 0) }),
            ("truncated", "", true, { try damage($0, at: 0.5, truncate: true) }),
            ("garbage-wal", "-wal", false, { try damage($0 + "-wal", at: 0.4) }),
        ]
        for (name, suffix, checkpointed, corrupt) in cases {
            let file = try copy(name, checkpointed: checkpointed)
            try corrupt(file)
            let before = try [file, file + "-wal"].map {
                FileManager.default.fileExists(atPath: $0) ? try Data(contentsOf: URL(fileURLWithPath: $0)) : nil
            }
            do {
                _ = try BridgeStore(path: file)
                Issue.record("\(name): the damaged state opened")
            } catch {
                #expect("\(error)".contains(file + suffix) && "\(error)".contains("refusing"), "\(name): \(error)")
            }
            let after = try [file, file + "-wal"].map {
                FileManager.default.fileExists(atPath: $0) ? try Data(contentsOf: URL(fileURLWithPath: $0)) : nil
            }
            #expect(after == before, "\(name): a file changed")
        }
    }

    /// The soft card drops off the bus the moment PSO:CDS reaches it (after the PIN was verified), the
    /// deterministic form of a card pulled mid-signature. `paratii approve` fails that request (the
    /// documented contract; a wrong PIN leaves it pending), nothing reaches the player, the audit log
    /// records it and verifies, and the next request, with the card back, is signed.
    @Test func cardPulledDuringApprovalFailsThatRequestCleanly() async throws {
        let slot = try await CardFlowTests.FileLock.secondSlot()
        let noRestart = try await CardFlowTests.FileLock.noRestart()
        defer { withExtendedLifetime((slot, noRestart)) {} }
        let flow = CardFlowTests()
        let context = try flow.setUp()
        let card = try CardFlowTests.Plugged(context)
        defer { card.unplug(context) }
        let bridge = try await TestBridge(tokens: TokenListing.tokens)
        let (config, pin, _) = try flow.files(bridge)
        let player = bridge.client(token: try await bridge.pair())
        let approve = { (id: String) in
            [
                "approve", id, "--socket", bridge.settings.socketPath, "--config", config, "--reader", CardFlowTests.reader, "--pin-file",
                pin,
            ]
        }

        let first = try #require(
            try await call { try player.post("/v1/delegation-requests", SecurityTests.request) }.json?["id"]?.stringValue)
        let pulls = Atomic<Int>(0)
        card.connection.commandHook = { command in
            command.ins == 0x2A && pulls.add(1, ordering: .relaxed).oldValue == 0 ? .pullCard : .proceed
        }
        let started = Date()
        let pulled = try await CardFlowTests.run(approve(first))
        #expect(Date().timeIntervalSince(started) < 60, "a pulled card must not hang the approval")
        #expect(pulls.load(ordering: .relaxed) == 1, "the card was pulled inside the signature")
        #expect(pulled.status != 0)
        let lastLine = pulled.stderr.split(separator: "\n").last.map(String.init) ?? ""
        #expect(lastLine.contains("removed") && lastLine.hasSuffix("the request failed"), "\(pulled.stderr)")
        #expect(pulled.stdout.isEmpty)

        let polled = try await call { try player.get("/v1/delegation-requests/\(first)") }
        #expect(polled.json?["state"] == .string("failed"))
        #expect(polled.json?["envelope"] == nil, "nothing is released to the player")
        let failed = try await bridge.store.auditEntries().filter { $0.kind == "request.failed" }
        #expect(failed.map(\.subject) == [first] && failed.first?.detail.contains("card") == true, "\(failed.map(\.detail))")
        #expect(try await bridge.store.verifyAudit().broken.isEmpty)

        // The card goes away for good (the soft card would redial vpcd at once, too fast for pcscd to be
        // sure to notice) and comes back, keys and counter intact: the next request is signed.
        card.connection.commandHook = nil
        card.connection.stop()
        try CardFlowTests.waitForCard(false, context)
        let back = VPCDConnection(card: card.connection.card, port: CardFlowTests.vpcdPort)
        back.start()
        defer { back.stop() }
        #expect(back.waitUntilConnected(timeout: 10))
        try CardFlowTests.waitForCard(true, context)
        let second = try #require(
            try await call { try player.post("/v1/delegation-requests", SecurityTests.request) }.json?["id"]?.stringValue)
        let approved = try await CardFlowTests.run(approve(second))
        #expect(approved.status == 0, "\(approved.stderr.replacingOccurrences(of: "\n", with: " | "))")
        let envelope = try Envelope(
            json: try #require(try await call { try player.get("/v1/delegation-requests/\(second)") }.json?["envelope"]))
        let verdict = Verifier(domain: bridge.settings.chain.domain).verify(envelope, at: UInt64(Date().timeIntervalSince1970) + 1)
        #expect(verdict.valid && verdict.master == card.master, "\(verdict.detail)")
        // The pulled signature never counted on the card: the one approval carries counter 1, no gap.
        let report = try await bridge.store.verifyAudit()
        #expect(report.broken.isEmpty && report.signatures == 1 && report.counterGaps.isEmpty, "\(report)")
        #expect(try await bridge.store.auditEntries().last { $0.signatureCounter != nil }?.signatureCounter == 1)
        await bridge.stop()
    }
}
