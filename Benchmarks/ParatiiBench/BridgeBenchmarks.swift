import Bridge
import Delegation
import Ethereum
import Foundation
import Logging
import OpenPGPCard
import PCSC

/// Issue 6's figure: what the bridge adds to an approved delegation over the card's own signing time.
/// One approval, timed from the player's side = the player's request (FULL commit), the approver's wait on
/// the listing answered by that commit, the card's signature (VERIFY + PSO:CDS through the real pcscd and
/// the soft token) and signature counter (both counted as the card's time), the approval posted back
/// (match, verify, audit, FULL commit) and the player's wait on its request answered by that commit, with
/// the envelope. The bridge runs in this process on a temporary Unix socket, exactly as `paratii bridge
/// run` serves it; the player (this thread) and the approver (a thread of its own, as the user's
/// `paratii approve --wait` is a process of its own) each keep one connection alive, and make the calls
/// `BridgePlayer` and `Approver.waitForWork` make.
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

            // 100 approvals (about 1,000 WAL pages, so a run sees the log grow and its first checkpoint, as a
            // running bridge does): with 30, one run's ratio moved by ±0.1 between runs on a 2-vCPU machine.
            // More for a profile (`BRIDGE_BENCH_ITERATIONS=600 perf record …`).
            let iterations = Int(ProcessInfo.processInfo.environment["BRIDGE_BENCH_ITERATIONS"] ?? "") ?? 100
            let approver = ApproverLoop(admin: admin, signer: signer, card: card, master: key.address, chain: settings.chain)
            let approving = Thread { approver.run(approvals: iterations + 1) }
            approving.start()

            // The player, as `BridgePlayer` does it: the request, then a long poll on it that the approval answers.
            // The first approval warms both sides up and is not counted; the HTTP floor (a bare GET /v1/health
            // on the player's connection) is taken between approvals, outside the total.
            var total: UInt64 = 0, posted: UInt64 = 0, floor: UInt64 = 0
            var received: [UInt64] = []
            for iteration in 0...iterations {
                let start = DispatchTime.now().uptimeNanoseconds
                guard let id = try player.post("/v1/delegation-requests", body).json?["id"]?.stringValue else {
                    throw CardBenchmarks.Failure(description: "request refused")
                }
                let answered = DispatchTime.now().uptimeNanoseconds
                guard let released = try player.get("/v1/delegation-requests/\(id)?timeout=25").json?["envelope"] else {
                    throw CardBenchmarks.Failure(description: "approval not released")
                }
                let end = DispatchTime.now().uptimeNanoseconds
                guard try Envelope(json: released).id == approver.envelope(for: id) else {
                    throw CardBenchmarks.Failure(description: "the player got another envelope than the card signed")
                }
                let healthStart = DispatchTime.now().uptimeNanoseconds
                guard try player.get("/v1/health").status == 200 else { throw CardBenchmarks.Failure(description: "health check failed") }
                guard iteration > 0 else { continue }
                floor += DispatchTime.now().uptimeNanoseconds - healthStart
                total += end - start
                posted += answered - start
                received.append(end)
                approver.started(id, at: start)
            }
            approver.finished.wait()
            let n = Double(iterations)
            let perApproval = Double(total) / 1e9 / n
            let (cardTime, seen, approveCall, released) = try approver.phases(received: received, warmups: 1)
            let overhead = perApproval - cardTime
            Measure.report(
                "bridge: overhead of an approved delegation over the card's signing time", ratio: overhead / cardTime,
                goal: "≤ 1.00, i.e. the bridge at most doubles what the card takes",
                detail: String(
                    format:
                        "%.2f ms per approval end to end, %.2f ms of it the card (VERIFY + PSO:CDS + reading the signature counter, via pcscd), %.2f ms the rest: the request, the approver's and the player's long polls answered by commits, the approval, 2 FULL commits, envelope matching and verification",
                    perApproval * 1e3, cardTime * 1e3, overhead * 1e3))
            print(
                String(
                    format:
                        "  per step (ms, mean over %d): request posted → the approver holds it %.2f (the player's own POST answered after %.2f); the approver's work around the card %.2f; approval posted → the player holds the envelope %.2f (the approver's POST answered after %.2f); (not part of it: GET health, the HTTP floor, %.2f)",
                    iterations, seen * 1e3, Double(posted) / 1e6 / n, (perApproval - cardTime - seen - released) * 1e3, released * 1e3,
                    approveCall * 1e3, Double(floor) / 1e6 / n))
        }
    }

    /// The user's side as a GUI approver would run it: a long poll on the pending list, the card signing
    /// what each request asks, the approval posted back. Keeps when it saw each request and when it posted
    /// each approval, for the per-step figures.
    final class ApproverLoop: @unchecked Sendable {
        let admin: BridgeClient
        let signer: TimedCard
        let card: OpenPGPCard
        let master: Address
        let chain: Configuration
        private let lock = NSLock()
        private var seen: [String: UInt64] = [:]
        private var posting: [String: UInt64] = [:]
        private var envelopes: [String: [UInt8]] = [:]
        private var starts: [String: UInt64] = [:]
        private var order: [String] = []
        private var approveCall: [String: UInt64] = [:]
        /// Signalled when `run` returns.
        let finished = DispatchSemaphore(value: 0)
        private var failure: String?

        init(admin: BridgeClient, signer: TimedCard, card: OpenPGPCard, master: Address, chain: Configuration) {
            self.admin = admin
            self.signer = signer
            self.card = card
            self.master = master
            self.chain = chain
        }

        func run(approvals: Int) {
            defer { finished.signal() }
            do {
                for approval in 0..<approvals {
                    var entry: JSONValue?
                    while entry == nil {
                        // As `Approver.waitForWork` asks: answered by the commit that brings a request.
                        entry = try admin.get("/v1/admin/pending?timeout=25").json?["requests"]?.arrayValue?.first
                    }
                    let at = DispatchTime.now().uptimeNanoseconds
                    guard let entry, let id = entry["id"]?.stringValue, let asked = entry["request"] else {
                        throw CardBenchmarks.Failure(description: "a pending request without its body")
                    }
                    if approval == 1 { signer.nanoseconds = 0 }  // after the warm-up
                    let request = try DelegationRequest(json: asked, configuration: chain)
                    let envelope = try Envelope.sign(
                        request.delegation(master: master, now: UInt64(Date().timeIntervalSince1970)), domain: chain.domain, signer: signer)
                    let counterStart = DispatchTime.now().uptimeNanoseconds
                    let counter = try card.signatureCounter()
                    signer.nanoseconds += DispatchTime.now().uptimeNanoseconds - counterStart
                    let approvalBody: JSONValue = .object(["envelope": envelope.json, "signatureCounter": .number("\(counter)")])
                    let post = DispatchTime.now().uptimeNanoseconds
                    lock.withLock {
                        seen[id] = at
                        posting[id] = post
                        envelopes[id] = envelope.id
                        order.append(id)
                    }
                    guard try admin.post("/v1/admin/delegation-requests/\(id)/approve", approvalBody).status == 200 else {
                        throw CardBenchmarks.Failure(description: "approval refused")
                    }
                    let answered = DispatchTime.now().uptimeNanoseconds
                    lock.withLock { approveCall[id] = answered - post }
                }
            } catch {
                lock.withLock { failure = "\(error)" }
            }
        }

        func envelope(for id: String) -> [UInt8]? { lock.withLock { envelopes[id] } }
        func started(_ id: String, at start: UInt64) { lock.withLock { starts[id] = start } }

        /// Per counted approval (after the warm-ups), in seconds: the card's time, request posted → seen by
        /// the approver, the approval's own call, approval posted → envelope received by the player.
        func phases(received: [UInt64], warmups: Int) throws -> (card: Double, seen: Double, approveCall: Double, released: Double) {
            try lock.withLock {
                if let failure { throw CardBenchmarks.Failure(description: failure) }
                let counted = Array(order.dropFirst(warmups))
                guard counted.count == received.count, !counted.isEmpty else {
                    throw CardBenchmarks.Failure(description: "the approver approved \(order.count), the player counted \(received.count)")
                }
                let n = Double(counted.count)
                var toSeen = 0.0, toReleased = 0.0
                for (id, end) in zip(counted, received) {
                    toSeen += Double(seen[id]! - starts[id]!) / 1e9
                    toReleased += Double(end - posting[id]!) / 1e9
                }
                let calls = counted.map { Double(approveCall[$0]!) / 1e9 }.reduce(0, +)
                return (Double(signer.nanoseconds) / 1e9 / n, toSeen / n, calls / n, toReleased / n)
            }
        }
    }
}
