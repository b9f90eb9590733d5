import Delegation
import Ethereum
import Foundation
import Hummingbird

/// The player's requests: delegations and master-signed transactions. Each waits, pending, for the
/// user's decision through `paratii approve`; a player sees only its own.
func addRequestRoutes(_ router: Router<BridgeRequestContext>, _ bridge: BridgeContext) {
    let store = bridge.store
    let settings = bridge.settings
    let chain = settings.chain

    router.post("/v1/delegation-requests") { request, _ in
        let pairing = try authenticate(request, store)
        let object = try await body(request, settings, keys: ["spender", "allowances", "payees", "validFor"])
        let parsed = try DelegationRequest(json: .object(object), configuration: chain, maxValidFor: settings.maxValidFor)
        try checkQueue(store, pairing)
        // The spending address of the player's first delegation is its wallet: where top-ups go.
        try store.recordWallet(pairing.id, parsed.spender)
        let created = try store.createRequest(pairing: pairing.id, body: parsed.json(chain), expiry: settings.requestExpiry)
        return json(requestJSON(created, chain), status: .accepted)
    }
    router.post("/v1/transaction-requests") { request, _ in
        let pairing = try authenticate(request, store)
        let object = try await body(request, settings, keys: TransactionRequest.keys)
        let parsed = try TransactionRequest(json: .object(object), configuration: chain)
        try checkQueue(store, pairing)
        let created = try store.createRequest(
            pairing: pairing.id, body: parsed.json(chain), expiry: settings.requestExpiry, kind: "transaction")
        return json(requestJSON(created, chain), status: .accepted)
    }
    for (path, kind) in [("/v1/delegation-requests/:id", "delegation"), ("/v1/transaction-requests/:id", "transaction")] {
        router.get(RouterPath(path)) { request, context in
            let pairing = try authenticate(request, store)
            guard let found = try store.request(try context.parameters.require("id")), found.pairing == pairing.id, found.kind == kind
            else {
                throw APIError.notFound("request")
            }
            return json(requestJSON(found, chain))
        }
    }
}

/// At most eight requests of one player wait at a time: a player cannot bury the user in prompts.
private func checkQueue(_ store: BridgeStore, _ pairing: BridgeStore.Pairing) throws {
    guard try store.requests(state: "pending").filter({ $0.pairing == pairing.id }).count < 8 else {
        throw APIError(429, "too_many_requests", "too many requests of this player wait for approval")
    }
}

func requestJSON(_ request: BridgeStore.Request, _ chain: Configuration) -> JSONValue {
    var object: JSONObject = [
        "id": .string(request.id), "kind": .string(request.kind), "state": .string(request.state),
        "request": (try? JSONValue.parse(request.body)) ?? .null,
        "createdAt": .number("\(request.createdAt)"), "expiresAt": .number("\(request.expiresAt)"),
    ]
    if let envelope = request.envelope, let value = try? JSONValue.parse(envelope) { object["envelope"] = value }
    if let signed = request.transaction, let value = try? JSONValue.parse(signed) { object["transaction"] = value }
    if let reason = request.reason { object["reason"] = .string(reason) }
    return .object(object)
}
