import BigInt
import Bridge
import CBaseline
import Delegation
import Ethereum
import Foundation
import Logging
import PayeeServer
import PlayerCore
import Synchronization

/// Issue 16's figure: what paying adds to fetching a segment. A paid round trip is what the page does:
/// GET → 402, decode PAYMENT-REQUIRED, the wallet signs a voucher (here in process: `Wallet.pay`, its
/// FULL commit included), GET again with PAYMENT-SIGNATURE → the server verifies it, accepts it into the
/// payee store (FULL commit) → bytes. Against it: an unpaid GET of the same bytes from the same server
/// (a free copy of the segment). Both over loopback TCP with the same client, its connection kept alive
/// as a browser keeps it.
enum PayeeBenchmarks {
    static func run() throws {
        let directory = try Scratch.directory("payee")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try FileManager.default.createDirectory(atPath: directory + "/media", withIntermediateDirectories: true)
        // About one second of the demo video (~55 kB); the free copy's name makes it an init segment.
        let segment = Data((0..<56_000).map { _ in UInt8.random(in: 0...255) })
        try segment.write(to: URL(fileURLWithPath: directory + "/media/chunk-stream0-00001.webm"))
        try segment.write(to: URL(fileURLWithPath: directory + "/media/init-same-bytes.webm"))

        let domain = Domain(chainId: 1, verifyingContract: .zero)
        let master = PrivateKey.generate()
        let wallet = try Wallet.create(directory: directory + "/wallet", password: "bench", kdf: .light)
        let plenty = BigUInt(10).power(24)
        _ = try wallet.importDelegation(
            try Envelope.sign(
                SpendingDelegation(
                    master: master.address, spender: wallet.address,
                    allowances: [Allowance(token: .zero, total: plenty, perPayment: plenty, period: 0, perPeriod: 0)], payees: [],
                    validAfter: UInt64(Date().timeIntervalSince1970) - 60, validUntil: UInt64(Date().timeIntervalSince1970) + 86400,
                    salt: Salt.random()),
                domain: domain, signer: master))
        let settings = PayeeSettings(
            chain: Configuration(), payee: try Address("0x00000000000000000000000000000000000000bb"), token: .zero,
            price: try Units.parseAmount("0.0001"))
        let store = try PayeeStore(path: directory + "/payee.sqlite", verifier: Verifier(domain: domain))
        let context = PayeeContext(
            settings: settings, ledger: try PayeeLedger(store: store, settings: settings),
            media: try MediaLibrary(directory: directory + "/media"), web: nil)
        var logger = Logger(label: "paratii.bench")
        logger.logLevel = .critical
        let port = Mutex(0)
        let app = buildApplication(context, host: "127.0.0.1", port: 0, logger: logger) { chosen in port.withLock { $0 = chosen } }
        let server = Task { try await app.runService(gracefulShutdownSignals: []) }
        defer { server.cancel() }
        for _ in 0..<400 where port.withLock({ $0 }) == 0 { Thread.sleep(forTimeInterval: 0.01) }
        let client = BridgeClient("http://127.0.0.1:\(port.withLock { $0 })", keepAlive: true)

        try measure(client, segment: segment, directory: directory, how: "signed and committed by the wallet in process") { offer in
            try wallet.pay(offer.request)
        }
        #if canImport(WalletService)
        try throughWalletService(directory: directory + "/wallet") { pay in
            try measure(client, segment: segment, directory: directory, how: "from the wallet service over HTTP (paired page)", pay: pay)
        }
        #else
        print("  (the wallet service is not in this build: the pay step above is the wallet in process)")
        #endif
    }

    /// What a 402 asks for, as the wallet is asked to pay it.
    struct Offer {
        let accepted: JSONValue
        let request: PaymentRequest
    }

