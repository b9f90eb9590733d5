import BigInt
import Bridge
import Delegation
import Ethereum
import Foundation
import Hummingbird
import LoopbackHTTP
import PlayerCore

/// The routes a web page uses, on loopback TCP: pair, then pay, budget, vote, history and events, each
/// only for a paired Origin presenting its own bearer token (`Authorization: Bearer`, kept by the page).
struct PageController {
    let vault: Vault
    let settings: WalletServiceSettings
    let rendered = BudgetRendering()

    func addRoutes(to group: RouterGroup<BasicRequestContext>) {
        let vault = self.vault, settings = self.settings, rendered = self.rendered
        group.get("health") { _, _ in JSONResponse.make(.object(["ok": .bool(true)])) }

        // The page's first call: is this origin paired, is the wallet locked? Answers without a pairing, so a
        // page can say which it is (a 403 here means "not paired", which the page shows before asking to pair).
        group.get("session") { request, _ in
            let site = try vault.site(token: Self.token(request), origin: request.headers[.origin])
            var object: JSONObject = ["origin": .string(site.origin), "name": .string(site.name), "locked": .bool(vault.isLocked)]
            if let delegation = Self.delegationJSON(vault) { object["delegation"] = delegation }
            return JSONResponse.make(.object(object))
        }

        group.post("pairings") { request, _ in
            guard let origin = request.headers[.origin], !origin.isEmpty, origin.utf8.count <= 256 else {
                throw APIError.badRequest("pairing needs the page's Origin")
            }
            let object = try RequestBodies.object(
                try await BoundedBody.json(request, limit: settings.bodyLimit), keys: ["name", "secretHash"])
            guard let name = object["name"]?.stringValue, !name.isEmpty, name.count <= 64 else {
                throw APIError.badRequest("name must be 1 to 64 characters")
            }
            guard let hash = object["secretHash"]?.stringValue, hash.utf8.count == 64, (try? [UInt8](hex: hash)) != nil else {
                throw APIError.badRequest("secretHash must be 64 hex digits (SHA-256 of the page's secret)")
            }
            let created = try vault.requestPairing(origin: origin, name: name, secretHash: hash.lowercased())
            return JSONResponse.make(.object(["id": .string(created.id), "code": .string(created.code)]), status: .created)
        }

        group.get("pairings/:id") { request, context in
            guard let secret = RequestHeaders.pairingSecret(request.headers[.authorization]) else {
                throw APIError(401, "unauthenticated", "show the pairing's secret: Authorization: Pairing <secret>")
            }
            let state = try vault.pairingState(id: context.parameters.get("id") ?? "", secret: secret)
            var object: JSONObject = ["state": .string(state.state)]
            if let token = state.token { object["token"] = .string(token) }
            return JSONResponse.make(.object(object))
        }

        group.post("pay") { request, _ in
            let site = try vault.site(token: Self.token(request), origin: request.headers[.origin])
            let payment = try Self.payment(try await BoundedBody.json(request, limit: settings.bodyLimit), site: site)
            let paid = try await vault.pay(payment, site: site.origin)
            vault.record("paid", origin: site.origin)
            let budget = rendered.json(site.origin, paid.budgets) { Self.budgetJSON($0, settings) }
            return JSONResponse.make(.object(["voucher": paid.json, "budget": budget]))
        }

        group.get("budget") { request, _ in
            let site = try vault.site(token: Self.token(request), origin: request.headers[.origin])
            let budgets = try Self.walletCall { try vault.unlocked().siteBudgets(site.origin) }
            var object: JSONObject = ["origin": .string(site.origin), "budget": Self.budgetJSON(budgets, settings)]
            if let delegation = Self.delegationJSON(vault) { object["delegation"] = delegation }
            return JSONResponse.make(.object(object))
        }

        group.post("vote") { request, _ in
            let site = try vault.site(token: Self.token(request), origin: request.headers[.origin])
            let object = try RequestBodies.object(
                try await BoundedBody.json(request, limit: settings.bodyLimit), keys: ["content", "rate"])
            guard let content = object["content"]?.stringValue, !content.isEmpty, content.utf8.count <= 256 else {
                throw APIError.badRequest("content must be a content id (0x + 32 bytes, or text that is hashed)")
            }
            guard case .number(let text) = object["rate"], let stars = Int16(text), (1...5).contains(stars) else {
                throw APIError.badRequest("rate must be 1 to 5")
            }
            let wallet = try vault.unlocked()
            let vote = try await Self.walletCallAsync {
                try await Blocking.run { try wallet.vote(content: PaymentRequest.memo(content), .rate(stars)) }
            }
            vault.record("voted", origin: site.origin)
            return JSONResponse.make(.object(["vote": vote.json]))
        }

        group.get("history") { request, _ in
            let site = try vault.site(token: Self.token(request), origin: request.headers[.origin])
            let limit = request.uri.queryParameters.get("limit").flatMap { Int($0) } ?? 100
            guard (1...1000).contains(limit) else { throw APIError.badRequest("limit must be 1 to 1000") }
            let records = try Self.walletCall { try vault.unlocked().siteHistory(site.origin, limit: limit) }
            return JSONResponse.make(
                .object([
                    "vouchers": .array(
                        records.map { r in
                            .object([
                                "payee": .string(r.voucher.payee.checksummed), "token": .string(r.voucher.token.checksummed),
                                "amount": .string(String(r.amount)), "cumulative": .string(String(r.voucher.cumulative)),
                                "sequence": .number(String(r.voucher.sequence)), "memo": .string(r.voucher.memo.hexString),
                                "createdAt": .number(String(r.createdAt)),
                            ])
                        })
                ]))
        }

        // A long poll: `locked` and `unlocked` for every page, `paid` and `voted` for this origin's own.
        // Answered while locked too: that is how a page learns it may go on.
        group.get("events") { request, _ in
            let site = try vault.site(token: Self.token(request), origin: request.headers[.origin])
            let parameters = request.uri.queryParameters
            let query = try RequestHeaders.eventsQuery(
                since: parameters.get("since").map { String($0) }, timeout: parameters.get("timeout").map { String($0) })
            let deadline = ContinuousClock.now + .milliseconds(query.timeoutMilliseconds)
            while true {
                let (revision, events) = vault.events(since: query.since, origin: site.origin)
                if !events.isEmpty || ContinuousClock.now >= deadline {
                    return JSONResponse.make(
                        .object([
                            "revision": .number("\(revision)"), "locked": .bool(vault.isLocked),
                            "events": .array(events.map { .object(["revision": .number("\($0.revision)"), "type": .string($0.type)]) }),
                        ]))
                }
                await vault.waitForChange(after: revision, until: deadline)
            }
        }
    }

