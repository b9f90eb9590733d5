import Delegation
import Ethereum

/// Envelopes as a payee or the bridge receives them: parse, verify, and write back stably.
func fuzzEnvelope(_ input: [UInt8]) {
    guard let envelope = try? Envelope(parsing: input) else { return }
    let verdict = Verifier(domain: nil).verify(envelope, at: 1_800_000_000)
    require(verdict.id == envelope.id, "verdict names another envelope")
    require(verdict.valid == (verdict.reason == nil), "verdict without a reason is invalid")
    guard let again = try? Envelope(json: envelope.json) else { return require(false, "an envelope's own JSON does not parse") }
    require(again.id == envelope.id && again.signature == envelope.signature, "envelope JSON round trip changed it")
    require(again.parents.map(\.id) == envelope.parents.map(\.id), "envelope JSON round trip changed its parents")
    require(Verifier(domain: nil).verify(again, at: 1_800_000_000) == verdict, "verdict changed after a JSON round trip")
}

/// A revocation list file: malformed entries are notes, the kept ones are all signed revocations.
func fuzzRevocationList(_ input: [UInt8]) {
    guard let (list, _) = try? RevocationList.parse(input) else { return }
    for envelope in list.envelopes {
        require(envelope.kind == "Revocation", "a \(envelope.kind) kept in a revocation list")
    }
    guard let (again, notes) = try? RevocationList.parse(Array(list.json.compactText.utf8)) else {
        return require(false, "a revocation list's own JSON does not parse")
    }
    require(notes.isEmpty && again.envelopes.map(\.id) == list.envelopes.map(\.id), "revocation list round trip changed it")
}

/// The command-line allowance form `token=ETH,total=0.05,…`.
func fuzzAllowanceSpec(_ input: [UInt8]) {
    let configuration = Configuration(ptiToken: try! Address("0x000000000000000000000000000000000000dEaD"))
    guard let text = String(validating: input, as: UTF8.self),
        let allowance = try? Allowance(spec: text, configuration: configuration)
    else { return }
    require(allowance.perPayment <= allowance.total, "per-payment above the total")
    if allowance.period == 0 { require(allowance.perPeriod == 0, "per-period cap without a period") }
    var spec = "token=\(configuration.tokenName(allowance.token)),total=\(Units.formatAmount(allowance.total))"
    spec += ",per-payment=\(Units.formatAmount(allowance.perPayment))"
    if allowance.period != 0 { spec += ",period=\(allowance.period)s,per-period=\(Units.formatAmount(allowance.perPeriod))" }
    require((try? Allowance(spec: spec, configuration: configuration)) == allowance, "allowance round trip through \(spec)")
}
