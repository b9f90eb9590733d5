import Delegation
import Ethereum
import Foundation
import Hummingbird
import LoopbackHTTP

/// `/v1/admin/…`: what `paratii approve` and `paratii bridge tokens` use. Mounted on the Unix socket's
/// router only.
struct AdminController {
    let bridge: BridgeContext

    func addRoutes(to group: RouterGroup<BridgeRequestContext>) {
        let store = bridge.store
        let settings = bridge.settings
        let chain = settings.chain
        // The settings never change while the bridge runs: their JSON is made once, not on every listing.
        let configuration = chain.json
        // A listing may wait (`timeout=SECONDS`, at most 60): without `since`, until something waits for the
        // user (`paratii approve --wait`); with `since=REV`, until any change after REV (a GUI keeping its
        // list current: new work, a decision, an expiry). Either way the commit answers it, not a timer.
        group.get("pending") { request, _ in
            let parameters = request.uri.queryParameters
            let sinceText = parameters.get("since").map { String($0) }
            let query = try RequestHeaders.eventsQuery(
                since: sinceText, timeout: parameters.get("timeout").map { String($0) }, defaultMilliseconds: 0)
            let since = sinceText == nil ? nil : query.since
            let deadline = ContinuousClock.now + .milliseconds(query.timeoutMilliseconds)
            while true {
                // Read before the listing: a commit in between then wakes the wait at once.
                let seen = store.latestRevision
                let (pairings, waiting) = try await store.pending()
                let open = pairings.filter { $0.state == .pending }
                let changed = if let since { seen > since } else { !waiting.isEmpty || !open.isEmpty }
                if changed || ContinuousClock.now >= deadline {
                    return json(Self.listing(open: open, all: pairings, waiting: waiting, revision: seen, configuration, chain))
                }
                var wake = deadline
                // A pending request or pairing falling due is a change too: wake then, and the next read expires it.
                if since != nil, let due = try await store.nextExpiry() { wake = min(wake, store.instant(at: due)) }
                _ = await store.waitForChange(after: seen, until: wake)
            }
        }
        group.get("pairings") { _, _ in json(.object(["pairings": .array(try await store.pairings().map(\.json))])) }
        group.post("pairings/:id/:action") { _, context in
            let id = try context.parameters.require("id")
            switch try context.parameters.require("action") {
            case "approve": try await store.decidePairing(id, approve: true)
            case "deny": try await store.decidePairing(id, approve: false)
            case "revoke": try await store.revokePairing(id)
            default: throw APIError.notFound("action")
            }
            return json(.object(["id": .string(id)]))
        }
        for (path, kind) in [
            ("delegation-requests/:id/:action", RequestKind.delegation), ("transaction-requests/:id/:action", .transaction),
        ] {
            group.post(RouterPath(path)) { request, context in
                try await Self.decide(
                    request, id: try context.parameters.require("id"), action: try context.parameters.require("action"),
                    kind: kind, store: store, settings: settings)
            }
        }
        group.get("audit") { _, _ in
            let report = try await store.verifyAudit()
            return json(
                .object([
                    "entries": .number("\(report.entries)"), "signatures": .number("\(report.signatures)"),
                    "broken": .array(report.broken.map { .string($0) }), "counterGaps": .array(report.counterGaps.map { .string($0) }),
                ]))
        }
    }

    /// The user's decision on a pending request: approve (with what the card signed), deny, or fail.
    private static func decide(
        _ request: Request, id: String, action: String, kind: RequestKind, store: BridgeStore,
        settings: BridgeSettings
    ) async throws -> Response {
        let chain = settings.chain
        if action == "approve", kind == .delegation {
            return try await approveDelegation(request, id: id, store: store, settings: settings)
        }
        guard let found = try await store.request(id), found.kind == kind else { throw APIError.notFound("request") }
        let settled: BridgeRequest
        switch (action, kind) {
        case ("approve", .transaction):
            let object = try await body(request, settings, keys: ["raw", "signatureCounter"])
            let signed = try checkedTransaction(object["raw"], for: found, chain)
            let result: JSONValue = .object([
                "raw": .string(signed.raw.hexString), "hash": .string(signed.hash.hexString),
                "from": .string(signed.from.checksummed),
            ])
            settled = try await store.settle(id, state: .approved, transaction: result, signatureCounter: counter(object))
        case ("deny", _):
            settled = try await store.settle(id, state: .denied, reason: "denied by the user")
        case ("fail", _):
            let object = try await body(request, settings, keys: ["reason"])
            settled = try await store.settle(id, state: .failed, reason: String((object["reason"]?.stringValue ?? "failed").prefix(200)))
        default:
            throw APIError.notFound("action")
        }
        return json(requestJSON(settled, chain))
    }

