import BigInt
import Ethereum

/// `CardAttestation(address institution,address master,string holder,string cardSerial,Allowance[] ceiling,uint64 validUntil,uint256 salt)`,
/// signed by an institution key; `ceiling` bounds every delegation the card may issue.
public struct CardAttestation: TypedMessage {
    public static let typeName = "CardAttestation"
    public static let fields: [(name: String, type: String)] = [
        ("institution", "address"), ("master", "address"), ("holder", "string"), ("cardSerial", "string"),
        ("ceiling", "Allowance[]"), ("validUntil", "uint64"), ("salt", "uint256"),
    ]
    public static let referencedTypes = [(name: Allowance.typeName, fields: Allowance.fields)]
    static let typeHash = Keccak256.hash(encodeType)

    public var institution: Address
    public var master: Address
    public var holder: String
    public var cardSerial: String
    public var ceiling: [Allowance]
    public var validUntil: UInt64
    public var salt: BigUInt

    public init(
        institution: Address, master: Address, holder: String, cardSerial: String, ceiling: [Allowance], validUntil: UInt64, salt: BigUInt
    ) {
        self.institution = institution; self.master = master; self.holder = holder; self.cardSerial = cardSerial
        self.ceiling = ceiling; self.validUntil = validUntil; self.salt = salt
    }

    public init(message: JSONObject) throws(DelegationError) {
        var reader = FieldReader(message, context: Self.typeName)
        institution = try reader.address("institution")
        master = try reader.address("master")
        holder = try reader.string("holder")
        cardSerial = try reader.string("cardSerial")
        ceiling = try Allowance.parseList(try reader.array("ceiling"), context: "\(Self.typeName).ceiling")
        validUntil = try reader.uint64("validUntil")
        salt = try reader.uint("salt", bits: 256)
        try reader.finish()
    }

    public var messageJSON: JSONObject {
        [
            "institution": .string(institution.checksummed), "master": .string(master.checksummed),
            "holder": .string(holder), "cardSerial": .string(cardSerial), "ceiling": .array(ceiling.map(\.json)),
            "validUntil": .number(String(validUntil)), "salt": .string(String(salt)),
        ]
    }

    public func structHash() -> [UInt8] {
        var hasher = StructHasher(typeHash: Self.typeHash)
        hasher.add(institution)
        hasher.add(master)
        hasher.add(string: holder)
        hasher.add(string: cardSerial)
        hasher.add(arrayOfWords: Allowance.hashList(ceiling))
        hasher.add(validUntil)
        hasher.add(salt)
        return hasher.finalize()
    }
}

extension CardAttestation {
    /// Why `delegation` may not hang under this attestation (another card, outliving it, or an
    /// allowance above the ceiling), or nil when it fits. The signer refuses before signing and the
    /// verifier rejects with the same rule.
    public func refusal(for delegation: SpendingDelegation) -> String? {
        guard delegation.master == master else { return "the attestation is for card key \(master), not \(delegation.master)" }
        guard delegation.validUntil <= validUntil else {
            return "the delegation outlives the card's attestation (valid until \(validUntil))"
        }
        for allowance in delegation.allowances {
            guard let cap = ceiling.first(where: { $0.token == allowance.token }), allowance.fits(under: cap) else {
                return "allowance for \(allowance.token) exceeds the attested ceiling"
            }
        }
        return nil
    }
}
