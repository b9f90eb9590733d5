@testable import Ethereum

/// Parse → write → parse gives the same value, and writing is stable.
func fuzzJSON(_ input: [UInt8]) {
    guard let value = try? JSONValue.parse(input) else { return }
    let compact = value.compactText
    guard let again = try? JSONValue.parse(compact) else { return require(false, "compact text does not parse: \(compact)") }
    require(again == value, "compact round trip changed the value: \(compact)")
    require(again.compactText == compact, "compact text is not stable")
    require((try? JSONValue.parse(value.prettyText)) == value, "pretty round trip changed the value")
}

/// Parsing validates the types; hashing either fails cleanly or is deterministic.
func fuzzTypedData(_ input: [UInt8]) {
    guard let typed = try? TypedData(parsing: input) else { return }
    let digest = try? typed.digest()
    if let digest { require(digest.count == 32, "digest of \(digest.count) bytes") }
    // The same document written out and read back hashes the same.
    let reread = try? TypedData(parsing: Array(typed.json.compactText.utf8))
    require(reread != nil, "typed data does not re-parse from its own JSON")
    require((try? reread?.digest()) == digest, "digest changed after a JSON round trip")
}

/// Decoding accepts only canonical encodings, so decode → encode gives back the input exactly.
func fuzzRLP(_ input: [UInt8]) {
    guard let item = try? RLP.decode(input) else { return }
    require(item.encoded() == input, "RLP re-encoding differs from the input")
}

/// A decoded transaction re-encodes to the same bytes and recovers a sender.
func fuzzRawTransaction(_ input: [UInt8]) {
    guard let signed = try? SignedTransaction.decode(input) else { return }
    require(signed.raw == input, "raw re-encoding differs from the input")
    require((try? signed.signature.recoverAddress(digest: signed.transaction.signingHash)) == signed.from, "sender does not recover")
    require((try? SignedTransaction.decode(signed.raw)) == signed, "decoding is not stable")
    // The JSON form of what was decoded reads back as the same transaction.
    require((try? Transaction(json: .object(signed.transaction.json))) == signed.transaction, "JSON round trip of a decoded transaction")
}

/// JSON-RPC transactions: what is read writes back to JSON that reads as the same transaction.
func fuzzTransactionJSON(_ input: [UInt8]) {
    guard let value = try? JSONValue.parse(input), let tx = try? Transaction(json: value) else { return }
    require((try? Transaction(json: .object(tx.json))) == tx, "JSON round trip changed the transaction")
    _ = tx.signingHash
}

/// Keystore files: the structure and KDF parameters are checked before any work. The real KDF runs
/// only when its cost is small, so hostile parameters cannot stall the fuzzer (they are refused by
/// `Sealed` itself above 2 GiB / 10^7 rounds, which the keystore tests cover).
func fuzzKeystore(_ input: [UInt8]) {
    guard let sealed = try? Keystore.Sealed(input) else { return }
    let cheap: Bool
    switch sealed.kdf {
    case .scrypt(let n, let r, let p): cheap = n * r * p <= 1 << 12
    case .pbkdf2(let rounds): cheap = rounds <= 1 << 12
    }
    guard cheap, let derived = try? sealed.deriveKey(password: "fuzz") else { return }
    require(derived.count == sealed.dklen, "derived \(derived.count) bytes, asked \(sealed.dklen)")
    do {
        let key = try sealed.open(with: derived)
        if let address = sealed.address { require((try? [UInt8](hex: address)) == key.address.bytes, "address check skipped") }
    } catch {
        // Wrong password, tampered file, or a decrypted value that is not a key: all refusals.
    }
}