    /// An approval with what the card signed: the request is found, its envelope checked and the request
    /// settled in one write (`BridgeStore.approveDelegation`), no read before it. Refusals come in the
    /// order a read first would give them: an unknown request before a malformed body.
    private static func approveDelegation(
        _ request: Request, id: String, store: BridgeStore, settings: BridgeSettings
    ) async throws -> Response {
        let chain = settings.chain
        let object: JSONObject
        do { object = try await body(request, settings, keys: ["envelope", "signatureCounter"]) } catch {
            guard let found = try await store.request(id), found.kind == .delegation else { throw APIError.notFound("request") }
            throw error
        }
        let envelope = object["envelope"]
        let settled = try await store.approveDelegation(id, signatureCounter: counter(object)) { found, now in
            try checkedEnvelope(envelope, for: found, chain, now: now)
        }
        return json(requestJSON(settled, chain))
    }

    private static func counter(_ object: JSONObject) -> Int? {
        if case .number(let text) = object["signatureCounter"] { Int(text) } else { nil }
    }

    /// The envelope `paratii approve` signed must grant exactly what the player asked, and verify.
    private static func checkedEnvelope(
        _ value: JSONValue?, for found: BridgeRequest, _ chain: Configuration, now: UInt64
    ) throws -> Envelope {
        guard let value else { throw APIError.badRequest("envelope is required") }
        let envelope: Envelope
        do { envelope = try Envelope(json: value) } catch { throw APIError.badRequest("\(error)") }
        guard let delegation = envelope.message.typed as? SpendingDelegation else { throw APIError.badRequest("not a SpendingDelegation") }
        guard let body = StoredJSON.value(found.body) else { throw APIError.internalError }
        let asked = try DelegationRequest(json: body, configuration: chain)
        guard asked.matches(delegation, now: now) else { throw APIError(422, "mismatch", "the envelope does not grant what was asked") }
        let verdict = Verifier(domain: chain.domain).verify(envelope, at: max(now, delegation.validAfter))
        guard verdict.valid else {
            throw APIError(422, "invalid_envelope", "envelope does not verify: \(verdict.reason?.rawValue ?? "") \(verdict.detail)")
        }
        return envelope
    }

    /// The signed transaction must be byte for byte the one asked for, on the bridge's chain, canonically signed.
    private static func checkedTransaction(
        _ value: JSONValue?, for found: BridgeRequest, _ chain: Configuration
    ) throws -> SignedTransaction {
        guard let text = value?.stringValue, let raw = try? [UInt8](hex: text), raw.count <= 4096 else {
            throw APIError.badRequest("raw must be the signed transaction in hex")
        }
        let signed: SignedTransaction
        do { signed = try SignedTransaction.decode(raw) } catch { throw APIError.badRequest("raw: \(error)") }
        let asked = try TransactionRequest(json: try JSONValue.parse(found.body), configuration: chain)
        guard signed.transaction == asked.transaction(chainId: chain.chainId) else {
            throw APIError(422, "mismatch", "the transaction is not the one asked for")
        }
        return signed
    }

    /// What `GET /v1/admin/pending` answers: pending pairings, pending requests with their player's name
    /// and wallet, the bridge's chain settings (so `paratii approve` signs for the chain the bridge checks
    /// against, whatever its own configuration file says) and the revision the listing is as of.
    static func listing(
        open: [Pairing], all pairings: [Pairing], waiting: [BridgeRequest], revision: Int64, _ configuration: JSONValue,
        _ chain: Configuration
    ) -> JSONValue {
        let byID = Dictionary(pairings.map { ($0.id, $0) }, uniquingKeysWith: { a, _ in a })
        let requests = waiting.map { found -> JSONValue in
            var object = requestJSON(found, chain).objectValue!
            object["player"] = .string(byID[found.pairing]?.name ?? "?")
            // Where this player's top-ups should go: a request to anywhere else needs the user's confirmation.
            if let wallet = byID[found.pairing]?.wallet { object["wallet"] = .string(wallet.checksummed) }
            return .object(object)
        }
        return .object([
            "pairings": .array(open.map(\.json)), "requests": .array(requests), "configuration": configuration,
            "revision": .number("\(revision)"),
        ])
    }
}
