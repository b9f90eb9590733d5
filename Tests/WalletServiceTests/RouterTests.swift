import BigInt
import Delegation
import Ethereum
import Foundation
import Hummingbird
import HummingbirdTesting
import Logging
import LoopbackHTTP
import PlayerCore
import Testing

@testable import WalletService

/// The wallet service's router in process (`app.test(.router)`): the same routes and middleware as
/// `paratii wallet serve`, over a real wallet (light scrypt) holding a delegation from a software master.
/// Every refusal a page can meet, with raw HTTP: not paired, a foreign Host, locked, over budget, too large.
@Suite struct WalletServiceRouterTests {
    static let page = "http://localhost:8080"
    static let payee = try! Address("0x00000000000000000000000000000000000000bb")
    static let password = "correct horse"

    struct Fixture: Sendable {
        let vault: Vault
        let directory: String
        let master: PrivateKey
    }

    /// A wallet with a delegation (ETH: total 0.001, 0.0001 per payment), unlocked in a vault, behind the router.
    static func withRouter<T: Sendable>(
        admin: Bool = true, _ test: @Sendable (any TestClientProtocol, Fixture) async throws -> T
    ) async throws -> T {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("pws-\(UUID().uuidString.prefix(8))").path
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let wallet = try Wallet.create(directory: directory, password: password, kdf: .light)
        let master = PrivateKey.generate()
        let now = Wallet.systemClock()
        let delegation = SpendingDelegation(
            master: master.address, spender: wallet.address,
            allowances: [Allowance(token: .zero, total: wei("0.001"), perPayment: wei("0.0001"), period: 0, perPeriod: 0)],
            payees: [], validAfter: now - 60, validUntil: now + 86400, salt: Salt.random())
        try wallet.importDelegation(try Envelope.sign(delegation, domain: Domain(chainId: 1, verifyingContract: .zero), signer: master))
        _ = try wallet.newPostingKey(scopes: .rate, kdf: .light)
        let vault = Vault(
            directory: directory, settings: WalletServiceSettings(socketPath: directory + "/wallet.sock", configuration: Configuration()))
        try await vault.unlock(password: password)
        var logger = Logger(label: "paratii.wallet.router-test")
        logger.logLevel = .critical
        let app = Application(responder: TestAuthority(inner: buildRouter(vault, admin: admin).buildResponder()), logger: logger)
        return try await app.test(.router) { client in try await test(client, Fixture(vault: vault, directory: directory, master: master)) }
    }

    /// `X-Test-Authority` sets the request's Host, which the in-process client always fills with "localhost".
    struct TestAuthority<Inner: HTTPResponder>: HTTPResponder {
        let inner: Inner
        func respond(to request: Request, context: Inner.Context) async throws -> Response {
            guard let authority = request.headers[.init("X-Test-Authority")!] else {
                return try await inner.respond(to: request, context: context)
            }
            var head = request.head
            head.authority = authority
            return try await inner.respond(to: Request(head: head, body: request.body), context: context)
        }
    }

    static func wei(_ text: String) -> BigUInt { try! Units.parseAmount(text) }
    static func object(_ response: TestResponse) -> JSONValue? { try? JSONValue.parse(Array(response.body.readableBytesView)) }
    static func code(_ response: TestResponse) -> String? { object(response)?["code"]?.stringValue }

    static func call(
        _ client: any TestClientProtocol, _ method: HTTPRequest.Method, _ uri: String, _ body: JSONValue? = nil, origin: String? = page,
        token: String? = nil, headers extra: HTTPFields = [:]
    ) async throws -> TestResponse {
        var headers = extra
        if let origin { headers[.origin] = origin }
        if let token { headers[.authorization] = "Bearer \(token)" }
        return try await client.execute(uri: uri, method: method, headers: headers, body: body.map { ByteBuffer(string: $0.compactText) })
    }

