import BigInt
import Ethereum

/// `Revocation(address issuer,bytes32 target,uint64 issuedAt)`: from `issuedAt` on, `target` (an id)
/// and everything under it is void, provided the issuer is entitled (a signer of the target or of
/// one of its ancestors: the master for its whole tree, a spender for its posting delegations, an
/// institution for its attestations).
public struct Revocation: TypedMessage {
    public static let typeName = "Revocation"
    public static let fields: [(name: String, type: String)] = [("issuer", "address"), ("target", "bytes32"), ("issuedAt", "uint64")]
    static let typeHash = Keccak256.hash(encodeType)

    public var issuer: Address
    public var target: [UInt8]
    public var issuedAt: UInt64

    public init(issuer: Address, target: [UInt8], issuedAt: UInt64) {
        self.issuer = issuer; self.target = target; self.issuedAt = issuedAt
    }

    public init(message: JSONObject) throws(DelegationError) {
        var reader = FieldReader(message, context: Self.typeName)
        issuer = try reader.address("issuer")
        target = try reader.bytes32("target")
        issuedAt = try reader.uint64("issuedAt")
        try reader.finish()
    }

    public var messageJSON: JSONObject {
        ["issuer": .string(issuer.checksummed), "target": target.jsonHex, "issuedAt": .number(String(issuedAt))]
    }

    public func structHash() -> [UInt8] {
        var hasher = StructHasher(typeHash: Self.typeHash)
        hasher.add(issuer)
        hasher.add(word: target)
        hasher.add(issuedAt)
        return hasher.finalize()
    }
}
