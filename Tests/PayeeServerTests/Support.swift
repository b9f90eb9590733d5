import BigInt
import Delegation
import Ethereum
import Foundation
import GRDB
import Hummingbird
import HummingbirdTesting
import Logging
import LoopbackHTTP
import Synchronization

@testable import PayeeServer
@testable import PlayerCore

/// A settable clock shared by the wallet and the payee store.
final class TestClock: Sendable {
    private let value: Mutex<UInt64>
    init(_ start: UInt64) { value = Mutex(start) }
    var now: UInt64 { value.withLock { $0 } }
    func advance(_ seconds: UInt64) { value.withLock { $0 += seconds } }
    var closure: @Sendable () -> UInt64 { { self.now } }
}

/// A payee selling five fake segments at 0.0001 ETH, and a player's wallet (soft master key standing in
/// for the card) with a delegation of 0.001 ETH in total: real vouchers, a real store, real HTTP.
final class Shop: Sendable {
    static let start: UInt64 = 1_790_000_000
    static let price = try! Units.parseAmount("0.0001")
    let directory: String
    let clock = TestClock(Shop.start)
    let master = PrivateKey.generate()
    let domain = Domain(chainId: 1, verifyingContract: .zero)
    let payee = try! Address("0x00000000000000000000000000000000000000bb")
    let wallet: Wallet
    let delegation: Envelope
    let settings: PayeeSettings
    let store: PayeeStore
    let ledger: PayeeLedger
    let media: MediaLibrary

    init(revokeDelegation: Bool = false, validFor: UInt64 = 30 * 86400, allowances: [Allowance]? = nil) throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("paratii-shop-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: directory + "/media", withIntermediateDirectories: true)
        wallet = try Wallet.create(directory: directory + "/wallet", password: "pw", kdf: .light, clock: clock.closure)
        let ethAllowance = Allowance(
            token: .zero, total: try Units.parseAmount("0.001"), perPayment: try Units.parseAmount("0.001"), period: 0, perPeriod: 0)
        delegation = try Envelope.sign(
            SpendingDelegation(
                master: master.address, spender: wallet.address, allowances: allowances ?? [ethAllowance], payees: [],
                validAfter: Self.start - 60, validUntil: Self.start + validFor, salt: Salt.random()),
            domain: domain, signer: master)
        _ = try wallet.importDelegation(delegation)
        for name in ["init-stream0.webm"] + (1...5).map({ String(format: "chunk-stream0-%05d.webm", $0) }) {
            try Data((0..<2048).map { _ in UInt8.random(in: 0...255) }).write(to: URL(fileURLWithPath: directory + "/media/" + name))
        }
        try Data("<MPD mediaPresentationDuration=\"PT5.0S\"><Representation mimeType=\"video/webm\" codecs=\"vp09.00.21.08\">".utf8)
            .write(to: URL(fileURLWithPath: directory + "/media/manifest.mpd"))
        var revocations = RevocationList()
        if revokeDelegation {
            let revocation = try Envelope.sign(
                Revocation(issuer: master.address, target: delegation.id, issuedAt: Self.start), domain: domain, signer: master)
            _ = revocations.add(revocation)
        }
        settings = PayeeSettings(chain: Configuration(), payee: payee, token: .zero, price: Self.price)
        store = try PayeeStore(
            path: directory + "/payee.sqlite", verifier: Verifier(domain: domain, revocations: revocations), clock: clock.closure)
        ledger = try PayeeLedger(store: store, settings: settings)
        media = try MediaLibrary(directory: directory + "/media")
    }

    deinit { try? FileManager.default.removeItem(atPath: directory) }

    static func segment(_ n: Int) -> String { String(format: "/media/chunk-stream0-%05d.webm", n) }

    func bytes(_ path: String) throws -> [UInt8] { Array(try Data(contentsOf: URL(fileURLWithPath: directory + path))) }

    /// What the wallet signs for a segment: the price to the payee, the resource's path as the memo.
    func pay(_ path: String, amount: BigUInt = Shop.price, to payee: Address? = nil, token: Address = .zero) throws -> Envelope {
        try wallet.pay(
            PaymentRequest(payee: payee ?? self.payee, token: token, amount: amount, memo: PaymentRequest.memo(path), idempotencyKey: nil))
    }

    /// A voucher the spending key signs outside the ledger (what a stolen key could do).
    func forge(cumulative: BigUInt, sequence: UInt64, memo path: String) throws -> Envelope {
        let voucher = Voucher(
            delegation: delegation.id, payee: payee, token: .zero, cumulative: cumulative, sequence: sequence,
            memo: PaymentRequest.memo(path))
        return try Envelope.sign(voucher, domain: domain, signer: wallet.spendingKey, parents: [delegation])
    }

    /// The PAYMENT-SIGNATURE header for a voucher, as a page builds it from the 402's requirements.
    func header(_ envelope: Envelope, memo path: String) -> String {
        let payload: JSONValue = .object([
            "x402Version": .number("2"), "accepted": PaymentHeaders.requirements(settings, memo: path, channel: nil),
            "payload": envelope.json,
        ])
        return PaymentHeaders.encode(payload)
    }

    func channels() throws -> [ChannelState] { try store.channels() }

    /// Every voucher the store ever accepted (its receipts), not only each channel's best.
    func receipts() throws -> Int { try store.database.read { try Int.fetchOne($0, sql: "SELECT count(*) FROM receipt") ?? -1 } }

    /// The server on a free loopback port, driven over real HTTP (AsyncHTTPClient, concurrent requests allowed).
    func serve<Value: Sendable>(_ test: @Sendable (any TestClientProtocol) async throws -> Value) async throws -> Value {
        var logger = Logger(label: "test.payee")
        logger.logLevel = .warning
        let app = buildApplication(
            PayeeContext(settings: settings, ledger: ledger, media: media, web: nil), host: "127.0.0.1", port: 0, logger: logger)
        return try await app.test(.ahc(.http), test)
    }
}

extension TestClientProtocol {
    func get(_ path: String, payment: String? = nil, headers extra: HTTPFields = [:]) async throws -> TestResponse {
        var headers = extra
        if let payment { headers[PaymentHeaders.signature] = payment }
        return try await execute(uri: path, method: .get, headers: headers)
    }
}

extension TestResponse {
    /// A payment header decoded: base64, then JSON.
    func decoded(_ name: HTTPFields.Element.Name) -> JSONValue? {
        guard let text = headers[name], let data = Data(base64Encoded: text) else { return nil }
        return try? JSONValue.parse(Array(data))
    }

    var json: JSONValue? { try? JSONValue.parse(Array(body.readableBytesView)) }
    var bytes: [UInt8] { Array(body.readableBytesView) }
    /// The refusal code of a 402 (`error` is "code: why").
    var refusal: String? { decoded(PaymentHeaders.required)?["error"]?.stringValue.map { String($0.prefix { $0 != ":" }) } }
    var channel: JSONValue? { decoded(PaymentHeaders.required)?["accepts"]?.arrayValue?.first?["extra"]?["channel"] }
}
