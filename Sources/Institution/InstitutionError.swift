import Ethereum

/// Every way the institution layer refuses: nothing is written to the roster and no card is touched
/// once one of these is thrown, except where the case says otherwise.
public enum InstitutionError: Error, Equatable, Sendable, CustomStringConvertible {
    case rosterExists(String)
    case rosterMissing(String)
    case storage(String)
    case invalid(String)
    /// The card in the staff reader holds the institution's own key: it is never reset.
    case institutionCard(Address)
    /// The signing card is not the institution the roster names.
    case notTheInstitution(expected: Address, actual: Address)
    case alreadyEnrolled(serial: String, holder: String)
    case noSuchCard(String)

    public var description: String {
        switch self {
        case .rosterExists(let path): "a roster already exists at \(path): refusing to overwrite it"
        case .rosterMissing(let path): "no roster at \(path): create one with `paratii institution init`"
        case .storage(let why): "roster: \(why)"
        case .invalid(let why): why
        case .institutionCard(let address): "the card in the staff reader is the institution's own card (\(address)): refusing to reset it"
        case .notTheInstitution(let expected, let actual):
            "the institution card holds \(actual), but the roster's institution is \(expected): wrong card or wrong reader"
        case .alreadyEnrolled(let serial, let holder):
            "card \(serial) is already enrolled for \(holder) and not revoked: pass --re-enroll to wipe and re-enroll it"
        case .noSuchCard(let what): "no enrolled, unrevoked card matches \(what)"
        }
    }
}
