import BigInt

extension Transaction {
    /// Reads the JSON-RPC form: `type` (0, 1 or 2), `chainId`, `nonce`, `to`, `value`, `data`, `gas`,
    /// `gasPrice` or `maxFeePerGas` + `maxPriorityFeePerGas`, optional `accessList`. Quantities may be
    /// JSON integers, decimal strings or 0x-hex strings. Unknown members are refused.
    public init(json: JSONValue) throws(EthereumError) {
        guard case .object(let object) = json else { throw .invalidTransaction("expected a JSON object") }
        let known: Set<String> = [
            "type", "chainId", "nonce", "to", "value", "data", "input", "gas", "gasLimit", "gasPrice",
            "maxFeePerGas", "maxPriorityFeePerGas", "accessList",
        ]
        for key in object.keys where !known.contains(key) { throw .invalidTransaction("unknown field \"\(key)\"") }
        // Aliases name the same field: given both, which one is signed would be a guess.
        for (a, b) in [("data", "input"), ("gas", "gasLimit")] where object[a] != nil && object[b] != nil {
            throw .invalidTransaction("both \(a) and \(b) given")
        }

        func quantity(_ name: String, required: Bool = true) throws(EthereumError) -> BigUInt? {
            guard let value = object[name], value != .null else {
                if required { throw .invalidTransaction("missing \(name)") }
                return nil
            }
            guard let parsed = IntegerText.parseUnsigned(value) else {
                throw .invalidTransaction("\(name) must be a non-negative 256-bit integer")
            }
            return parsed
        }

        let typeNumber = try quantity("type", required: false) ?? 0
        guard typeNumber <= 2, let kind = Kind(rawValue: UInt8(typeNumber)) else { throw .invalidTransaction("type must be 0, 1 or 2") }
        let chainId = try quantity("chainId", required: kind != .legacy)
        let nonce = try quantity("nonce")!
        let gasField = object["gas"] == nil && object["gasLimit"] != nil ? "gasLimit" : "gas"
        let gas = try quantity(gasField)!
        let value = try quantity("value", required: false) ?? 0

        var to: Address?
        switch object["to"] {
        case nil, .null?, .string("")?: to = nil
        case .string(let text)?:
            do { to = try Address(text) } catch { throw .invalidTransaction("to: \(error)") }
        default: throw .invalidTransaction("to must be an address string")
        }

        var data: [UInt8] = []
        if let dataValue = object["data"] ?? object["input"], dataValue != .null {
            guard case .string(let text) = dataValue, let bytes = try? [UInt8](hex: text) else {
                throw .invalidTransaction("data must be 0x-hex")
            }
            data = bytes
        }

        self.init(kind: kind, chainId: chainId, nonce: nonce, gas: gas, to: to, value: value, data: data)
        switch kind {
        case .legacy, .accessList:
            guard object["maxFeePerGas"] == nil, object["maxPriorityFeePerGas"] == nil else {
                throw .invalidTransaction("type \(kind.rawValue) takes gasPrice, not maxFeePerGas")
            }
            gasPrice = try quantity("gasPrice")!
        case .dynamicFee:
            guard object["gasPrice"] == nil else { throw .invalidTransaction("type 2 takes maxFeePerGas, not gasPrice") }
            maxFeePerGas = try quantity("maxFeePerGas")!
            maxPriorityFeePerGas = try quantity("maxPriorityFeePerGas")!
            guard maxPriorityFeePerGas <= maxFeePerGas else { throw .invalidTransaction("maxPriorityFeePerGas exceeds maxFeePerGas") }
        }
        if let list = object["accessList"], list != .null {
            guard kind != .legacy else { throw .invalidTransaction("legacy transactions have no access list") }
            accessList = try Self.parseAccessList(list)
        }
    }

    private static func parseAccessList(_ value: JSONValue) throws(EthereumError) -> [AccessEntry] {
        guard case .array(let items) = value else { throw .invalidTransaction("accessList must be an array") }
        var out: [AccessEntry] = []
        for item in items {
            guard case .object(let entry) = item, Set(entry.keys) == ["address", "storageKeys"],
                case .string(let addressText) = entry["address"], case .array(let keys) = entry["storageKeys"]
            else { throw .invalidTransaction("accessList entries are {address, storageKeys}") }
            let address: Address
            do { address = try Address(addressText) } catch { throw .invalidTransaction("accessList: \(error)") }
            var slots: [[UInt8]] = []
            for key in keys {
                guard case .string(let text) = key, let slot = try? [UInt8](hex: text), slot.count == 32 else {
                    throw .invalidTransaction("storage keys must be 32-byte hex")
                }
                slots.append(slot)
            }
            out.append(AccessEntry(address: address, storageKeys: slots))
        }
        return out
    }

    /// The JSON-RPC form with hex quantities; `sign-tx` accepts it back unchanged.
    public var json: JSONObject {
        var out: JSONObject = ["type": .string(IntegerText.quantity(BigUInt(kind.rawValue)))]
        if let chainId { out["chainId"] = .string(IntegerText.quantity(chainId)) }
        out["nonce"] = .string(IntegerText.quantity(nonce))
        out["to"] = to.map { .string($0.checksummed) } ?? .null
        out["value"] = .string(IntegerText.quantity(value))
        out["data"] = .string(data.hexString)
        out["gas"] = .string(IntegerText.quantity(gas))
        if kind == .dynamicFee {
            out["maxFeePerGas"] = .string(IntegerText.quantity(maxFeePerGas))
            out["maxPriorityFeePerGas"] = .string(IntegerText.quantity(maxPriorityFeePerGas))
        } else {
            out["gasPrice"] = .string(IntegerText.quantity(gasPrice))
        }
        if kind != .legacy {
            out["accessList"] = .array(
                accessList.map {
                    .object([
                        "address": .string($0.address.checksummed), "storageKeys": .array($0.storageKeys.map { .string($0.hexString) }),
                    ])
                })
        }
        return out
    }
}

extension SignedTransaction {
    /// The transaction's fields plus `from`, `hash`, `v`, `r`, `s`.
    public var json: JSONObject {
        var out = transaction.json
        out["from"] = .string(from.checksummed)
        out["hash"] = .string(hash.hexString)
        out["v"] = .string(IntegerText.quantity(v))
        out["r"] = .string(signature.r.hexString)
        out["s"] = .string(signature.s.hexString)
        return out
    }
}
