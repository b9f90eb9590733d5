/// Why the wallet refused. A refusal writes nothing: the ledger is unchanged.
public enum WalletError: Error, Equatable, Sendable, CustomStringConvertible {
    /// A payment the delegations do not cover, with the closed-set reason.
    case refused(PaymentRefusal, String)
    case idempotencyConflict(String)
    case noSpendingKey(String)
    case alreadyInitialised(String)
    case corrupted(String)
    case storage(String)
    case invalid(String)

    public var description: String {
        switch self {
        case .refused(let reason, let detail): "\(reason.rawValue): \(detail)"
        case .idempotencyConflict(let key): "idempotency key \(key) was used for a different payment"
        case .noSpendingKey(let why): "no spending key: \(why)"
        case .alreadyInitialised(let path): "\(path) already holds a wallet; refusing to overwrite it"
        case .corrupted(let why): "wallet data is corrupted, refusing to touch it: \(why)"
        case .storage(let why): "storage: \(why)"
        case .invalid(let why): why
        }
    }
}

/// Why a payment was refused.
public enum PaymentRefusal: String, Sendable, CaseIterable {
    case noDelegation
    case unknownToken
    case payeeNotAllowed
    case expired
    case notYetValid
    case revoked
    case overPerPayment
    case overPeriod
    case overTotal
    case zeroAmount
    /// A web site (`paratii wallet serve`) asked beyond the budget its pairing was approved with.
    case overSiteBudget
}
