import Ethereum
import Foundation

/// Checks a voucher, vote, delegation, attestation or revocation back to its master key (and,
/// when asked, to an institution), offline, from signatures and a revocation list alone.
///
/// Every link's signature (low-s only) must recover the key the contract names; ids must chain;
/// windows and allowances only narrow going down; revocations in force at `now` void a link and
/// everything under it. The first failed check is the verdict's reason.
public final class Verifier: Sendable {
    public let domain: Domain?
    public let institution: Address?
    private let revocations: RevocationList
    let signers = SignerCache()

    /// `domain` nil accepts any domain as long as the whole chain shares it.
    public init(domain: Domain?, revocations: RevocationList = RevocationList(), institution: Address? = nil) {
        self.domain = domain
        self.revocations = revocations
        self.institution = institution
    }

    public func verify(_ envelope: Envelope, at now: UInt64) -> Verdict {
        var verdict = Verdict(reason: nil, detail: "", kind: envelope.kind, master: nil, id: envelope.id)
        do {
            let chain = try Chain(envelope)
            verdict.master = chain.master
            try checkDomains(envelope)
            try checkSignatures(chain)
            try checkInstitution(chain, now: now)
            verdict.notes = try checkRevocations(chain, now: now)
            try checkContent(chain, now: now)
        } catch let rejection as Rejection {
            verdict.reason = rejection.reason
            verdict.detail = rejection.detail
        } catch {
            verdict.reason = .malformed
            verdict.detail = "\(error)"
        }
        return verdict
    }

    // MARK: - Checks, in the order their failures are reported

    private func checkDomains(_ envelope: Envelope) throws {
        let expected = domain ?? envelope.domain
        func check(_ link: Envelope) throws {
            guard link.domain != expected else { return }
            throw Rejection(
                .wrongDomain, "\(link.kind) is signed for chain \(link.domain.chainId) contract \(link.domain.verifyingContract)")
        }
        // Leaf, then parents (no concatenated copy of the chain per voucher).
        try check(envelope)
        for link in envelope.parents { try check(link) }
    }

    private func checkSignatures(_ chain: Chain) throws {
        for link in chain.links {
            let signer = try signers.signer(of: link.envelope)
            guard signer == link.expectedSigner else {
                throw Rejection(.badSignature, "\(link.envelope.kind) is signed by \(signer), not by \(link.expectedSigner)")
            }
        }
    }

    private func checkInstitution(_ chain: Chain, now: UInt64) throws {
        guard let attestation = chain.attestation else {
            if let institution { throw Rejection(.notAttested, "no CardAttestation from \(institution) for this card") }
            return
        }
        if let institution, attestation.institution != institution {
            throw Rejection(.notAttested, "the card is attested by \(attestation.institution), not \(institution)")
        }
        guard now <= attestation.validUntil else {
            throw Rejection(.expired, "the card's attestation expired at \(attestation.validUntil)")
        }
        guard let spending = chain.spending else { return }
        if let refusal = attestation.refusal(for: spending) { throw Rejection(.widensParent, refusal) }
    }

    /// A revocation counts if it is in force at `now` and its issuer signed the target or one of its ancestors.
    private func checkRevocations(_ chain: Chain, now: UInt64) throws -> [String] {
        guard !revocations.isEmpty else { return [] }
        var notes: [String] = []
        for (index, link) in chain.links.enumerated() {
            let named = revocations.revocations(of: link.envelope.id)
            guard !named.isEmpty else { continue }
            let entitled = Set(chain.links[index...].map(\.expectedSigner))
            for revocation in named {
                guard entitled.contains(revocation.issuer) else {
                    notes.append(
                        "ignored revocation of \(link.envelope.kind) \(link.envelope.id.hexString) by \(revocation.issuer): not entitled to revoke it"
                    )
                    continue
                }
                if revocation.issuedAt <= now {
                    throw Rejection(
                        .revoked,
                        "\(link.envelope.kind) \(link.envelope.id.hexString) was revoked by \(revocation.issuer) at \(revocation.issuedAt)")
                }
            }
        }
        return notes
    }

