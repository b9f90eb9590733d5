import BigInt
import Foundation

extension SignedTransaction {
    /// Decodes a raw signed transaction (legacy RLP list, or a type byte followed by one) and
    /// checks its signature: high s (EIP-2), a bad v, or an unrecoverable signature are refused.
    public static func decode(_ raw: [UInt8]) throws(EthereumError) -> SignedTransaction {
        guard let first = raw.first else { throw .invalidTransaction("empty input") }
        let kind: Transaction.Kind
        let body: [UInt8]
        if first >= 0xC0 {
            kind = .legacy
            body = raw
        } else if let typed = Transaction.Kind(rawValue: first), typed != .legacy {
            kind = typed
            body = Array(raw.dropFirst())
        } else {
            throw .invalidTransaction("unsupported transaction type 0x\([first].hexDigits)")
        }
        guard case .list(let fields) = try RLP.decode(body) else { throw .invalidTransaction("expected an RLP list") }

        var reader = FieldReader(fields: fields)
        let expected = [Transaction.Kind.legacy: 9, .accessList: 11, .dynamicFee: 12][kind]!
        guard fields.count == expected else {
            throw .invalidTransaction("type \(kind.rawValue) has \(expected) fields, got \(fields.count)")
        }
        var tx = Transaction(kind: kind, chainId: nil, nonce: 0, gas: 0, to: nil, value: 0, data: [])
        if kind != .legacy { tx.chainId = try reader.uint("chainId") }
        tx.nonce = try reader.uint("nonce")
        if kind == .dynamicFee {
            tx.maxPriorityFeePerGas = try reader.uint("maxPriorityFeePerGas")
            tx.maxFeePerGas = try reader.uint("maxFeePerGas")
            // EIP-1559 validity, as the JSON reader and every node require it (found by the raw-transaction fuzzer).
            guard tx.maxPriorityFeePerGas <= tx.maxFeePerGas else { throw .invalidTransaction("maxPriorityFeePerGas exceeds maxFeePerGas") }
        } else {
            tx.gasPrice = try reader.uint("gasPrice")
        }
        tx.gas = try reader.uint("gas")
        let to = try reader.bytes("to")
        switch to.count {
        case 0: tx.to = nil
        case 20: tx.to = try Address(bytes: to)
        default: throw .invalidTransaction("to must be 20 bytes or empty")
        }
        tx.value = try reader.uint("value")
        tx.data = try reader.bytes("data")
        if kind != .legacy { tx.accessList = try reader.accessList() }

        let v = try reader.uint("v")
        let r = try reader.uint("r"), s = try reader.uint("s")
        guard r.bitWidth <= 256, s.bitWidth <= 256 else { throw .invalidTransaction("r or s wider than 256 bits") }
        let recoveryID: UInt8
        if kind == .legacy {
            if v == 27 || v == 28 {
                recoveryID = UInt8(v - 27)
            } else if v >= 35 {
                tx.chainId = (v - 35) / 2
                recoveryID = UInt8((v - 35) % 2)
            } else {
                throw .invalidTransaction("invalid v \(v)")
            }
        } else {
            guard v <= 1 else { throw .invalidTransaction("yParity must be 0 or 1") }
            recoveryID = UInt8(v)
        }
        let signature: Signature
        do {
            signature = try Signature(bytes: r.word256 + s.word256 + [recoveryID])
        } catch {
            throw .invalidTransaction("\(error)")
        }
        do {
            _ = try signature.recoverAddress(digest: tx.signingHash)
        } catch {
            throw .invalidTransaction("signature does not recover a sender")
        }
        let signed = SignedTransaction(transaction: tx, signature: signature)
        guard signed.raw == raw else { throw .invalidTransaction("non-canonical encoding") }
        return signed
    }
}

/// Reads the RLP fields of a transaction in order, enforcing canonical integers.
private struct FieldReader {
    let fields: [RLP]
    var index = 0

    mutating func next(_ name: String) throws(EthereumError) -> RLP {
        defer { index += 1 }
        return fields[index]
    }

    mutating func bytes(_ name: String) throws(EthereumError) -> [UInt8] {
        guard case .bytes(let bytes) = try next(name) else { throw .invalidTransaction("\(name) must be a byte string") }
        return bytes
    }

    mutating func uint(_ name: String) throws(EthereumError) -> BigUInt {
        let raw = try bytes(name)
        guard raw.first != 0 else { throw .invalidTransaction("\(name) has leading zero bytes") }
        guard raw.count <= 32 else { throw .invalidTransaction("\(name) is wider than 256 bits") }
        return BigUInt(Data(raw))
    }

    mutating func accessList() throws(EthereumError) -> [Transaction.AccessEntry] {
        guard case .list(let entries) = try next("accessList") else { throw .invalidTransaction("accessList must be a list") }
        var out: [Transaction.AccessEntry] = []
        for entry in entries {
            guard case .list(let pair) = entry, pair.count == 2, case .bytes(let address) = pair[0], address.count == 20,
                case .list(let keys) = pair[1]
            else { throw .invalidTransaction("malformed access list entry") }
            var storageKeys: [[UInt8]] = []
            for key in keys {
                guard case .bytes(let slot) = key, slot.count == 32 else { throw .invalidTransaction("storage keys must be 32 bytes") }
                storageKeys.append(slot)
            }
            out.append(.init(address: try Address(bytes: address), storageKeys: storageKeys))
        }
        return out
    }
}
