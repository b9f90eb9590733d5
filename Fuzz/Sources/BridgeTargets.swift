import Delegation
import Ethereum

@testable import Bridge

/// The bridge's request bodies, decoded as the routes decode them (after the JSON parse every body gets).
func fuzzBridgeBodies(_ input: [UInt8]) {
    guard let value = try? JSONValue.parse(input) else { return }
    if let pairing = try? RequestBodies.pairing(value) {
        require(!pairing.name.isEmpty && pairing.name.count <= 64, "pairing name of \(pairing.name.count) characters accepted")
        require(pairing.secretHash.count == 32, "a pairing secret hash of \(pairing.secretHash.count) bytes accepted")
        require(!pairing.name.unicodeScalars.contains(where: TerminalText.isUnsafe), "a pairing name with terminal controls accepted")
    }
    if let envelope = try? RequestBodies.revocation(value) {
        require(envelope.kind == "Revocation", "a \(envelope.kind) accepted as a revocation")
    }
    // With a contract, so that the deposit and recovery kinds parse too (without one they are refused).
    let chain = Configuration(
        verifyingContract: try! Address("0x5FbDB2315678afecb367f032d93F642f64180aa3"),
        ptiToken: try! Address("0x000000000000000000000000000000000000dEaD"))
    if let topup = try? TransactionRequest(json: value, configuration: chain) {
        // Stored form reads back the same; the transaction made for it stays within what was asked.
        require((try? TransactionRequest(json: topup.json(chain), configuration: chain)) == topup, "stored top-up reads back differently")
        let transaction = topup.transaction(chainId: chain.chainId)
        require(
            transaction.gas <= TransactionRequest.gasCeiling && transaction.maxPriorityFeePerGas <= transaction.maxFeePerGas,
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

/// The query strings and headers a paired player controls: `?since=&timeout=`, `Authorization`. Split
/// the input at the first two NUL bytes into since, timeout and a header; none may trap, and what is
/// accepted is in range.
func fuzzBridgeQuery(_ input: [UInt8]) {
    let parts = input.split(separator: 0, maxSplits: 2, omittingEmptySubsequences: false).map { String(decoding: $0, as: UTF8.self) }
    let since = parts.count > 0 ? parts[0] : nil, timeout = parts.count > 1 ? parts[1] : nil, header = parts.count > 2 ? parts[2] : nil
    if let query = try? RequestHeaders.eventsQuery(since: since, timeout: timeout) {
        require(query.since >= 0 && (0...60_000).contains(query.timeoutMilliseconds), "an events query out of range was accepted")
    }
    if let token = RequestHeaders.bearerToken(header) {
        require(token.utf8.count == 64, "a bearer token of \(token.utf8.count) bytes accepted")
    }
    if let secret = RequestHeaders.pairingSecret(header) {
        require(secret.utf8.count == 64, "a pairing secret of \(secret.utf8.count) bytes accepted")
    }
}