    /// Pairs `origin` as a page would (secret, code) and approves it as `paratii wallet approve-site` does; returns the token.
    static func pair(
        _ client: any TestClientProtocol, origin: String = page, budget: String = "0.0003", period: UInt64 = 86400
    ) async throws
        -> String
    {
        let secret = String(repeating: "ab", count: 32)
        let secretHash = Vault.hash(secret)
        let created = try await call(
            client, .post, "/v1/pairings", .object(["name": .string("test page"), "secretHash": .string(secretHash)]), origin: origin)
        #expect(created.status == .created)
        let id = try #require(object(created)?["id"]?.stringValue), code = try #require(object(created)?["code"]?.stringValue)
        let pending = try await call(client, .get, "/v1/pairings/\(id)", origin: origin, headers: [.authorization: "Pairing \(secret)"])
        #expect(object(pending)?["state"] == .string("pending"))
        let approved = try await call(
            client, .post, "/v1/admin/pairings/\(id)/approve",
            .object([
                "code": .string(code),
                "budgets": .array([
                    .object([
                        "token": .string(Address.zero.checksummed), "limit": .string(String(wei(budget))), "period": .number("\(period)"),
                    ])
                ]),
            ]), origin: nil)
        #expect(approved.status == .ok)
        let collected = try await call(client, .get, "/v1/pairings/\(id)", origin: origin, headers: [.authorization: "Pairing \(secret)"])
        let token = try #require(object(collected)?["token"]?.stringValue)
        // Delivered once: the pairing is gone after it.
        let again = try await call(client, .get, "/v1/pairings/\(id)", origin: origin, headers: [.authorization: "Pairing \(secret)"])
        #expect(again.status == .notFound)
        return token
    }

    static func payment(_ key: String, amount: String = "0.0001") -> JSONValue {
        .object([
            "payee": .string(payee.checksummed), "token": .string(Address.zero.checksummed), "amount": .string(String(wei(amount))),
            "memo": .string("/media/\(key)"), "key": .string(key),
        ])
    }

    @Test func unpairedOriginsAreForbidden() async throws {
        try await Self.withRouter { client, _ in
            let token = try await Self.pair(client)
            // No pairing at all, no Origin, and a paired site's token shown by another origin: 403 not_paired each time.
            for (origin, bearer) in [("http://evil.localhost:9", nil), (nil, token), ("http://127.0.0.1:8080", token)]
                as [(String?, String?)]
            {
                for (method, uri, body) in [
                    (HTTPRequest.Method.post, "/v1/pay", Self.payment("a")), (.get, "/v1/budget", nil), (.get, "/v1/session", nil),
                    (.get, "/v1/history", nil), (.get, "/v1/events?timeout=0", nil),
                    (.post, "/v1/vote", .object(["content": .string("v"), "rate": .number("5")])),
                ] as [(HTTPRequest.Method, String, JSONValue?)] {
                    let response = try await Self.call(client, method, uri, body, origin: origin, token: bearer)
                    #expect(response.status == .forbidden, "\(uri) from \(origin ?? "no origin")")
                    #expect(Self.code(response) == "not_paired")
                    #expect(response.headers[.contentType] == "application/json")
                }
            }
            let history = try await Self.call(client, .get, "/v1/history", token: token)
            #expect(Self.object(history)?["vouchers"]?.arrayValue?.isEmpty == true)
        }
    }

    @Test func hostMustBeLoopbackAndPreflightIsAnswered() async throws {
        try await Self.withRouter { client, _ in
            let rebound = try await Self.call(client, .get, "/v1/session", headers: [.init("X-Test-Authority")!: "attacker.example:8548"])
            #expect(rebound.status.code == 421)
            #expect(Self.code(rebound) == "bad_host")
            let preflight = try await Self.call(
                client, .options, "/v1/pay",
                headers: [
                    .accessControlRequestMethod: "POST", .accessControlRequestHeaders: "authorization, content-type",
                    .init("Access-Control-Request-Private-Network")!: "true",
                ])
            #expect(preflight.status == .noContent)
            #expect(preflight.headers[.accessControlAllowOrigin] == Self.page)
            #expect(preflight.headers[.accessControlAllowHeaders]?.contains("Authorization") == true)
            #expect(preflight.headers[.init("Access-Control-Allow-Private-Network")!] == "true")
        }
    }

