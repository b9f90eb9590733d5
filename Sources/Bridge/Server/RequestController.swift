import Delegation
import Ethereum
import Foundation
import Hummingbird
import LoopbackHTTP

/// The player's requests: delegations and master-signed transactions. Each waits, pending, for the
/// user's decision through `paratii approve`; a player sees only its own.
struct RequestController {
    let bridge: BridgeContext

    func addRoutes(to group: RouterGroup<BridgeRequestContext>) {
        let store = bridge.store
        let settings = bridge.settings
        let chain = settings.chain
        group.post("delegation-requests") { request, _ in
            let pairing = try await authenticate(request, store)
            let object = try await body(request, settings, keys: ["spender", "allowances", "payees", "validFor"])
            let parsed = try DelegationRequest(json: .object(object), configuration: chain, maxValidFor: settings.maxValidFor)
            // The spending address of the player's first delegation is its wallet: where top-ups go.
            let created = try await store.createRequest(
                pairing: pairing.id, body: parsed.json(chain), expiry: settings.requestExpiry,
                wallet: parsed.spender)
            return json(requestJSON(created, chain), status: .accepted)
        }
        group.post("transaction-requests") { request, _ in
            let pairing = try await authenticate(request, store)
            let object = try await body(request, settings, keys: TransactionRequest.keys)
            let parsed = try TransactionRequest(json: .object(object), configuration: chain)
            let created = try await store.createRequest(
                pairing: pairing.id, body: parsed.json(chain), expiry: settings.requestExpiry, kind: .transaction)
            return json(requestJSON(created, chain), status: .accepted)
        }
        for (path, kind) in [("delegation-requests/:id", RequestKind.delegation), ("transaction-requests/:id", .transaction)] {
            group.get(RouterPath(path)) { request, context in
                // The token check and the lookup in one read. `?timeout=SECONDS` waits while the request is
                // pending: the player hears the decision from the commit that made it, with no call of its own.
                guard let token = RequestHeaders.bearerToken(request.headers[.authorization]) else { throw APIError.unauthenticated }
                let id = try context.parameters.require("id")
                let query = try RequestHeaders.eventsQuery(
                    since: nil, timeout: request.uri.queryParameters.get("timeout").map { String($0) }, defaultMilliseconds: 0)
                let deadline = ContinuousClock.now + .milliseconds(query.timeoutMilliseconds)
                while true {
                    // Read before the request: a commit in between then wakes the wait at once.
                    let seen = store.latestRevision
                    let (pairing, found) = try await store.request(id, token: token)
                    guard pairing != nil else { throw APIError.revokedToken }
                    guard let found, found.kind == kind else { throw APIError.notFound("request") }
                    guard found.state == .pending, ContinuousClock.now < deadline else { return json(requestJSON(found, chain)) }
                    // Woken at its expiry too: the next read finds it expired and says so.
                    _ = await store.waitForChange(after: seen, until: min(deadline, store.instant(at: found.expiresAt)))
                }
            }
        }
    }
}

/// A request as the API shows it, to its player and to the approver. Its body and envelope come parsed
/// from `StoredJSON` (each text parsed once, not on every answer).
func requestJSON(_ request: BridgeRequest, _ chain: Configuration) -> JSONValue {
    var object: JSONObject = [
        "id": .string(request.id), "kind": .string(request.kind.rawValue), "state": .string(request.state.rawValue),
        "request": StoredJSON.value(request.body) ?? .null,
        "createdAt": .number("\(request.createdAt)"), "expiresAt": .number("\(request.expiresAt)"),
    ]
    if let envelope = request.envelope, let value = StoredJSON.value(envelope) { object["envelope"] = value }
    if let signed = request.transaction, let value = try? JSONValue.parse(signed) { object["transaction"] = value }
    if let reason = request.reason { object["reason"] = .string(reason) }
    return .object(object)
}
