@testable import Bridge
import Delegation
import Ethereum

/// The bridge's request bodies, decoded as the routes decode them (after the JSON parse every body gets).
func fuzzBridgeBodies(_ input: [UInt8]) {
    guard let value = try? JSONValue.parse(input) else { return }
    if let name = try? RequestBodies.pairingName(value) {
        require(!name.isEmpty && name.count <= 64, "pairing name of \(name.count) characters accepted")
    }
    if let envelope = try? RequestBodies.revocation(value) {
        require(envelope.kind == "Revocation", "a \(envelope.kind) accepted as a revocation")
    }
    let chain = Configuration(ptiToken: try! Address("0x000000000000000000000000000000000000dEaD"))
    if let topup = try? TransactionRequest(json: value, configuration: chain) {
        // Stored form reads back the same; the transaction made for it stays within what was asked.
        require((try? TransactionRequest(json: topup.json(chain), configuration: chain)) == topup, "stored top-up reads back differently")
        let transaction = topup.transaction(chainId: chain.chainId)
        require(transaction.gas <= TransactionRequest.gasCeiling && transaction.maxPriorityFeePerGas <= transaction.maxFeePerGas,
                "a top-up outside the bounds was accepted")
    }
    guard let request = try? DelegationRequest(json: value, configuration: chain) else { return }
    // What the bridge stores (request.json) is what `paratii approve` reads back.
    require((try? DelegationRequest(json: request.json(chain), configuration: chain)) == request, "stored request reads back differently")
    // The delegation made for a request grants exactly what was asked.
    let now: UInt64 = 1_800_000_000
    let delegation = request.delegation(master: .zero, now: now, salt: 1)
    require(request.matches(delegation, now: now), "the delegation made for a request does not match it")
}
