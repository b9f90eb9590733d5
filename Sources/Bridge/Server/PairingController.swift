import Ethereum
import Hummingbird
import LoopbackHTTP

/// Pairing: the only unauthenticated calls. The pairing id (128 random bits) is the player's claim ticket.
struct PairingController {
    let bridge: BridgeContext

    func addRoutes(to group: RouterGroup<BridgeRequestContext>) {
        let store = bridge.store
        let settings = bridge.settings
        group.post("pairings") { request, context in
            let asked = try RequestBodies.pairing(try await bodyValue(request, settings))
            let pairing = try await store.createPairing(
                name: asked.name, secretHash: asked.secretHash, peer: await context.peer(request),
                wallet: asked.wallet, expiry: settings.pairingExpiry)
            return json(
                .object([
                    "id": .string(pairing.id), "code": .string(pairing.code), "state": .string(pairing.state.rawValue),
                    "expiresAt": .number("\(pairing.expiresAt)"),
                ]), status: .created)
        }
        // Only the creator, showing its secret (`Authorization: Pairing <secret>`), sees the pairing and gets
        // the token: the id alone (visible in `ps` as `paratii approve ID`) is worth nothing. Others get 404.
        group.get("pairings/:id") { request, context in
            let id = try context.parameters.require("id")
            guard let pairing = try await store.pairing(id, secret: RequestHeaders.pairingSecret(request.headers[.authorization])) else {
                throw APIError.notFound("pairing")
            }
            var object: JSONObject = ["id": .string(pairing.id), "state": .string(pairing.state.rawValue)]
            if pairing.state == .approved {
                if let token = try await store.claimToken(id) {
                    object["token"] = .string(token)
                } else {
                    object["tokenDelivered"] = .bool(true)
                }
            }
            return json(.object(object))
        }
    }
}
