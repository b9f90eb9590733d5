import BigInt
import Delegation
import Ethereum
import Foundation
import OpenPGPCard

/// Enrolls one staff card: factory reset, secp256k1 key generated on the card, random PINs, an
/// attestation signed by the institution card, and the roster entry. The refusals (the
/// institution's own card, a card already enrolled, the wrong institution card) all come before
/// the staff card is touched.
public struct Enrollment {
    public let roster: Roster
    public let institution: any DigestSigner
    public let domain: Domain

    public init(roster: Roster, institution: any DigestSigner, domain: Domain) {
        self.roster = roster; self.institution = institution; self.domain = domain
    }

    /// What the administrator hands over. The PINs exist only here: the caller shows them once.
    public struct Enrolled: Sendable {
        public let record: CardRecord
        public let userPIN: String
        public let adminPIN: String
        /// The card's previous enrollment, revoked by this one (`reEnroll`).
        public let replaced: CardRecord?
    }

    public func enroll(
        staff card: OpenPGPCard, holder rawHolder: String, ceiling: [Allowance]? = nil, reEnroll: Bool = false,
        now: UInt64
    ) throws -> Enrolled {
        let policy = roster.policy
        guard institution.address == policy.institution else {
            throw InstitutionError.notTheInstitution(expected: policy.institution, actual: institution.address)
        }
        let holder = rawHolder.trimmingCharacters(in: .whitespaces)
        guard !holder.isEmpty, !holder.unicodeScalars.contains(where: { $0.properties.generalCategory == .control }) else {
            throw InstitutionError.invalid("a holder name must be non-empty printable text")
        }
        let bounds = ceiling ?? policy.ceiling
        guard !bounds.isEmpty, Set(bounds.map(\.token)).count == bounds.count else {
            throw InstitutionError.invalid("a ceiling needs at least one allowance, one per token")
        }
        if let existing = try card.publicKey(), existing.address == policy.institution {
            throw InstitutionError.institutionCard(existing.address)
        }
        let serial = try card.applicationData().aid.serialHex
        let previous = try roster.liveCard(serial: serial)
        if let previous, !reEnroll { throw InstitutionError.alreadyEnrolled(serial: serial, holder: previous.holder) }

        // From here on the staff card is wiped: its old key is gone whatever happens next.
        try card.factoryReset(adminPIN: nil)
        let userPIN = RandomPIN.digits(8), adminPIN = RandomPIN.digits(12)
        let key = try card.initialize(userPIN: PIN(userPIN), adminPIN: PIN(adminPIN))

        let attestation = CardAttestation(
            institution: policy.institution, master: key.address, holder: holder, cardSerial: serial,
            ceiling: bounds, validUntil: now + policy.attestationLifetime, salt: Salt.random())
        let signed = try Envelope.sign(attestation, domain: domain, signer: institution)
        var replacing: (record: CardRecord, revocation: Envelope)?
        if let previous {
            replacing = (previous, try revocation(of: previous, now: now))
        }
        let record = CardRecord(
            serial: serial, holder: holder, master: key.address, ceiling: bounds, validUntil: attestation.validUntil,
            enrolledAt: now, attestation: signed)
        try roster.record(record, revoking: replacing)
        return Enrolled(record: record, userPIN: userPIN, adminPIN: adminPIN, replaced: previous)
    }

    /// The institution's signed Revocation of a card's attestation (not yet recorded).
    public func revocation(of card: CardRecord, now: UInt64) throws -> Envelope {
        guard institution.address == roster.policy.institution else {
            throw InstitutionError.notTheInstitution(expected: roster.policy.institution, actual: institution.address)
        }
        let revocation = Revocation(issuer: institution.address, target: card.attestationId, issuedAt: now)
        return try Envelope.sign(revocation, domain: card.attestation.domain, signer: institution)
    }
}

/// PINs for new cards: uniform decimal digits from the system's CSPRNG (keypads and PIN pads take digits).
enum RandomPIN {
    static func digits(_ count: Int) -> String {
        var generator = SystemRandomNumberGenerator()
        return String((0..<count).map { _ in Character(String(Int.random(in: 0...9, using: &generator))) })
    }
}
