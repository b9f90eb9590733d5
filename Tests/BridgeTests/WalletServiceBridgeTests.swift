import Delegation
import Ethereum
import Foundation
import Hummingbird
import HummingbirdTesting
import Logging
import PlayerCore
import Storage
import Testing

@testable import Bridge
@testable import WalletService

/// `paratii wallet serve` getting its delegation from the bridge by itself: the real bridge in process,
/// the wallet service's routes as pages reach them, and (for the approval) the soft card on the real
/// pcscd driven by the `paratii approve` executable. Also the refusals: denied on the bridge, and no bridge.
@Suite(.serialized, .timeLimit(.minutes(15))) struct WalletServiceBridgeTests {
    static let page = "http://localhost:8080"
    static let password = "wallet password"
    static let payee = try! Address("0x00000000000000000000000000000000000000bb")

    /// A wallet (light scrypt) already paired with `bridge` (the token where `wallet request-delegation`
    /// keeps it), served by a vault that asks `bridge` for ETH total 0.05, 0.001 per payment.
    static func vault(_ directory: String, bridge: String, token: String?, chain: Configuration) throws -> Vault {
        _ = try Wallet.create(directory: directory, password: password, kdf: .light)
        if let token {
            try SecureFile.write(
                Array(JSONValue.object(["bridge": .string(bridge), "token": .string(token)]).compactText.utf8),
                to: DelegationSource.tokenFile(wallet: directory))
        }
        var settings = WalletServiceSettings(socketPath: directory + "/wallet.sock", configuration: chain)
        var source = DelegationSource(
            bridge: bridge, allowances: [try Allowance(spec: "token=ETH,total=0.05,per-payment=0.001", configuration: chain)],
            validFor: 7 * 86400)
        source.retryAfter = 3600
        settings.delegationSource = source
        return Vault(directory: directory, settings: settings)
    }

    /// Pairs the page's origin with the vault as a page and `paratii wallet approve-site` would; returns the page's token.
    static func pairPage(_ vault: Vault) throws -> String {
        let secret = String(repeating: "cd", count: 32)
        let created = try vault.requestPairing(origin: page, name: "test page", secretHash: Vault.hash(secret))
        _ = try vault.approve(
            id: created.id, code: created.code, limits: [SiteLimit(token: .zero, limit: try Units.parseAmount("0.01"), period: 86400)])
        return try #require(try vault.pairingState(id: created.id, secret: secret).token)
    }

    static func withPages<T: Sendable>(_ vault: Vault, _ test: @Sendable (any TestClientProtocol) async throws -> T) async throws -> T {
        var logger = Logger(label: "paratii.wallet.bridge-test")
        logger.logLevel = .critical
        let app = Application(responder: buildRouter(vault, admin: true).buildResponder(), logger: logger)
        return try await app.test(.router) { client in try await test(client) }
    }

    static func send(
        _ client: any TestClientProtocol, _ method: HTTPRequest.Method, _ uri: String, token: String?, _ body: JSONValue? = nil
    ) async throws -> (status: Int, json: JSONValue?) {
        var headers: HTTPFields = [:]
        if let token {
            headers[.origin] = page
            headers[.authorization] = "Bearer \(token)"
        }
        let response = try await client.execute(
            uri: uri, method: method, headers: headers, body: body.map { ByteBuffer(string: $0.compactText) })
        return (Int(response.status.code), try? JSONValue.parse(Array(response.body.readableBytesView)))
    }

    static func pay(_ client: any TestClientProtocol, token: String, key: String) async throws -> (status: Int, json: JSONValue?) {
        try await send(
            client, .post, "/v1/pay", token: token,
            .object([
                "payee": .string(payee.checksummed), "token": .string(Address.zero.checksummed),
                "amount": .string(String(try Units.parseAmount("0.0001"))), "memo": .string("/media/\(key)"), "key": .string(key),
            ]))
    }

    /// Long-polls the page's `/v1/events` until an event of `type` arrives; returns every event type seen.
    static func waitForEvent(
        _ client: any TestClientProtocol, token: String, _ type: String, seconds: Double = 120
    ) async throws -> [String] {
        var since = "0", seen: [String] = []
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            let answer = try await send(client, .get, "/v1/events?since=\(since)&timeout=5", token: token)
            #expect(answer.status == 200)
            if case .number(let text) = answer.json?["revision"] { since = text }
            seen += (answer.json?["events"]?.arrayValue ?? []).compactMap { $0["type"]?.stringValue }
            if seen.contains(type) { return seen }
        }
        Issue.record("no \(type) event within \(seconds) s; saw \(seen)")
        return seen
    }

    @Test func serviceAsksTheBridgeOnceAndPaysAfterTheCardApproves() async throws {
        let rig = try await CardBridgeRig()
        let (card, bridge) = (rig.card, rig.bridge)
        let chain = bridge.settings.chain
        let vault = try Self.vault(
            bridge.directory + "/wallet", bridge: bridge.settings.socketPath, token: try await bridge.pair("web wallet"), chain: chain)
        try await vault.unlock(password: Self.password)
        let token = try Self.pairPage(vault)

        try await Self.withPages(vault) { client in
            // Eight pages at once, no delegation in the wallet: each hears "waiting", promptly, and the bridge holds one request.
            let started = Date()
            let answers = try await withThrowingTaskGroup(of: (status: Int, json: JSONValue?).self) { group in
                for i in 0..<8 { group.addTask { try await Self.pay(client, token: token, key: "early-\(i)") } }
                return try await group.reduce(into: []) { $0.append($1) }
            }
            #expect(Date().timeIntervalSince(started) < 30, "a page waited instead of hearing why")
            for answer in answers {
                #expect(answer.status == 503 && answer.json?["code"]?.stringValue == "awaiting_delegation", "\(answer)")
            }
            let id = try await bridge.waitPending("requests")
            // The bridge lists the request a moment before the service hears its id back.
            var session = try await Self.send(client, .get, "/v1/session", token: token)
            let deadline = Date().addingTimeInterval(30)
            while session.json?["delegation"]?["message"]?.stringValue?.contains(id) != true, Date() < deadline {
                try await Task.sleep(for: .milliseconds(50))
                session = try await Self.send(client, .get, "/v1/session", token: token)
            }
            #expect(session.json?["delegation"]?["state"]?.stringValue == "requesting", "\(String(describing: session.json))")
            #expect(session.json?["delegation"]?["message"]?.stringValue?.contains("waiting for approval on the bridge") == true)
            #expect(session.json?["delegation"]?["message"]?.stringValue?.contains(id) == true)
            #expect(try await bridge.store.requests().count == 1)

            // The user approves on the bridge with the card.
            let approved = try await CardFlowTests.run([
                "approve", id, "--socket", bridge.settings.socketPath, "--config", rig.config, "--reader", CardFlowTests.reader,
                "--pin-file", rig.pin,
            ])
            #expect(approved.status == 0, "\(approved.stderr)")
            let seen = try await Self.waitForEvent(client, token: token, "delegation.approved")
            #expect(seen.filter { $0 == "delegation.requested" }.count == 1, "\(seen)")

            // The page pays now, and the voucher verifies back to the card.
            let paid = try await Self.pay(client, token: token, key: "after")
            #expect(paid.status == 200, "\(String(describing: paid.json))")
            let envelope = try Envelope(json: try #require(paid.json?["voucher"]))
            let verdict = Verifier(domain: chain.domain).verify(envelope, at: Wallet.systemClock())
            #expect(verdict.valid, "\(verdict.detail)")
            #expect(verdict.master == card.master)
            let budget = try await Self.send(client, .get, "/v1/budget", token: token)
            #expect(budget.json?["delegation"]?["state"]?.stringValue == "ready")
            // A usable delegation: nothing more is asked, by pages or by the periodic check.
            #expect(try vault.checkDelegation()?.phase == .ready)
            #expect(try await bridge.store.requests().count == 1)
        }
        vault.lockNow()
        await rig.finish()
    }

    @Test func deniedOnTheBridgeIsAClearRefusalAndIsNotAskedAgain() async throws {
        let bridge = try await TestBridge()
        let vault = try Self.vault(
            bridge.directory + "/wallet", bridge: bridge.settings.socketPath, token: try await bridge.pair("web wallet"),
            chain: bridge.settings.chain)
        try await vault.unlock(password: Self.password)
        let token = try Self.pairPage(vault)
        try await Self.withPages(vault) { client in
            let id = try await bridge.waitPending("requests")
            let denied = try await call { try bridge.client().request("POST", "/v1/admin/delegation-requests/\(id)/deny") }
            #expect(denied.status == 200)
            _ = try await Self.waitForEvent(client, token: token, "delegation.denied")
            for i in 0..<3 {
                let answer = try await Self.pay(client, token: token, key: "denied-\(i)")
                #expect(answer.status == 403 && answer.json?["code"]?.stringValue == "delegation_denied", "\(answer)")
                #expect(answer.json?["error"]?.stringValue?.contains("denied") == true)
            }
            let session = try await Self.send(client, .get, "/v1/session", token: token)
            #expect(session.json?["delegation"]?["state"]?.stringValue == "denied")
            #expect(try await bridge.store.requests().count == 1, "the service asked again after a denial")

            // The user asks again explicitly (`paratii wallet renew-delegation`): one new request.
            let renewed = try await Self.send(client, .post, "/v1/admin/delegation/request", token: nil)
            #expect(renewed.status == 200 && renewed.json?["state"]?.stringValue == "requesting", "\(renewed)")
            let deadline = Date().addingTimeInterval(60)
            while try await bridge.store.requests().count < 2, Date() < deadline { try await Task.sleep(for: .milliseconds(100)) }
            #expect(try await bridge.store.requests().count == 2)
        }
        vault.lockNow()
        await bridge.stop()
    }

    @Test func bridgeOutOfReachIsAClearRefusalAndIsNotHammered() async throws {
        let directory = "/tmp/pws-\(UUID().uuidString.prefix(8))"
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let chain = Configuration(
            chainId: 1337, verifyingContract: .zero, ptiToken: try Address("0x1111111111111111111111111111111111111111"))
        let vault = try Self.vault(directory + "/wallet", bridge: directory + "/no-bridge.sock", token: nil, chain: chain)
        try await vault.unlock(password: Self.password)
        let token = try Self.pairPage(vault)
        try await Self.withPages(vault) { client in
            _ = try await Self.waitForEvent(client, token: token, "delegation.unavailable", seconds: 30)
            for i in 0..<3 {
                let answer = try await Self.pay(client, token: token, key: "away-\(i)")
                #expect(answer.status == 502 && answer.json?["code"]?.stringValue == "bridge_unavailable", "\(answer)")
                #expect(answer.json?["error"]?.stringValue?.contains("cannot reach the bridge") == true, "\(answer)")
            }
            // One attempt, not one per payment: within retryAfter nothing more is asked.
            let events = try await Self.send(client, .get, "/v1/events?since=0&timeout=0", token: token)
            let seen = (events.json?["events"]?.arrayValue ?? []).compactMap { $0["type"]?.stringValue }
            #expect(seen.filter { $0 == "delegation.requested" }.count == 1, "\(seen)")
        }
        vault.lockNow()
    }
}
