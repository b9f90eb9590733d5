import BigInt

/// An Ethereum transaction: legacy (EIP-155), access-list (EIP-2930, type 1) or dynamic-fee (EIP-1559, type 2).
public struct Transaction: Equatable, Sendable {
    public enum Kind: UInt8, Sendable { case legacy = 0, accessList = 1, dynamicFee = 2 }

    public struct AccessEntry: Equatable, Sendable {
        public var address: Address
        public var storageKeys: [[UInt8]]
        public init(address: Address, storageKeys: [[UInt8]]) { self.address = address; self.storageKeys = storageKeys }
    }

    public var kind: Kind
    /// nil only for a pre-EIP-155 legacy transaction, which this core decodes but will not sign by default.
    public var chainId: BigUInt?
    public var nonce: BigUInt
    public var gasPrice: BigUInt = 0
    public var maxPriorityFeePerGas: BigUInt = 0
    public var maxFeePerGas: BigUInt = 0
    public var gas: BigUInt
    /// nil creates a contract.
    public var to: Address?
    public var value: BigUInt
    public var data: [UInt8]
    public var accessList: [AccessEntry] = []

    public init(
        kind: Kind, chainId: BigUInt?, nonce: BigUInt, gasPrice: BigUInt = 0, maxPriorityFeePerGas: BigUInt = 0,
        maxFeePerGas: BigUInt = 0, gas: BigUInt, to: Address?, value: BigUInt, data: [UInt8], accessList: [AccessEntry] = []
    ) {
        self.kind = kind; self.chainId = chainId; self.nonce = nonce; self.gasPrice = gasPrice
        self.maxPriorityFeePerGas = maxPriorityFeePerGas; self.maxFeePerGas = maxFeePerGas; self.gas = gas
        self.to = to; self.value = value; self.data = data; self.accessList = accessList
    }

    /// The RLP fields shared by signing payload and signed encoding, before any signature fields.
    var unsignedFields: [RLP] {
        let to: RLP = .bytes(self.to?.bytes ?? [])
        switch kind {
        case .legacy:
            return [.uint(nonce), .uint(gasPrice), .uint(gas), to, .uint(value), .bytes(data)]
        case .accessList:
            return [.uint(chainId ?? 0), .uint(nonce), .uint(gasPrice), .uint(gas), to, .uint(value), .bytes(data), accessListRLP]
        case .dynamicFee:
            return [
                .uint(chainId ?? 0), .uint(nonce), .uint(maxPriorityFeePerGas), .uint(maxFeePerGas), .uint(gas), to,
                .uint(value), .bytes(data), accessListRLP,
            ]
        }
    }

    private var accessListRLP: RLP {
        .list(accessList.map { .list([.bytes($0.address.bytes), .list($0.storageKeys.map { .bytes($0) })]) })
    }

    /// What gets hashed and signed: EIP-155 appends chainId, 0, 0; typed transactions prefix their type byte.
    public var signingPayload: [UInt8] {
        switch kind {
        case .legacy:
            var fields = unsignedFields
            if let chainId { fields += [.uint(chainId), .bytes([]), .bytes([])] }
            return RLP.list(fields).encoded()
        case .accessList, .dynamicFee:
            return [kind.rawValue] + RLP.list(unsignedFields).encoded()
        }
    }

    public var signingHash: [UInt8] { Keccak256.hash(signingPayload) }

    /// Signs with a software key or a token; the result is checked to recover the signer's address.
    public func sign(with signer: any DigestSigner, allowUnprotected: Bool = false) throws -> SignedTransaction {
        if kind == .legacy && chainId == nil && !allowUnprotected {
            throw EthereumError.invalidTransaction("no chainId: an unprotected legacy transaction can be replayed on any chain")
        }
        if kind != .legacy && chainId == nil { throw EthereumError.invalidTransaction("typed transactions need a chainId") }
        for entry in accessList where entry.storageKeys.contains(where: { $0.count != 32 }) {
            throw EthereumError.invalidTransaction("access list storage keys must be 32 bytes")
        }
        let hash = signingHash
        let signature = try signer.sign(digest: hash)
        guard try signature.recoverAddress(digest: hash) == signer.address else {
            throw EthereumError.invalidSignature("the signer's signature does not recover its address")
        }
        return SignedTransaction(transaction: self, signature: signature)
    }
}

extension RLP {
    static func uint(_ value: BigUInt) -> RLP { .bytes(value.minimalBytes) }
}

/// A signed transaction with its raw encoding, hash and sender.
public struct SignedTransaction: Equatable, Sendable {
    public let transaction: Transaction
    public let signature: Signature

    init(transaction: Transaction, signature: Signature) {
        self.transaction = transaction
        self.signature = signature
    }

    /// Legacy v: 27/28 unprotected, chainId·2 + 35 + recovery id under EIP-155; typed transactions carry yParity.
    public var v: BigUInt {
        let parity = BigUInt(signature.recoveryID)
        switch transaction.kind {
        case .legacy: return transaction.chainId.map { $0 * 2 + 35 + parity } ?? 27 + parity
        case .accessList, .dynamicFee: return parity
        }
    }

    public var raw: [UInt8] {
        let fields =
            transaction.unsignedFields + [
                .uint(v), .bytes(signature.r.drop { $0 == 0 }.map { $0 }), .bytes(signature.s.drop { $0 == 0 }.map { $0 }),
            ]
        let body = RLP.list(fields).encoded()
        return transaction.kind == .legacy ? body : [transaction.kind.rawValue] + body
    }

    public var hash: [UInt8] { Keccak256.hash(raw) }

    public var from: Address {
        // The signature was produced or verified for this very payload; recovery cannot fail.
        (try? signature.recoverAddress(digest: transaction.signingHash)) ?? .zero
    }
}
