import Ethereum
import Hummingbird
import LoopbackHTTP

/// `GET /v1/health` (no token), `/v1/status` and `/v1/tokens`.
struct StatusController {
    let bridge: BridgeContext

    func addRoutes(to group: RouterGroup<BridgeRequestContext>) {
        let store = bridge.store
        let probe = bridge.tokens
        group.get("health") { _, _ in json(.object(["ok": .bool(true)])) }
        group.get("status") { request, _ in
            let pairing = try await authenticate(request, store)
            return json(
                .object([
                    "pairing": .string(pairing.id), "name": .string(pairing.name), "revision": .number("\(try await store.revision())"),
                ]))
        }
        group.get("tokens") { request, _ in
            _ = try await authenticate(request, store)
            // PC/SC blocks (a slow card, pcscd restarting): off the cooperative pool.
            return json(.object(["tokens": .array(try await Blocking.run(probe))]))
        }
    }
}
