import Delegation
import Ethereum

/// Human-readable lines for an envelope and its chain.
struct EnvelopeDescription {
    let text: String

    init(_ envelope: Envelope, configuration: Configuration) {
        var lines = ["\(envelope.kind) \(envelope.id.hexString)"]
        func window(_ after: UInt64, _ until: UInt64) -> String { "valid \(TimeText.format(after)) → \(TimeText.format(until))" }
        switch envelope.message {
        case .spending(let d):
            lines.append("  master (card):  \(d.master)")
            lines.append("  spender:        \(d.spender)")
            for allowance in d.allowances { lines.append("  allowance:      \(allowance.summary(configuration))") }
            lines.append("  payees:         \(d.payees.isEmpty ? "any" : d.payees.map(\.checksummed).joined(separator: ", "))")
            lines.append("  \(window(d.validAfter, d.validUntil))")
        case .posting(let d):
            lines.append("  spender:        \(d.spender)")
            lines.append("  poster:         \(d.poster)")
            lines.append("  scopes:         \(d.scopes.names.joined(separator: ", "))")
            lines.append("  parent:         \(d.parent.hexString)")
            lines.append("  \(window(d.validAfter, d.validUntil))")
        case .voucher(let v):
            lines.append("  payee:          \(v.payee)")
            lines.append("  token:          \(configuration.tokenName(v.token))")
            lines.append("  cumulative:     \(Units.formatAmount(v.cumulative)) (sequence \(v.sequence))")
            lines.append("  delegation:     \(v.delegation.hexString)")
        case .vote(let v):
            lines.append("  content:        \(v.content.hexString)")
            lines.append("  kind/value:     \(v.kind) / \(v.value)\(v.reason.isEmpty ? "" : " — \(v.reason)")")
            lines.append("  issued:         \(TimeText.format(v.issuedAt))")
        case .revocation(let r):
            lines.append("  issuer:         \(r.issuer)")
            lines.append("  target:         \(r.target.hexString)")
            lines.append("  from:           \(TimeText.format(r.issuedAt))")
        case .attestation(let a):
            lines.append("  institution:    \(a.institution)")
            lines.append("  card:           \(a.cardSerial), held by \(a.holder)")
            lines.append("  master:         \(a.master)")
            for allowance in a.ceiling { lines.append("  ceiling:        \(allowance.summary(configuration))") }
            lines.append("  valid until     \(TimeText.format(a.validUntil))")
        }
        lines.append("  domain:         chain \(envelope.domain.chainId), contract \(envelope.domain.verifyingContract)")
        for parent in envelope.parents { lines.append("  parent:         \(parent.kind) \(parent.id.hexString)") }
        // Reasons, holder names and serials are the signer's choice: escaped, line by line.
        text = lines.map(TerminalText.escape).joined(separator: "\n")
    }
}
