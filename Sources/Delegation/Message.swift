import Ethereum

/// Any message of the wire contract, tagged by its primary type.
public enum Message: Sendable, Equatable {
    case spending(SpendingDelegation)
    case posting(PostingDelegation)
    case voucher(Voucher)
    case vote(Vote)
    case revocation(Revocation)
    case attestation(CardAttestation)

    static let types: [String: any TypedMessage.Type] = [
        SpendingDelegation.typeName: SpendingDelegation.self, PostingDelegation.typeName: PostingDelegation.self,
        Voucher.typeName: Voucher.self, Vote.typeName: Vote.self, Revocation.typeName: Revocation.self,
        CardAttestation.typeName: CardAttestation.self,
    ]

    public init(_ typed: any TypedMessage) {
        switch typed {
        case let m as SpendingDelegation: self = .spending(m)
        case let m as PostingDelegation: self = .posting(m)
        case let m as Voucher: self = .voucher(m)
        case let m as Vote: self = .vote(m)
        case let m as Revocation: self = .revocation(m)
        case let m as CardAttestation: self = .attestation(m)
        default: preconditionFailure("not a contract message: \(type(of: typed))")
        }
    }

    static func decode(primaryType: String, message: JSONObject) throws(DelegationError) -> Message {
        guard let type = types[primaryType] else { throw .malformed("primaryType \(primaryType) is not a Paratii message") }
        return Message(try type.init(message: message))
    }

    public var typed: any TypedMessage {
        switch self {
        case .spending(let m): m
        case .posting(let m): m
        case .voucher(let m): m
        case .vote(let m): m
        case .revocation(let m): m
        case .attestation(let m): m
        }
    }

    /// The primary type name: `SpendingDelegation`, `Voucher`, … (a switch: `typed` would box the message).
    public var kind: String {
        switch self {
        case .spending: SpendingDelegation.typeName
        case .posting: PostingDelegation.typeName
        case .voucher: Voucher.typeName
        case .vote: Vote.typeName
        case .revocation: Revocation.typeName
        case .attestation: CardAttestation.typeName
        }
    }

    /// A link that other messages hang from (delegations, attestations, revocations), as opposed to a
    /// leaf (voucher, vote) that is rarely seen twice.
    var isDelegationLink: Bool {
        switch self {
        case .voucher, .vote: false
        default: true
        }
    }

    /// The key the contract says must have signed it.
    public var declaredSigner: Address? {
        switch self {
        case .spending(let m): m.master
        case .posting(let m): m.spender
        case .revocation(let m): m.issuer
        case .attestation(let m): m.institution
        case .voucher, .vote: nil  // the spender / poster named by the parent
        }
    }
}
