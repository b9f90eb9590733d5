import Delegation
import Ethereum
import Hummingbird
import LoopbackHTTP

/// `POST /v1/revocations` (a player revokes what this bridge released to it) and the list every player reads.
struct RevocationController {
    let bridge: BridgeContext

    func addRoutes(to group: RouterGroup<BridgeRequestContext>) {
        let store = bridge.store
        let settings = bridge.settings
        group.post("revocations") { request, _ in
            let pairing = try await authenticate(request, store)
            let envelope = try RequestBodies.revocation(try await bodyValue(request, settings))
            // Only what this bridge released: the list is not a store for anyone's revocations.
            guard case .revocation(let revocation) = envelope.message, try await store.released(revocation.target) else {
                throw APIError(422, "unknown_target", "the bridge released no delegation with that id")
            }
            let verdict = Verifier(domain: settings.chain.domain).verify(envelope, at: store.clock())
            guard verdict.valid else {
                throw APIError(422, "invalid_revocation", "revocation does not verify: \(verdict.reason?.rawValue ?? "") \(verdict.detail)")
            }
            try await store.addRevocation(id: envelope.id, envelope: envelope.json, pairing: pairing.id)
            return json(.object(["id": .string(envelope.id.hexString)]), status: .created)
        }
        group.get("revocations") { request, _ in
            _ = try await authenticate(request, store)
            return json(.object(["revocations": .array(try await store.revocations().compactMap { try? JSONValue.parse($0) })]))
        }
    }
}
