import Ethereum

/// A signed message as it travels:
/// `{"typedData": {types, primaryType, domain, message}, "signature": "0x…", "parents": [envelope, …]}`,
/// parents being the chain up to the master, nearest first. Any EIP-712 tool recovers each signer
/// from `typedData` alone.
public struct Envelope: Sendable, Equatable {
    public let message: Message
    public let domain: Domain
    /// The 65 bytes as received; the verifier parses them (a high-s signature, or v written 0/1 rather
    /// than 27/28, is a `badSignature` verdict, not a parse error, so a payee gets a reason per voucher).
    public let signature: [UInt8]
    public let parents: [Envelope]
    /// The message's EIP-712 digest: its id, what children name as their parent.
    public let id: [UInt8]

    public init(message: Message, domain: Domain, signature: [UInt8], parents: [Envelope]) {
        self.message = message
        self.domain = domain
        self.signature = signature
        self.parents = parents
        self.id = message.typed.digest(in: domain)
    }

    /// Signs `message` with `signer` and wraps it. The signer must be the one the message declares.
    public static func sign(
        _ message: any TypedMessage, domain: Domain, signer: any DigestSigner, parents: [Envelope] = []
    ) throws -> Envelope {
        let wrapped = Message(message)
        if let declared = wrapped.declaredSigner, declared != signer.address {
            throw DelegationError.signerMismatch(expected: declared.checksummed, actual: signer.address.checksummed)
        }
        let signature = try signer.sign(digest: message.digest(in: domain))
        return Envelope(message: wrapped, domain: domain, signature: signature.bytes, parents: parents)
    }

    public var kind: String { message.kind }

    public var typedData: JSONValue { message.typed.typedData(in: domain) }

    public var json: JSONValue { json(parents: parents.map(\.json)) }

    /// `json` with the parents' JSON given: a wallet that sends its delegation with every voucher renders it once.
    public func json(parents: [JSONValue]) -> JSONValue {
        .object(["typedData": typedData, "signature": .string(signature.hexString), "parents": .array(parents)])
    }

    public init(parsing bytes: [UInt8]) throws(DelegationError) {
        let value: JSONValue
        do { value = try JSONValue.parse(bytes) } catch { throw .malformed("\(error)") }
        try self.init(json: value)
    }

    public init(json: JSONValue) throws(DelegationError) {
        guard case .object(let object) = json else { throw .malformed("an envelope is a JSON object") }
        for key in object.keys where !["typedData", "signature", "parents"].contains(key) {
            throw .malformed("envelope has no member \"\(key)\"")
        }
        guard case .string(let signatureText) = object["signature"], let signature = try? [UInt8](hex: signatureText),
            signature.count == 65
        else { throw .malformed("signature must be 65 bytes of 0x-hex") }
        var parents: [Envelope] = []
        if let list = object["parents"], list != .null {
            guard case .array(let items) = list else { throw .malformed("parents must be an array") }
            for item in items { parents.append(try Envelope(json: item)) }
        }
        guard case .object(let typed) = object["typedData"] else { throw .malformed("typedData must be an object") }
        for key in typed.keys where !["types", "primaryType", "domain", "message"].contains(key) {
            throw .malformed("typedData has no member \"\(key)\"")
        }
        guard case .string(let primaryType) = typed["primaryType"], let type = Message.types[primaryType] else {
            throw .malformed("primaryType must name a Paratii message")
        }
        guard case .object(let types) = typed["types"] else { throw .malformed("typedData.types must be an object") }
        // The contract's types, exactly: same fields, same order. Unrelated extra types do not change the hash.
        for (name, fields) in type.typesJSON.members where types[name] != fields {
            throw .malformed("typedData.types.\(name) differs from the contract: expected \(type.encodeType)")
        }
        guard case .object(let domainObject) = typed["domain"] else { throw .malformed("typedData.domain must be an object") }
        guard case .object(let message) = typed["message"] else { throw .malformed("typedData.message must be an object") }
        self.init(
            message: try Message.decode(primaryType: primaryType, message: message),
            domain: try Domain(json: domainObject), signature: signature, parents: Self.flatten(parents))
    }

    /// Other software may nest each parent's own parents instead of listing the chain flat; both
    /// describe the same chain. Flattened nearest first, each link once.
    static func flatten(_ parents: [Envelope]) -> [Envelope] {
        var flat: [Envelope] = []
        var seen = Set<[UInt8]>()
        func visit(_ envelope: Envelope) {
            guard seen.insert(envelope.id).inserted else { return }
            flat.append(Envelope(message: envelope.message, domain: envelope.domain, signature: envelope.signature, parents: []))
            envelope.parents.forEach(visit)
        }
        parents.forEach(visit)
        return flat
    }
}
