import Bridge
import Delegation
import Ethereum
import Foundation
import Logging
import OpenPGPCard
import PCSC

/// Issue 6's figure: what the bridge adds to an approved delegation over the card's own signing time.
/// One approval = the player's request, the user's listing of what waits, the card's signature (VERIFY +
/// PSO:CDS through the real pcscd and the soft token) and signature counter (both counted as the card's
/// time), the approval
/// posted back (match, verify, audit, FULL commit) and the player fetching its envelope. The bridge
/// runs in this process on a temporary Unix socket, exactly as `paratii bridge run` serves it; the
/// player and the approver each keep one connection alive, as `BridgePlayer` and `Approver` do.
enum BridgeBenchmarks {
    /// The card as a `DigestSigner` that keeps the time spent inside the card's signature.
    final class TimedCard: DigestSigner {
        let card: OpenPGPCard
        let address: Address
        var nanoseconds: UInt64 = 0
        init(_ card: OpenPGPCard, _ address: Address) { self.card = card; self.address = address }
        func sign(digest: [UInt8]) throws -> Signature {
            let start = DispatchTime.now().uptimeNanoseconds
            defer { nanoseconds += DispatchTime.now().uptimeNanoseconds - start }
            return try card.sign(digest: digest, pin: .defaultUser)
        }
    }

    static func run() throws {
        try CardBenchmarks.withSoftCard { _, channel in
            let card = OpenPGPCard(channel: channel)
            let key = try card.generateSigningKey(adminPIN: .defaultAdmin)
            let signer = TimedCard(card, key.address)
            _ = try signer.sign(digest: Keccak256.hash(Array("warm up".utf8)))

            let directory = try Scratch.directory("bridge")
            defer { try? FileManager.default.removeItem(atPath: directory) }
            let settings = BridgeSettings(socketPath: directory + "/bridge.sock", databasePath: directory + "/bridge.sqlite")
            var logger = Logger(label: "paratii.bench")
            logger.logLevel = .critical
            let app = try buildApplication(
                BridgeContext(settings: settings, store: try BridgeStore(path: settings.databasePath), tokens: { [] }), logger: logger)
            let server = Task { try await app.runService(gracefulShutdownSignals: []) }
            defer { server.cancel() }

            let admin = BridgeClient(settings.socketPath, keepAlive: true)
            var up = false
            for _ in 0..<400 where !up {
                up = (try? admin.get("/v1/health"))?.status == 200
                if !up { Thread.sleep(forTimeInterval: 0.05) }
            }
            let secret = PairingSecret()
            guard up,
                let pairing = try admin.post("/v1/pairings", .object(["name": .string("bench"), "secretHash": .string(secret.hash)])).json?[
                    "id"]?.stringValue,
                try admin.request("POST", "/v1/admin/pairings/\(pairing)/approve").status == 200,
                let token = try admin.request("GET", "/v1/pairings/\(pairing)", headers: [("Authorization", "Pairing \(secret.secret)")])
                    .json?["token"]?.stringValue
            else { throw CardBenchmarks.Failure(description: "the bridge did not come up or pair") }
            let player = BridgeClient(settings.socketPath, token: token, keepAlive: true)
            let body: JSONValue = .object([
                "spender": .string(PrivateKey.generate().address.checksummed),
                "allowances": .array([.object(["token": .string("ETH"), "total": .string("0.05"), "perPayment": .string("0.001")])]),
                "validFor": .string("7d"),
            ])

            // More for a profile (`BRIDGE_BENCH_ITERATIONS=400 perf record …`): 30 approvals give perf too few samples.
            let iterations = Int(ProcessInfo.processInfo.environment["BRIDGE_BENCH_ITERATIONS"] ?? "") ?? 30
            signer.nanoseconds = 0
            // Each API call's own time, summed over the iterations: where the bridge's share goes.
            // The fifth: GET /v1/health on the player's connection, the HTTP round trip's floor (no store, no body).
            var calls = [UInt64](repeating: 0, count: 5)
            func timed<T>(_ call: Int, _ body: () throws -> T) rethrows -> T {
                let start = DispatchTime.now().uptimeNanoseconds
                defer { calls[call] += DispatchTime.now().uptimeNanoseconds - start }
                return try body()
            }
            let start = DispatchTime.now().uptimeNanoseconds
            for _ in 0..<iterations {
                guard let id = try timed(0, { try player.post("/v1/delegation-requests", body) }).json?["id"]?.stringValue,
                    let entry = try timed(1, { try admin.get("/v1/admin/pending") }).json?["requests"]?.arrayValue?.first(where: {
                        $0["id"]?.stringValue == id
                    }),
                    let asked = entry["request"]
                else { throw CardBenchmarks.Failure(description: "request not pending") }
                let request = try DelegationRequest(json: asked, configuration: settings.chain)
                let envelope = try Envelope.sign(
                    request.delegation(master: key.address, now: UInt64(Date().timeIntervalSince1970)),
                    domain: settings.chain.domain, signer: signer)
                let counterStart = DispatchTime.now().uptimeNanoseconds
                let counter = try card.signatureCounter()
                signer.nanoseconds += DispatchTime.now().uptimeNanoseconds - counterStart
                let approval: JSONValue = .object(["envelope": envelope.json, "signatureCounter": .number("\(counter)")])
                guard try timed(2, { try admin.post("/v1/admin/delegation-requests/\(id)/approve", approval) }).status == 200,
                    let released = try timed(3, { try player.get("/v1/delegation-requests/\(id)") }).json?["envelope"],
                    try Envelope(json: released).id == envelope.id
                else { throw CardBenchmarks.Failure(description: "approval not released") }
                guard try timed(4, { try player.get("/v1/health") }).status == 200 else {
                    throw CardBenchmarks.Failure(description: "health check failed")
                }
            }
            let total = Double(DispatchTime.now().uptimeNanoseconds - start - calls[4]) / 1e9 / Double(iterations)
            let cardTime = Double(signer.nanoseconds) / 1e9 / Double(iterations)
            let overhead = total - cardTime
            Measure.report(
                "bridge: overhead of an approved delegation over the card's signing time", ratio: overhead / cardTime,
                goal: "≤ 1.00, i.e. the bridge at most doubles what the card takes",
                detail: String(
                    format:
                        "%.2f ms per approval end to end, %.2f ms of it the card (VERIFY + PSO:CDS + reading the signature counter, via pcscd), %.2f ms the rest: 4 API calls over 2 kept-alive connections, 2 FULL commits, envelope matching and verification",
                    total * 1e3, cardTime * 1e3, overhead * 1e3))
            let names = [
                "POST delegation-requests", "GET admin/pending", "POST admin/…/approve", "GET delegation-requests/{id}",
                "(not part of it: GET health, the HTTP floor)",
            ]
            print(
                "  per call (ms, mean over \(iterations)): "
                    + zip(names, calls).map { "\($0) " + String(format: "%.2f", Double($1) / 1e6 / Double(iterations)) }.joined(
                        separator: ", "))
        }
    }
}