    @Test func siteBudgetIsChargedWithTheLedger() async throws {
        try await Self.withRouter { client, fixture in
            let token = try await Self.pair(client, budget: "0.0003")
            var vouchers: [Envelope] = []
            var lastBudget: JSONValue?
            for (index, key) in ["s1", "s2", "s3"].enumerated() {
                // Longer than the writer thread lingers: the next payment starts a new one.
                if index == 2 { try await Task.sleep(for: .milliseconds(400)) }
                let paid = try await Self.call(client, .post, "/v1/pay", Self.payment(key), token: token)
                #expect(paid.status == .ok)
                // The answer's budget is the one this payment's commit left.
                lastBudget = Self.object(paid)?["budget"]
                #expect(lastBudget?.arrayValue?.first?["spent"] == .string(String(Self.wei("0.000\(index + 1)"))))
                let envelope = try Envelope(json: try #require(Self.object(paid)?["voucher"]))
                #expect(Verifier(domain: envelope.domain).verify(envelope, at: Wallet.systemClock()).valid)
                guard case .spending(let spending)? = envelope.parents.first?.message else {
                    Issue.record("a voucher without its delegation")
                    return
                }
                #expect(spending.master == fixture.master.address)
                vouchers.append(envelope)
            }
            // A retry with the same key: the identical voucher, nothing charged.
            let retried = try await Self.call(client, .post, "/v1/pay", Self.payment("s3"), token: token)
            #expect(try Envelope(json: try #require(Self.object(retried)?["voucher"])).json == vouchers[2].json)
            // The site's 0.0003 is spent although the delegation has 0.0007 left: refused, over budget, nothing recorded.
            let over = try await Self.call(client, .post, "/v1/pay", Self.payment("s4"), token: token)
            #expect(over.status == .forbidden)
            #expect(Self.code(over) == "over_budget")
            let budget = try await Self.call(client, .get, "/v1/budget", token: token)
            let line = try #require(Self.object(budget)?["budget"]?.arrayValue?.first)
            #expect(Self.object(retried)?["budget"] == lastBudget)
            #expect(Self.object(budget)?["budget"] == lastBudget)
            #expect(line["spent"] == .string(String(Self.wei("0.0003"))))
            #expect(line["remaining"] == .string("0"))
            #expect(line["delegationRemaining"] == .string(String(Self.wei("0.0007"))))
            let wallet = try Wallet.open(directory: fixture.directory, password: Self.password)
            #expect(try wallet.budget().first?.spent == Self.wei("0.0003"))
            #expect(try wallet.history().count == 3)
            #expect(try wallet.siteHistory(Self.page).count == 3)
            // Another site has its own budget under the same delegation.
            let other = try await Self.pair(client, origin: "http://127.0.0.1:8080", budget: "0.0001")
            let paid = try await Self.call(client, .post, "/v1/pay", Self.payment("o1"), origin: "http://127.0.0.1:8080", token: other)
            #expect(paid.status == .ok)
            #expect(try wallet.budget().first?.spent == Self.wei("0.0004"))
        }
    }

    /// Eight pages at once share commits (group commit); each payment is still charged alone: with room for
    /// five, exactly five are paid and three refused over budget, and the ledger holds exactly those five.
    @Test func concurrentPaymentsAreEachChargedOnce() async throws {
        try await Self.withRouter { client, fixture in
            let token = try await Self.pair(client, budget: "0.0005", period: 0)
            let statuses = try await withThrowingTaskGroup(of: (Int, String?).self) { group in
                for index in 0..<8 {
                    group.addTask {
                        let response = try await Self.call(client, .post, "/v1/pay", Self.payment("c\(index)"), token: token)
                        return (Int(response.status.code), Self.code(response))
                    }
                }
                return try await group.reduce(into: []) { $0.append($1) }
            }
            #expect(statuses.filter { $0.0 == 200 }.count == 5)
            #expect(statuses.filter { $0.0 == 403 && $0.1 == "over_budget" }.count == 3)
            let wallet = try Wallet.open(directory: fixture.directory, password: Self.password)
            #expect(try wallet.siteHistory(Self.page).count == 5)
            #expect(try wallet.budget().first?.spent == Self.wei("0.0005"))
            #expect(try wallet.siteBudgets(Self.page).first?.spent == Self.wei("0.0005"))
        }
    }

    @Test func lockedRefusesUntilUnlocked() async throws {
        try await Self.withRouter { client, fixture in
            let token = try await Self.pair(client)
            #expect(try await Self.call(client, .post, "/v1/admin/lock", origin: nil).status == .ok)
            #expect(fixture.vault.isLocked)
            let refused = try await Self.call(client, .post, "/v1/pay", Self.payment("l1"), token: token)
            #expect(refused.status.code == 423)
            #expect(Self.code(refused) == "locked")
            // The page still learns who it is and that the wallet is locked, and hears the unlock as an event.
            let session = try await Self.call(client, .get, "/v1/session", token: token)
            #expect(Self.object(session)?["locked"] == .bool(true))
            let events = try await Self.call(client, .get, "/v1/events?since=0&timeout=0", token: token)
            guard case .number(let text)? = Self.object(events)?["revision"], let revision = Int(text) else {
                Issue.record("no revision")
                return
            }
            #expect(Self.object(events)?["events"]?.arrayValue?.contains { $0["type"] == .string("locked") } == true)
            let wrong = try await Self.call(client, .post, "/v1/admin/unlock", .object(["password": .string("wrong")]), origin: nil)
            #expect(wrong.status == .badRequest)
            #expect(fixture.vault.isLocked)
            #expect(
                try await Self.call(client, .post, "/v1/admin/unlock", .object(["password": .string(Self.password)]), origin: nil).status
                    == .ok)
            let woken = try await Self.call(client, .get, "/v1/events?since=\(revision)&timeout=5", token: token)
            #expect(Self.object(woken)?["events"]?.arrayValue?.contains { $0["type"] == .string("unlocked") } == true)
            #expect(try await Self.call(client, .post, "/v1/pay", Self.payment("l1"), token: token).status == .ok)
        }
    }

