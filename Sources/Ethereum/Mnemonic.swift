import Crypto
import Foundation
import _CryptoExtras

/// A BIP-39 mnemonic (English list): entropy plus a SHA-256 checksum, spelt as words of 11 bits each.
///
/// It is the written backup of a key born off the card, so it is a secret: the word indices live in
/// one array that is wiped when the value is dropped, nothing describes or mirrors the words, and the
/// seed comes back as bytes the caller wipes. The phrase as text exists only inside `withPhrase`.
public final class Mnemonic: @unchecked Sendable {
    /// 12, 15, 18, 21 or 24 words; `generate()` makes 24 (256 bits of entropy).
    public static let wordCounts: Set<Int> = [12, 15, 18, 21, 24]
    /// PBKDF2-HMAC-SHA512 rounds fixed by BIP-39.
    static let seedRounds = 2048

    private var indices: [UInt16]

    /// From entropy of 16, 20, 24, 28 or 32 bytes. The caller wipes its own copy.
    public init(entropy: [UInt8]) throws(EthereumError) {
        guard entropy.count >= 16, entropy.count <= 32, entropy.count % 4 == 0 else {
            throw .invalidMnemonic("entropy must be 16, 20, 24, 28 or 32 bytes, got \(entropy.count)")
        }
        var material: [UInt8] = []
        material.reserveCapacity(entropy.count + 32)
        material += entropy
        material += SHA256.hash(data: entropy)
        var bits = Self.bits(of: material)
        defer { secureZero(&material); secureZero(&bits) }
        let count = (entropy.count * 8 + entropy.count / 4) / 11
        indices = (0..<count).map { word in
            (0..<11).reduce(UInt16(0)) { $0 << 1 | UInt16(bits[word * 11 + $1]) }
        }
    }

    /// Parses a phrase: words separated by white space, each from the English list (case-insensitive),
    /// with the right count and checksum. The error names the first bad word by position, not by text.
    public init(phrase: String) throws(EthereumError) {
        let words = phrase.split(whereSeparator: { $0.isWhitespace }).map { $0.lowercased() }
        guard Self.wordCounts.contains(words.count) else {
            throw .invalidMnemonic("expected 12, 15, 18, 21 or 24 words, got \(words.count)")
        }
        var parsed: [UInt16] = []
        for (position, word) in words.enumerated() {
            guard let index = BIP39English.index[word] else {
                throw .invalidMnemonic("word \(position + 1) is not in the BIP-39 English list")
            }
            parsed.append(UInt16(index))
        }
        indices = parsed
        var entropy = self.entropy()
        defer { secureZero(&entropy) }
        guard let check = try? Mnemonic(entropy: entropy), check.indices.last == parsed.last else {
            throw .invalidMnemonic("checksum does not match (a word is wrong or out of order)")
        }
    }

    /// 24 words from 32 bytes of the system CSPRNG.
    public static func generate() -> Mnemonic {
        var entropy = SystemRandom.bytes(32)
        defer { secureZero(&entropy) }
        return try! Mnemonic(entropy: entropy)  // 32 bytes is always valid
    }

    deinit {
        indices.withUnsafeMutableBytes { secureZero($0) }
    }

    public var wordCount: Int { indices.count }

    /// The entropy the words encode (without the checksum bits). The caller wipes it.
    public func entropy() -> [UInt8] {
        var bits = indices.flatMap { index in (0..<11).map { UInt8(index >> (10 - $0) & 1) } }
        defer { secureZero(&bits) }
        let length = indices.count * 11 * 32 / 33
        return (0..<length / 8).map { byte in (0..<8).reduce(UInt8(0)) { $0 << 1 | bits[byte * 8 + $1] } }
    }

    /// Lends the words joined by single spaces (what the user writes down); do not keep it.
    public func withPhrase<R>(_ body: (String) throws -> R) rethrows -> R {
        var bytes = phraseBytes()
        defer { secureZero(&bytes) }
        return try body(String(decoding: bytes, as: UTF8.self))
    }

    /// Calls `body` with each word (1-based position), for showing the words one by one: a word is a
    /// short constant of the list, so no heap copy of the phrase is made.
    public func forEachWord(_ body: (_ position: Int, _ word: String) throws -> Void) rethrows {
        for (position, index) in indices.enumerated() { try body(position + 1, BIP39English.words[Int(index)]) }
    }

    /// The 64-byte BIP-39 seed: PBKDF2-HMAC-SHA512 over the phrase, salt "mnemonic" + passphrase
    /// (NFKD; the English words are already in that form), 2048 rounds. The caller wipes it.
    public func seed(passphrase: String = "") throws(EthereumError) -> [UInt8] {
        var password = phraseBytes()
        defer { secureZero(&password) }
        let salt = Array(("mnemonic" + passphrase).decomposedStringWithCompatibilityMapping.utf8)
        do {
            let key = try KDF.Insecure.PBKDF2.deriveKey(
                from: password, salt: salt, using: .sha512, outputByteCount: 64, unsafeUncheckedRounds: Self.seedRounds)
            return key.withUnsafeBytes { Array($0) }
        } catch {
            throw .invalidMnemonic("seed derivation failed: \(error)")
        }
    }

    private func phraseBytes() -> [UInt8] {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(indices.count * 9)
        for (position, index) in indices.enumerated() {
            if position > 0 { bytes.append(0x20) }
            bytes.append(contentsOf: BIP39English.words[Int(index)].utf8)
        }
        return bytes
    }

    private static func bits(of bytes: [UInt8]) -> [UInt8] {
        bytes.flatMap { byte in (0..<8).map { byte >> (7 - $0) & 1 } }
    }
}

extension Mnemonic: CustomStringConvertible, CustomDebugStringConvertible, CustomReflectable {
    public var description: String { "Mnemonic(\(wordCount) words, redacted)" }
    public var debugDescription: String { description }
    public var customMirror: Mirror { Mirror(self, children: ["wordCount": wordCount]) }
}
