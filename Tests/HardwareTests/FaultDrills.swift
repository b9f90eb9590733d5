import Bridge
import Delegation
import Ethereum
import Foundation
import OpenPGPCard
import PCSC
import SoftToken
import Testing

extension HardwarePathTests {
    /// Issue 9's pcscd drill. Nested in the serialized hardware suite: restarting pcscd needs the rig
    /// (vpcd's first slot, held by this process) and must not overlap the suite's other tests.
    @Suite struct FaultDrills {
        let pin = PIN("246810")

        /// `paratii bridge run` as a daemon, its socket and database in `directory`.
        final class Daemon {
            let process = Process()
            let socket: String
            init(directory: String, config: String) throws {
                socket = directory + "/run/bridge.sock"
                process.executableURL = Rig.binaryDirectory.appendingPathComponent("paratii")
                process.arguments = ["bridge", "run", "--config", config, "--socket", socket, "--database", directory + "/bridge.sqlite"]
                process.standardOutput = FileHandle.nullDevice
                process.standardError = FileHandle.nullDevice
                try process.run()
                let deadline = Date().addingTimeInterval(60)
                while (try? BridgeClient(socket).get("/v1/health"))?.status != 200 {
                    try #require(process.isRunning && Date() < deadline, "the bridge did not come up")
                    Thread.sleep(forTimeInterval: 0.1)
                }
            }
            func client(_ token: String? = nil) -> BridgeClient { BridgeClient(socket, token: token) }
            deinit { if process.isRunning { process.terminate(); process.waitUntilExit() } }
        }

        static func restartPCSCD() throws {
            let pid = try #require(Int32(try String(contentsOfFile: "/run/pcscd/pcscd.pid", encoding: .utf8).filter(\.isNumber)))
            #expect(kill(pid, SIGKILL) == 0)
            #expect(Rig.waitForExit(pid, timeout: 5), "pcscd did not exit")
            let up = try Rig.run(Rig.repositoryRoot.appendingPathComponent("scripts/pcscd-up"), [])
            try #require(up.status == 0, "scripts/pcscd-up failed: \(up.stderr)")
        }

        /// Events from `since` until one matches `wanted` (or the deadline); the types seen, in order.
        static func events(_ client: BridgeClient, since: Int64, until wanted: (JSONValue) -> Bool) throws -> [String] {
            var seen: [String] = []
            var since = since
            let deadline = Date().addingTimeInterval(60)
            while Date() < deadline {
                let page = try client.get("/v1/events?since=\(since)&timeout=5")
                for event in page.json?["events"]?.arrayValue ?? [] {
                    if event["id"] == .string(Rig.reader) || event["id"] == .string("pcscd") {
                        seen.append(event["type"]?.stringValue ?? "?")
                    }
                    if wanted(event) { return seen }
                }
                if case .number(let text) = page.json?["revision"], let revision = Int64(text) { since = revision }
            }
            return seen
        }

        @Test func pcscdKilledAndRestartedUnderARunningBridge() throws {
            let context = try Rig.requirePCSCD()
            let plugged = try PluggedSoftCard(context: context)
            defer { plugged.remove(context: context) }
            let card = OpenPGPCard(channel: try context.connect(reader: Rig.reader))
            let master = try card.generateSigningKey(adminPIN: .defaultAdmin).address
            try card.changePIN(.userSign, old: .defaultUser, new: pin)

            let directory = try Rig.temporaryDirectory().path
            defer { try? FileManager.default.removeItem(atPath: directory) }
            let config = directory + "/config.json", pinFile = directory + "/pin"
            try Data(#"{"chainId": 1337, "ptiToken": "0x1111111111111111111111111111111111111111"}"#.utf8).write(
                to: URL(fileURLWithPath: config))
            try Data("246810\n".utf8).write(to: URL(fileURLWithPath: pinFile))
            let bridge = try Daemon(directory: directory, config: config)
            let secret = PairingSecret()
            let pairing = try #require(
                try bridge.client().post("/v1/pairings", .object(["name": .string("drill"), "secretHash": .string(secret.hash)]))
                    .json?["id"]?.stringValue)
            #expect(try bridge.client().request("POST", "/v1/admin/pairings/\(pairing)/approve").status == 200)
            let player = bridge.client(
                try #require(
                    try bridge.client().request("GET", "/v1/pairings/\(pairing)", headers: [("Authorization", "Pairing \(secret.secret)")])
                        .json?["token"]?.stringValue))
            func listed() throws -> JSONValue? {
                try player.get("/v1/tokens").json?["tokens"]?.arrayValue?.first { $0["reader"] == .string(Rig.reader) }
            }
            #expect(try listed()?["master"] == .string(master.checksummed))
            let before = try #require(
                Int64(
                    try player.get("/v1/events?since=0&timeout=0").json?["revision"].flatMap {
                        if case .number(let text) = $0 { text } else { nil }
                    } ?? ""))

            let exclusive = try Rig.RestartLock()
            defer { exclusive.release() }
            try Self.restartPCSCD()
            try Rig.waitForCard(true, context: context, timeout: 20)

            // The bridge stayed up, told the players the card went and came back, and lists it again.
            #expect(bridge.process.isRunning, "the bridge died with pcscd")
            let seen = try Self.events(player, since: before) { $0["type"] == .string("token.inserted") && $0["id"] == .string(Rig.reader) }
            // The monitor reports pcscd's loss when it was waiting inside pcscd as it died; caught between two
            // calls it reconnects at once and sees only the card leave and return. Either way the card's
            // departure and return are told, and a loss is always followed by its restoration.
            if seen.contains("token.service-lost") { #expect(seen.contains("token.service-restored"), "\(seen)") }
            #expect(seen.firstIndex(of: "token.removed").map { $0 < seen.lastIndex(of: "token.inserted") ?? -1 } == true, "\(seen)")
            #expect(try listed()?["master"] == .string(master.checksummed))

            // A delegation approved after the restart verifies to the card.
            let request = try #require(
                try player.post(
                    "/v1/delegation-requests",
                    .object([
                        "spender": .string("0x2222222222222222222222222222222222222222"),
                        "allowances": .array([.object(["token": .string("ETH"), "total": .string("0.05"), "perPayment": .string("0.001")])]
                        ),
                        "validFor": .string("7d"),
                    ])
                ).json?["id"]?.stringValue)
            let approved = try Rig.run(
                Rig.binaryDirectory.appendingPathComponent("paratii"),
                ["approve", request, "--socket", bridge.socket, "--config", config, "--reader", Rig.reader, "--pin-file", pinFile])
            #expect(approved.status == 0, "\(approved.stderr)")
            let envelope = try Envelope(json: try #require(try player.get("/v1/delegation-requests/\(request)").json?["envelope"]))
            let verdict = Verifier(domain: Domain(chainId: 1337, verifyingContract: .zero)).verify(
                envelope, at: UInt64(Date().timeIntervalSince1970) + 1)
            #expect(verdict.valid && verdict.master == master, "\(verdict.detail)")
        }
    }
}
