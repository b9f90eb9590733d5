import Ethereum

/// An envelope and its parents laid out as the contract's chain, with who must have signed what.
struct Chain {
    struct Link {
        let envelope: Envelope
        let expectedSigner: Address
    }

    /// Leaf first, then up towards the master (and the institution, if attested).
    let links: [Link]
    let leaf: Envelope
    var spending: SpendingDelegation?
    var posting: PostingDelegation?
    var attestation: CardAttestation?
    var master: Address?

    init(_ envelope: Envelope) throws {
        leaf = envelope
        var parents = envelope.parents[...]
        var links: [Link] = []

        func take<T>(_ extract: (Message) -> T?, named name: String, id expected: [UInt8]) throws -> (T, Envelope) {
            guard let next = parents.first else { throw Rejection(.brokenChain, "missing parent \(name)") }
            guard let message = extract(next.message) else {
                throw Rejection(.brokenChain, "expected parent \(name), found \(next.kind)")
            }
            guard next.id == expected else {
                throw Rejection(.brokenChain, "parent \(name) has id \(next.id.hexString), not \(expected.hexString)")
            }
            parents = parents.dropFirst()
            return (message, next)
        }

        switch envelope.message {
        case .voucher(let voucher):
            let (spending, parent) = try take(
                { if case .spending(let m) = $0 { m } else { nil } }, named: "SpendingDelegation", id: voucher.delegation)
            links = [Link(envelope: envelope, expectedSigner: spending.spender), Link(envelope: parent, expectedSigner: spending.master)]
            self.spending = spending
        case .vote(let vote):
            let (posting, postingEnvelope) = try take(
                { if case .posting(let m) = $0 { m } else { nil } }, named: "PostingDelegation", id: vote.delegation)
            let (spending, spendingEnvelope) = try take(
                { if case .spending(let m) = $0 { m } else { nil } }, named: "SpendingDelegation", id: posting.parent)
            guard posting.spender == spending.spender else { throw Rejection(.brokenChain, "posting delegation names another spender") }
            links = [
                Link(envelope: envelope, expectedSigner: posting.poster), Link(envelope: postingEnvelope, expectedSigner: posting.spender),
                Link(envelope: spendingEnvelope, expectedSigner: spending.master),
            ]
            self.posting = posting
            self.spending = spending
        case .posting(let posting):
            let (spending, parent) = try take(
                { if case .spending(let m) = $0 { m } else { nil } }, named: "SpendingDelegation", id: posting.parent)
            guard posting.spender == spending.spender else { throw Rejection(.brokenChain, "posting delegation names another spender") }
            links = [Link(envelope: envelope, expectedSigner: posting.spender), Link(envelope: parent, expectedSigner: spending.master)]
            self.posting = posting
            self.spending = spending
        case .spending(let spending):
            links = [Link(envelope: envelope, expectedSigner: spending.master)]
            self.spending = spending
        case .revocation(let revocation):
            links = [Link(envelope: envelope, expectedSigner: revocation.issuer)]
            master = revocation.issuer
        case .attestation(let attestation):
            links = [Link(envelope: envelope, expectedSigner: attestation.institution)]
            self.attestation = attestation
            master = attestation.master
        }

        // An attested card's chain ends with the institution's CardAttestation of its master key.
        if let spending, let next = parents.first, case .attestation(let attestation) = next.message {
            guard attestation.master == spending.master else { throw Rejection(.brokenChain, "the attestation is for another card's key") }
            links.append(Link(envelope: next, expectedSigner: attestation.institution))
            self.attestation = attestation
            parents = parents.dropFirst()
        }
        guard parents.isEmpty else { throw Rejection(.brokenChain, "unexpected extra parent \(parents.first!.kind)") }
        if let spending { master = spending.master }
        self.links = links
    }
}