    /// Alternating unpaid fetches and paid round trips; `pay` signs the voucher for an offer.
    static func measure(
        _ client: BridgeClient, segment: Data, directory: String, how: String, pay: (Offer) throws -> Envelope
    ) throws {
        func unpaid() throws {
            let response = try client.get("/media/init-same-bytes.webm")
            guard response.status == 200, response.body.count == segment.count else { throw failure("unpaid fetch: \(response.status)") }
        }
        var walletSeconds: [Double] = []
        func paid() throws {
            let path = "/media/chunk-stream0-00001.webm"
            let first = try client.get(path)
            guard first.status == 402, let header = first.headers["payment-required"], let data = Data(base64Encoded: header),
                let offer = try JSONValue.parse(Array(data))["accepts"]?.arrayValue?.first,
                let amount = offer["amount"]?.stringValue.flatMap({ BigUInt($0, radix: 10) }),
                let payTo = offer["payTo"]?.stringValue, let memo = offer["extra"]?["memo"]?.stringValue
            else { throw failure("no 402 with requirements: \(first.status)") }
            let start = DispatchTime.now().uptimeNanoseconds
            let voucher = try pay(
                Offer(
                    accepted: offer,
                    request: PaymentRequest(
                        payee: try Address(payTo), token: .zero, amount: amount, memo: PaymentRequest.memo(memo), idempotencyKey: nil)))
            walletSeconds.append(Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9)
            let signature = PaymentHeaders.encode(.object(["x402Version": .number("2"), "accepted": offer, "payload": voucher.json]))
            let second = try client.request("GET", path, headers: [("PAYMENT-SIGNATURE", signature)])
            guard second.status == 200, second.body.count == segment.count, second.headers["payment-response"] != nil else {
                throw failure("paid fetch: \(second.status) \(second.errorText)")
            }
        }

        for _ in 0..<20 {
            try unpaid()
            try paid()
        }
        walletSeconds.removeAll()
        // Alternating, so a busy machine slows both alike.
        let rounds = 300
        var plain: [Double] = [], paying: [Double] = []
        for _ in 0..<rounds {
            plain.append(try seconds(unpaid))
            paying.append(try seconds(paid))
        }
        // Two durable commits are in every paid round trip (the wallet's record before signing, the payee
        // store's acceptance): the machine's bare SQLite FULL commit, measured now, is their floor.
        let bare = try seconds { precondition(cb_sqlite_commits(directory + "/bare.sqlite", 200) == 1) } / 200
        let p50 = (percentile(paying, 0.5) - percentile(plain, 0.5)) * 1e3
        let p99 = (percentile(paying, 0.99) - percentile(plain, 0.99)) * 1e3
        Measure.report(
            "payee: a paid segment's added p99 over an unpaid fetch of the same bytes (voucher \(how))", ratio: p99 / 5,
            goal: "≤ 1.00, i.e. at most 5 ms added at p99",
            detail: String(
                format:
                    "%d rounds of a 56 kB segment; unpaid p50 %.2f ms p99 %.2f ms; paid round trip (402, voucher, retry, verify, store commit, bytes) p50 %.2f ms p99 %.2f ms; added p50 %.2f ms p99 %.2f ms",
                rounds, percentile(plain, 0.5) * 1e3, percentile(plain, 0.99) * 1e3, percentile(paying, 0.5) * 1e3,
                percentile(paying, 0.99) * 1e3, p50, p99))
        print(
            String(
                format:
                    "  of the paid round trip: the pay step (the wallet's FULL commit and signature, plus HTTP through the service) p50 %.2f ms p99 %.2f ms; a bare SQLite FULL/WAL commit on this machine %.2f ms (two are needed: wallet and payee store)",
                percentile(walletSeconds, 0.5) * 1e3, percentile(walletSeconds, 0.99) * 1e3, bare * 1e3))
    }

    static func seconds(_ body: () throws -> Void) throws -> Double {
        let start = DispatchTime.now().uptimeNanoseconds
        try body()
        return Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
    }

    /// The nearest-rank percentile.
    static func percentile(_ values: [Double], _ p: Double) -> Double {
        let sorted = values.sorted()
        return sorted[min(sorted.count - 1, max(0, Int((p * Double(sorted.count)).rounded(.up)) - 1))]
    }

    static func failure(_ text: String) -> CardBenchmarks.Failure { CardBenchmarks.Failure(description: text) }
}