    private func checkContent(_ chain: Chain, now: UInt64) throws {
        if let spending = chain.spending {
            try Self.window(spending.validAfter, spending.validUntil, at: now, what: "delegation")
        }
        if let posting = chain.posting {
            guard let spending = chain.spending else { throw Rejection(.brokenChain, "posting delegation without its spending delegation") }
            guard posting.validAfter >= spending.validAfter, posting.validUntil <= spending.validUntil else {
                throw Rejection(.widensParent, "the posting window reaches outside its spending delegation's")
            }
            guard posting.scopes.rawValue != 0, Scopes.all.isSuperset(of: posting.scopes) else {
                throw Rejection(.malformed, "scopes must be a non-empty subset of rate|flag|moderate")
            }
        }
        switch chain.leaf.message {
        case .posting(let posting):
            try Self.window(posting.validAfter, posting.validUntil, at: now, what: "posting delegation")
        case .voucher(let voucher):
            let spending = chain.spending!
            guard spending.allows(payee: voucher.payee) else {
                throw Rejection(.payeeNotAllowed, "\(voucher.payee) is not among the delegation's payees")
            }
            guard let allowance = spending.allowance(for: voucher.token) else {
                throw Rejection(.unknownToken, "the delegation has no allowance for token \(voucher.token)")
            }
            guard voucher.cumulative <= allowance.total else {
                throw Rejection(.overTotal, "cumulative \(voucher.cumulative) exceeds the total \(allowance.total)")
            }
        case .vote(let vote):
            let posting = chain.posting!
            guard vote.kind.nonzeroBitCount == 1, posting.scopes.contains(Scopes(rawValue: UInt32(vote.kind))) else {
                throw Rejection(.scopeNotGranted, "vote kind \(vote.kind) is not among the scopes \(posting.scopes.names)")
            }
            guard vote.hasValidValue else { throw Rejection(.malformed, "value \(vote.value) means nothing for kind \(vote.kind)") }
            // A vote is judged at the moment it says it was cast, which may not lie in the future.
            try Self.window(posting.validAfter, posting.validUntil, at: vote.issuedAt, what: "posting delegation")
            guard vote.issuedAt <= now + Self.clockSkew else { throw Rejection(.notYetValid, "the vote is dated in the future") }
        default:
            break
        }
    }

    /// Tolerance for clocks that disagree a little.
    static let clockSkew: UInt64 = 300

    static func window(_ after: UInt64, _ until: UInt64, at now: UInt64, what: String) throws {
        guard after <= until else { throw Rejection(.malformed, "the \(what) ends before it starts") }
        guard now >= after else { throw Rejection(.notYetValid, "the \(what) is valid from \(after)") }
        guard now <= until else { throw Rejection(.expired, "the \(what) expired at \(until)") }
    }
}

/// Recovered signers by (id, signature): verifying a second voucher under a known delegation
/// costs one recovery, not three. Only pure facts are cached, never verdicts.
/// The lock is a pthread mutex (NSLock), not `Synchronization.Mutex`: on Linux the latter is a bare
/// futex that ThreadSanitizer cannot see, so every concurrent batch (PayeeStore.acceptBatch) was
/// reported as a race under `scripts/sanitize thread`, hiding real ones behind a false positive.
final class SignerCache: @unchecked Sendable {
    private let lock = NSLock()
    private var cache: [Key: Address] = [:]

    /// A signed digest: the id and the signature as received, hashed as two byte runs (not byte by byte).
    struct Key: Hashable {
        let id: [UInt8]
        let signature: [UInt8]

        func hash(into hasher: inout Hasher) {
            id.withUnsafeBytes { hasher.combine(bytes: $0) }
            signature.withUnsafeBytes { hasher.combine(bytes: $0) }
        }
    }
    private var recovered = 0
    static let limit = 4096

    /// How many signatures were recovered (not found in the cache): what the cache saves, for tests.
    var recoveries: Int { lock.withLock { recovered } }

    func signer(of envelope: Envelope) throws -> Address {
        // Leaves (vouchers, votes) are rarely seen twice and never cached: no key, no lookup for them.
        let cached = envelope.message.isDelegationLink
        let key = cached ? Key(id: envelope.id, signature: envelope.signature) : nil
        if let key, let known = lock.withLock({ cache[key] }) { return known }
        let signature: Signature
        // v 0/1 is refused like high s: it verifies here but fails ecrecover at redemption.
        do { signature = try Signature(bytes: envelope.signature, v: .ethereum) } catch {
            throw Rejection(.badSignature, "\(envelope.kind): \(error)")
        }
        let signer: Address
        lock.withLock { recovered += 1 }
        do { signer = try signature.recoverAddress(digest: envelope.id) } catch {
            throw Rejection(.badSignature, "\(envelope.kind): \(error)")
        }
        // Cache the links that come back: delegations.
        if let key {
            lock.withLock {
                if cache.count >= Self.limit { cache.removeAll(keepingCapacity: true) }
                cache[key] = signer
            }
        }
        return signer
    }
}
