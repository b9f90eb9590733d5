import Testing

@testable import Ethereum

@Suite struct KeyAndAddressTests {
    @Test func privateKeyToAddress() throws {
        for vector in Vectors.list("addresses", "valid") {
            let key = try PrivateKey(hex: vector["private_key"]!.string)
            #expect(key.publicKey.uncompressed.hexString == vector["public_key_uncompressed"]!.string)
            #expect(key.publicKey.compressed.hexString == vector["public_key_compressed"]!.string)
            #expect(key.address.checksummed == vector["address"]!.string)
            #expect(try Address(vector["address_lower"]!.string) == key.address)
            #expect(try PublicKey(bytes: key.publicKey.compressed) == key.publicKey)
        }
    }

    /// Eight bytes per draw: every length is filled to its end (a tail shorter than a word included), and
    /// every byte position takes both high and low values over many draws (none left at its initial zero).
    @Test func systemRandomFillsEveryByte() {
        for count in [0, 1, 7, 8, 9, 16, 31, 33] {
            #expect(SystemRandom.bytes(count).count == count)
            var seenHigh = [Bool](repeating: false, count: count), seenLow = seenHigh
            for _ in 0..<64 {
                for (index, byte) in SystemRandom.bytes(count).enumerated() {
                    if byte >= 0x80 { seenHigh[index] = true } else { seenLow[index] = true }
                }
            }
            #expect(seenHigh.allSatisfy { $0 } && seenLow.allSatisfy { $0 }, "\(count) bytes")
        }
        #expect(SystemRandom.bytes(16) != SystemRandom.bytes(16))
    }

    @Test func invalidPrivateKeysAreRefused() {
        for vector in Vectors.list("addresses", "invalid_private_keys") {
            #expect(throws: EthereumError.invalidPrivateKey) { try PrivateKey(hex: vector["private_key"]!.string) }
        }
        #expect(throws: EthereumError.invalidPrivateKey) { try PrivateKey(bytes: [UInt8](repeating: 1, count: 31)) }
    }

    @Test func eip55() throws {
        for vector in Vectors.list("addresses", "eip55_examples") {
            let address = try Address(vector["lower"]!.string)
            #expect(address.checksummed == vector["checksummed"]!.string)
            #expect(try Address(vector["checksummed"]!.string) == address)
            #expect(try Address(vector["lower"]!.string.uppercased().replacingOccurrences(of: "0X", with: "0x")) == address)
        }
    }

    @Test func wrongChecksumIsRefused() {
        let good = "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed"
        let bad = "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAeD"
        #expect(throws: EthereumError.self) { try Address(bad) }
        #expect(throws: EthereumError.self) { try Address(String(good.dropLast())) }
        #expect(throws: EthereumError.self) { try Address(String(good.dropFirst(2))) }
        #expect(throws: EthereumError.self) { try Address("0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAeg") }
    }

    @Test func keysNeverPrintTheirSecret() throws {
        let key = try PrivateKey(hex: "0x4646464646464646464646464646464646464646464646464646464646464646")
        for text in [
            String(describing: key), String(reflecting: key), "\(key)",
            String(describing: Mirror(reflecting: key).children.map { $0.value }),
        ] {
            #expect(!text.lowercased().contains("46464646"))
        }
    }

    @Test func generatedKeysSignAndRecover() throws {
        let digest = Keccak256.hash("paratii")
        var seen = Set<Address>()
        for _ in 0..<8 {
            let key = PrivateKey.generate()
            #expect(seen.insert(key.address).inserted)
            let signature = try key.sign(digest: digest)
            #expect(try signature.recoverAddress(digest: digest) == key.address)
            #expect(signature.isValid(digest: digest, publicKey: key.publicKey))
            #expect(!signature.isValid(digest: Keccak256.hash("other"), publicKey: key.publicKey))
            #expect(try Signature(bytes: signature.bytes) == signature)
        }
    }

    @Test func rawCardSignatureIsNormalisedAndGetsItsV() throws {
        let key = try PrivateKey(hex: "0xc85ef7d79691fe79573b1a7064c19c1a9819ebdbd1faaab1a8ec92344438aaf4")
        let digest = Keccak256.hash("card")
        let good = try key.sign(digest: digest)
        // A card may return the high-s twin: n - s.
        let n = try [UInt8](hex: "fffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141")
        var highS = [UInt8](repeating: 0, count: 32)
        var borrow = 0
        for i in (0..<32).reversed() {
            let d = Int(n[i]) - Int(good.s[i]) - borrow
            highS[i] = UInt8((d + 256) % 256)
            borrow = d < 0 ? 1 : 0
        }
        for raw in [good.r + good.s, good.r + highS] {
            let rebuilt = try Signature(rawRS: raw, digest: digest, signer: key.publicKey)
            #expect(rebuilt == good)
        }
        #expect(throws: EthereumError.self) { try Signature(bytes: good.r + highS + [good.v]) }
        let stranger = PrivateKey.generate().publicKey
        #expect(throws: EthereumError.self) { try Signature(rawRS: good.r + good.s, digest: digest, signer: stranger) }
    }
}
