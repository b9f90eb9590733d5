import BigInt
import Ethereum

/// The EIP-712 domain every Paratii message is signed under:
/// `EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)`, name "Paratii", version "1".
public struct Domain: Equatable, Hashable, Sendable {
    public static let name = "Paratii"
    public static let version = "1"
    public static let fields: [(name: String, type: String)] = [
        ("name", "string"), ("version", "string"), ("chainId", "uint256"), ("verifyingContract", "address"),
    ]
    static let typeHash = Keccak256.hash("EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)")

    public let chainId: BigUInt
    public let verifyingContract: Address
    /// hashStruct(domain), computed once.
    public let separator: [UInt8]

    public init(chainId: BigUInt, verifyingContract: Address) {
        self.chainId = chainId
        self.verifyingContract = verifyingContract
        var hasher = StructHasher(typeHash: Self.typeHash)
        hasher.add(string: Self.name)
        hasher.add(string: Self.version)
        hasher.add(chainId)
        hasher.add(verifyingContract)
        separator = hasher.finalize()
    }

    public var json: JSONObject {
        [
            "name": .string(Self.name), "version": .string(Self.version),
            "chainId": .number(String(chainId)), "verifyingContract": .string(verifyingContract.checksummed),
        ]
    }

    /// Reads a domain and insists on the contract's name and version.
    public init(json: JSONObject) throws(DelegationError) {
        var reader = FieldReader(json, context: "domain")
        let name = try reader.string("name"), version = try reader.string("version")
        let chainId = try reader.uint("chainId", bits: 256)
        let contract = try reader.address("verifyingContract")
        try reader.finish()
        guard name == Self.name, version == Self.version else {
            throw .wrongDomain("expected name \"\(Self.name)\" version \"\(Self.version)\", got \"\(name)\" \"\(version)\"")
        }
        self.init(chainId: chainId, verifyingContract: contract)
    }

    public static func == (lhs: Domain, rhs: Domain) -> Bool { lhs.separator == rhs.separator }
    public func hash(into hasher: inout Hasher) { hasher.combine(separator) }
}
