import Crypto
import Ethereum
import Foundation
import Testing

/// BIP-39 against Trezor's vectors (the ones BIP-39 links to), BIP-32 against the BIP's own vectors,
/// and the wordlist against the file it was vendored from. eth-account's `from_mnemonic` is compared
/// in Tests/interop/test_mnemonic.py.
@Suite struct MnemonicTests {
    static let bip39 = Vectors.file("bip39.json")
    static let bip32 = Vectors.file("bip32.json")

    @Test func wordlistIsTheVendoredFile() throws {
        // Recomputed from the phrase of every index: a changed or reordered word changes this digest.
        var text = ""
        for index in 0..<2048 {
            var entropy = [UInt8](repeating: 0, count: 16)
            // 11 leading bits of the entropy are the first word's index.
            entropy[0] = UInt8(index >> 3)
            entropy[1] = UInt8((index & 7) << 5)
            try Mnemonic(entropy: entropy).withPhrase { text += String($0.split(separator: " ")[0]) + "\n" }
        }
        let digest = SHA256.hash(data: Array(text.utf8)).map { String(format: "%02x", $0) }.joined()
        #expect(digest == "2f5eed53a4727b4bf8880d8f3f199efc90e58503646d9ff8eff3a2ed3b24dbda")
    }

    @Test(arguments: bip39["english"]!.arrayValue!.indices)
    func trezorVector(_ i: Int) throws {
        let v = Self.bip39["english"]!.arrayValue![i]
        let fromEntropy = try Mnemonic(entropy: v["entropy"]!.hexBytes)
        fromEntropy.withPhrase { #expect($0 == v["mnemonic"]!.string) }
        let parsed = try Mnemonic(phrase: v["mnemonic"]!.string)
        #expect(parsed.entropy() == v["entropy"]!.hexBytes)
        #expect(try parsed.seed(passphrase: "TREZOR") == v["seed"]!.hexBytes)
        let master = try ExtendedPrivateKey.master(seed: v["seed"]!.hexBytes)
        #expect(master.chainCode == v["chainCode"]!.hexBytes)
        #expect(try master.privateKey().withUnsafeSecret { Array($0) } == v["masterKey"]!.hexBytes)
    }

    @Test(arguments: bip32["vectors"]!.arrayValue!.indices)
    func bip32Vector(_ i: Int) throws {
        let v = Self.bip32["vectors"]!.arrayValue![i]
        let master = try ExtendedPrivateKey.master(seed: v["seed"]!.hexBytes)
        for chain in v["chains"]!.arrayValue! {
            let path = DerivationPath(indices: chain["path"]!.arrayValue!.map { UInt32($0.int) })
            let key = try master.derive(path)
            #expect(key.chainCode == chain["chainCode"]!.hexBytes, "\(path)")
            #expect(try key.privateKey().withUnsafeSecret { Array($0) } == chain["key"]!.hexBytes, "\(path)")
        }
    }

    @Test func ethereumPathOfTheBestKnownPhrase() throws {
        // The address every wallet shows for "abandon … about" with no passphrase (m/44'/60'/0'/0/0).
        let words = try Mnemonic(phrase: "abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon about")
        let key = try ExtendedPrivateKey.from(words).privateKey()
        #expect(key.address.checksummed == "0x9858EfFD232B4033E47d90003D41EC34EcaEda94")
        #expect(DerivationPath.ethereum.description == "m/44'/60'/0'/0/0")
        #expect(try DerivationPath("m/44'/60'/0'/0/0") == .ethereum)
        #expect(try DerivationPath("m/44h/60H/0'/0/0") == .ethereum)
    }

    @Test func generatedPhraseHas24WordsAndRoundTrips() throws {
        let a = Mnemonic.generate(), b = Mnemonic.generate()
        #expect(a.wordCount == 24)
        #expect(a.entropy().count == 32)
        #expect(a.entropy() != b.entropy())
        let again = try a.withPhrase { try Mnemonic(phrase: "  " + $0.uppercased().replacingOccurrences(of: " ", with: "\n ") + "\n") }
        #expect(again.entropy() == a.entropy())
        #expect("\(a)" == "Mnemonic(24 words, redacted)")
    }

    @Test func badPhrasesAreRefusedWithoutEchoingWords() {
        let good = "legal winner thank year wave sausage worth useful legal winner thank yellow"
        let cases: [(String, String)] = [
            ("legal winner thank year wave sausage worth useful legal winner thank", "expected 12, 15, 18, 21 or 24 words, got 11"),
            ("legal winner thank year wave sausage worth useful legal winner thank yelow", "word 12 is not in the BIP-39 English list"),
            (
                "legal winner thank year wave sausage worth useful legal winner yellow thank",
                "checksum does not match (a word is wrong or out of order)"
            ),
            (
                "legal winner thank year wave sausage worth useful legal winner thank zoo",
                "checksum does not match (a word is wrong or out of order)"
            ),
        ]
        #expect((try? Mnemonic(phrase: good)) != nil)
        for (phrase, why) in cases {
            #expect(throws: EthereumError.invalidMnemonic(why)) { try Mnemonic(phrase: phrase) }
        }
        #expect(throws: EthereumError.invalidMnemonic("entropy must be 16, 20, 24, 28 or 32 bytes, got 15")) {
            try Mnemonic(entropy: [UInt8](repeating: 1, count: 15))
        }
        #expect(throws: EthereumError.invalidDerivation("bad index \"x\"")) { try DerivationPath("m/44'/x") }
        #expect(throws: EthereumError.invalidDerivation("bad index \"2147483648\"")) { try DerivationPath("m/2147483648") }
        #expect(throws: EthereumError.invalidDerivation("a path starts with m/")) { try DerivationPath("44'/60'") }
        #expect(throws: EthereumError.invalidDerivation("seed must be 16 to 64 bytes")) { try ExtendedPrivateKey.master(seed: [1, 2]) }
    }
}
