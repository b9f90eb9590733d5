import Delegation
import Ethereum

/// What the institution decided once, at `institution init`: who it is and the defaults every
/// enrollment starts from.
public struct Policy: Sendable, Equatable {
    /// The institution card's address: signs every attestation and revocation.
    public var institution: Address
    /// Bounds every delegation an enrolled card may sign, unless a card gets its own at enrollment.
    public var ceiling: [Allowance]
    /// How long an attestation lasts from enrollment, in seconds.
    public var attestationLifetime: UInt64

    public init(institution: Address, ceiling: [Allowance], attestationLifetime: UInt64) throws(InstitutionError) {
        guard !ceiling.isEmpty else { throw .invalid("a policy needs a ceiling: at least one allowance") }
        guard Set(ceiling.map(\.token)).count == ceiling.count else { throw .invalid("the ceiling names a token twice") }
        guard attestationLifetime > 0 else { throw .invalid("the attestation lifetime must be positive") }
        self.institution = institution
        self.ceiling = ceiling
        self.attestationLifetime = attestationLifetime
    }
}