    static func token(_ request: Request) -> String? { RequestHeaders.bearerToken(request.headers[.authorization]) }

    /// `{"payee", "token", "amount", "memo", "key"}`: amount in the token's base units (the 402's `amount`), memo
    /// 0x + 32 bytes or text (hashed); the idempotency key is the page's, kept apart from every other site's.
    static func payment(_ value: JSONValue, site: Site) throws -> PaymentRequest {
        let object = try RequestBodies.object(value, keys: ["payee", "token", "amount", "memo", "key"])
        guard let payee = object["payee"]?.stringValue.flatMap({ try? Address($0) }) else {
            throw APIError.badRequest("payee must be an address")
        }
        guard let token = object["token"]?.stringValue.flatMap({ try? Address($0) }) else {
            throw APIError.badRequest("token must be an address (0x000…0 for ETH)")
        }
        guard let text = object["amount"]?.stringValue, text.utf8.count <= 78, text.utf8.allSatisfy({ (0x30...0x39).contains($0) }),
            let amount = BigUInt(text, radix: 10), amount > 0
        else { throw APIError.badRequest("amount must be a positive integer in the token's base units, as a string") }
        let memo = object["memo"]?.stringValue ?? ""
        guard memo.utf8.count <= 256 else { throw APIError.badRequest("memo must be at most 256 bytes") }
        let key = object["key"]?.stringValue
        if let key { guard !key.isEmpty, key.utf8.count <= 128 else { throw APIError.badRequest("key must be 1 to 128 bytes") } }
        return PaymentRequest(
            payee: payee, token: token, amount: amount, memo: PaymentRequest.memo(memo),
            idempotencyKey: key.map { "site \(site.origin) \($0)" })
    }

    static func budgetJSON(_ budgets: [SiteBudget], _ settings: WalletServiceSettings) -> JSONValue {
        let configuration = settings.configuration
        return .array(
            budgets.map { b in
                let token = b.limit.token
                return .object([
                    "token": .string(token.checksummed), "symbol": .string(configuration.tokenName(token)),
                    "decimals": .number("\(configuration.decimals(of: token) ?? 18)"),
                    "limit": .string(String(b.limit.limit)), "period": .number("\(b.limit.period)"),
                    "spentThisPeriod": .string(String(b.spentThisPeriod)), "spent": .string(String(b.spent)),
                    "remaining": .string(String(b.remaining)), "delegationRemaining": .string(String(b.delegationRemaining)),
                    "remainingText": .string(configuration.formatAmount(b.remaining, token: token)),
                    "spentText": .string(configuration.formatAmount(b.spent, token: token)),
                ])
            })
    }

    /// `{"state": "ready" | "requesting" | "denied" | "unavailable", "message": …}` when a bridge supplies the
    /// delegations: "requesting" is the page's "waiting for approval on the bridge".
    static func delegationJSON(_ vault: Vault) -> JSONValue? {
        vault.delegationStatus().map { .object(["state": .string($0.phase.rawValue), "message": .string($0.message)]) }
    }

    static func walletCall<T>(_ body: () throws -> T) throws -> T {
        do { return try body() } catch let error as WalletError { throw WalletServiceError.wallet(error) }
    }

    static func walletCallAsync<T>(_ body: () async throws -> T) async throws -> T {
        do { return try await body() } catch let error as WalletError { throw WalletServiceError.wallet(error) }
    }
}

/// Each site's budgets as last rendered: the pages paid in one batch share one budget, rendered once
/// (its amounts' decimal text is most of an answer's cost).
final class BudgetRendering: @unchecked Sendable {
    private let lock = NSLock()
    private var last: [String: (budgets: [SiteBudget], json: JSONValue)] = [:]

    func json(_ origin: String, _ budgets: [SiteBudget], render: ([SiteBudget]) -> JSONValue) -> JSONValue {
        if let known = lock.withLock({ last[origin] }), known.budgets == budgets { return known.json }
        let json = render(budgets)
        lock.withLock {
            if last.count >= 256 { last = [:] }
            last[origin] = (budgets, json)
        }
        return json
    }
}