    /// `--idle-lock`: the key leaves memory after the idle time without use; a payment counts as use.
    @Test func idleLockDropsTheKey() async throws {
        try await Self.withRouter { client, fixture in
            let token = try await Self.pair(client)
            let vault = Vault(
                directory: fixture.directory,
                settings: WalletServiceSettings(socketPath: fixture.directory + "/idle.sock", idleLock: 2, configuration: Configuration()))
            try await vault.unlock(password: Self.password)
            let unlockedAt = vault.lastUsed
            // Instants, not sleeps: a loaded machine must not turn "1.9 s idle" into 2 s.
            vault.lockIfIdle(now: unlockedAt + .milliseconds(1900))
            #expect(!vault.isLocked, "1.9 s after the unlock is not idle yet")
            try await Task.sleep(for: .milliseconds(20))
            _ = try await vault.pay(
                PaymentRequest(payee: Self.payee, token: .zero, amount: Self.wei("0.0001"), memo: PaymentRequest.memo("idle")),
                site: Self.page)
            let paidAt = vault.lastUsed
            #expect(paidAt > unlockedAt, "a payment counts as use")
            vault.lockIfIdle(now: unlockedAt + .seconds(2))
            #expect(!vault.isLocked, "2 s after the unlock but less after the payment: not idle")
            vault.lockIfIdle(now: paidAt + .milliseconds(1999))
            #expect(!vault.isLocked)
            vault.lockIfIdle(now: paidAt + .seconds(2))
            #expect(vault.isLocked)
            await #expect(throws: WalletServiceError.self) {
                _ = try await vault.pay(PaymentRequest(payee: Self.payee, token: .zero, amount: 1), site: Self.page)
            }
            // The router's own vault (no idle lock) is unaffected.
            #expect(try await Self.call(client, .post, "/v1/pay", Self.payment("i1"), token: token).status == .ok)
        }
    }

    /// `paratii wallet revoke-site`: the site's token stops working at once.
    @Test func revokedSiteIsForbidden() async throws {
        try await Self.withRouter { client, _ in
            let token = try await Self.pair(client)
            #expect(try await Self.call(client, .post, "/v1/pay", Self.payment("r1"), token: token).status == .ok)
            let revoked = try await Self.call(client, .post, "/v1/admin/sites/revoke", .object(["origin": .string(Self.page)]), origin: nil)
            #expect(revoked.status == .ok)
            let refused = try await Self.call(client, .post, "/v1/pay", Self.payment("r2"), token: token)
            #expect(refused.status == .forbidden)
            #expect(Self.code(refused) == "not_paired")
        }
    }

    @Test func wrongCodeRefusesThePairing() async throws {
        try await Self.withRouter { client, _ in
            let created = try await Self.call(
                client, .post, "/v1/pairings", .object(["name": .string("p"), "secretHash": .string(Vault.hash("x"))]))
            let id = try #require(Self.object(created)?["id"]?.stringValue), code = try #require(Self.object(created)?["code"]?.stringValue)
            let wrongCode = code == "000000" ? "000001" : "000000"
            let budgets: JSONValue = .array([
                .object(["token": .string(Address.zero.checksummed), "limit": .string("1"), "period": .number("0")])
            ])
            let wrong = try await Self.call(
                client, .post, "/v1/admin/pairings/\(id)/approve", .object(["code": .string(wrongCode), "budgets": budgets]), origin: nil)
            #expect(wrong.status == .forbidden)
            #expect(Self.code(wrong) == "wrong_code")
            let late = try await Self.call(
                client, .post, "/v1/admin/pairings/\(id)/approve", .object(["code": .string(code), "budgets": budgets]), origin: nil)
            #expect(late.status == .notFound)
        }
    }

    @Test func bodiesAreLimitedAndStrict() async throws {
        try await Self.withRouter { client, _ in
            let token = try await Self.pair(client)
            let large = try await client.execute(
                uri: "/v1/pay", method: .post, headers: [.origin: Self.page, .authorization: "Bearer \(token)"],
                body: ByteBuffer(string: "{\"memo\": \"" + String(repeating: "x", count: 20_000) + "\"}"))
            #expect(large.status == .contentTooLarge)
            var unknown = Self.payment("u1")
            if case .object(var object) = unknown { object["extra"] = .string("?"); unknown = .object(object) }
            let refused = try await Self.call(client, .post, "/v1/pay", unknown, token: token)
            #expect(refused.status == .badRequest)
            #expect(Self.code(refused) == "unknown_field")
            let fraction = try await Self.call(
                client, .post, "/v1/pay",
                .object([
                    "payee": .string(Self.payee.checksummed), "token": .string(Address.zero.checksummed), "amount": .string("0.5"),
                ]), token: token)
            #expect(fraction.status == .badRequest)
        }
    }

    @Test func adminRoutesAreOnlyOnTheSocket() async throws {
        try await Self.withRouter(admin: false) { client, fixture in
            for uri in ["/v1/admin/lock", "/v1/admin/unlock", "/v1/admin/pairings/00/approve", "/v1/admin/sites/revoke"] {
                let response = try await Self.call(client, .post, uri, .object([:]), origin: nil)
                #expect(response.status == .notFound)
            }
            #expect(!fixture.vault.isLocked)
        }
    }

    @Test func aRatingIsAValidVote() async throws {
        try await Self.withRouter { client, fixture in
            let token = try await Self.pair(client)
            let voted = try await Self.call(
                client, .post, "/v1/vote", .object(["content": .string("video-42"), "rate": .number("4")]), token: token)
            #expect(voted.status == .ok)
            let envelope = try Envelope(json: try #require(Self.object(voted)?["vote"]))
            #expect(Verifier(domain: envelope.domain).verify(envelope, at: Wallet.systemClock()).valid)
            guard case .vote(let vote) = envelope.message else { Issue.record("not a Vote"); return }
            #expect(vote.kind == 1 && vote.value == 4)
            #expect(vote.content == PaymentRequest.memo("video-42"))
            // The chain ends at the master (the card in real use).
            guard case .spending(let spending)? = envelope.parents.last?.message else { Issue.record("no spending parent"); return }
            #expect(spending.master == fixture.master.address)
            let outOfRange = try await Self.call(
                client, .post, "/v1/vote", .object(["content": .string("v"), "rate": .number("6")]), token: token)
            #expect(outOfRange.status == .badRequest)
        }
    }
}
