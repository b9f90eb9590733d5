import Crypto
import Foundation
import Storage
import _CryptoExtras

/// scrypt cost parameters for new keystores.
public struct ScryptParameters: Sendable, Equatable {
    public var n: Int
    public var r: Int
    public var p: Int

    public init(n: Int, r: Int = 8, p: Int = 1) { self.n = n; self.r = r; self.p = p }

    /// What geth and eth-keyfile write: n = 2^18, r = 8, p = 1 (256 MiB, about a second).
    public static let standard = ScryptParameters(n: 262_144)
    /// A lighter setting for throwaway keys and tests; chosen explicitly, never by default.
    public static let light = ScryptParameters(n: 4096)
}

/// Web3 Secret Storage v3: reads scrypt and pbkdf2 (hmac-sha256) files, writes scrypt.
/// The MAC is checked, in constant time, before anything is decrypted.
public enum Keystore {
    /// Hostile files must not make us allocate or spin without bound.
    static let maxScryptMemory = 2 << 30
    static let maxPBKDF2Rounds = 10_000_000

    public static func encrypt(_ key: PrivateKey, password: String, kdf: ScryptParameters = .standard) throws(EthereumError) -> JSONValue {
        try checkScrypt(n: kdf.n, r: kdf.r, p: kdf.p)
        let salt = SystemRandom.bytes(32)
        let iv = SystemRandom.bytes(16)
        var derived = try scrypt(password: password, salt: salt, n: kdf.n, r: kdf.r, p: kdf.p, length: 32)
        defer { secureZero(&derived) }
        var plain = key.withUnsafeSecret { Array($0) }
        defer { secureZero(&plain) }
        let ciphertext = try aesCTR(plain, key: Array(derived[0..<16]), iv: iv)
        let mac = Keccak256.hash(derived[16..<32] + ciphertext)
        let crypto: JSONObject = [
            "cipher": .string("aes-128-ctr"),
            "cipherparams": .object(["iv": .string(iv.hexDigits)]),
            "ciphertext": .string(ciphertext.hexDigits),
            "kdf": .string("scrypt"),
            "kdfparams": .object([
                "dklen": .number("32"), "n": .number(String(kdf.n)), "p": .number(String(kdf.p)),
                "r": .number(String(kdf.r)), "salt": .string(salt.hexDigits),
            ]),
            "mac": .string(mac.hexDigits),
        ]
        return .object([
            "address": .string(key.address.bytes.hexDigits),
            "crypto": .object(crypto),
            "id": .string(UUID().uuidString.lowercased()),
            "version": .number("3"),
        ])
    }

    public static func decrypt(_ json: [UInt8], password: String) throws(EthereumError) -> PrivateKey {
        let file = try Sealed(json)
        var derived = try file.deriveKey(password: password)
        defer { secureZero(&derived) }
        return try file.open(with: derived)
    }

    /// A keystore file parsed and checked, before any key derivation: hostile KDF parameters stop here.
    struct Sealed {
        enum Derivation { case scrypt(n: Int, r: Int, p: Int), pbkdf2(rounds: Int) }
        let kdf: Derivation
        let salt: [UInt8]
        let dklen: Int
        let iv: [UInt8]
        let ciphertext: [UInt8]
        let mac: [UInt8]
        let address: String?

        init(_ json: [UInt8]) throws(EthereumError) {
            let document: JSONValue
            do { document = try JSONValue.parse(json) } catch { throw .invalidKeystore("not JSON: \(error)") }
            guard case .object(let root) = document else { throw .invalidKeystore("not a JSON object") }
            guard root["version"] == .number("3") else { throw .unsupportedKeystore("version must be 3") }
            guard let crypto = (root["crypto"] ?? root["Crypto"])?.objectValue else { throw .invalidKeystore("missing crypto") }
            guard crypto["cipher"]?.stringValue == "aes-128-ctr" else { throw .unsupportedKeystore("cipher must be aes-128-ctr") }
            iv = try hexField(crypto["cipherparams"]?["iv"], "cipherparams.iv", count: 16)
            ciphertext = try hexField(crypto["ciphertext"], "ciphertext", count: 32)
            mac = try hexField(crypto["mac"], "mac", count: 32)
            guard let params = crypto["kdfparams"]?.objectValue else { throw .invalidKeystore("missing kdfparams") }
            salt = try hexField(params["salt"], "kdfparams.salt", count: nil)
            dklen = try intField(params["dklen"], "kdfparams.dklen")
            guard dklen >= 32, dklen <= 64 else { throw .unsupportedKeystore("dklen must be 32..64") }
            switch crypto["kdf"]?.stringValue {
            case "scrypt":
                let n = try intField(params["n"], "kdfparams.n"), r = try intField(params["r"], "kdfparams.r")
                let p = try intField(params["p"], "kdfparams.p")
                try checkScrypt(n: n, r: r, p: p)
                kdf = .scrypt(n: n, r: r, p: p)
            case "pbkdf2":
                guard params["prf"]?.stringValue == "hmac-sha256" else { throw .unsupportedKeystore("pbkdf2 prf must be hmac-sha256") }
                let rounds = try intField(params["c"], "kdfparams.c")
                guard rounds >= 1, rounds <= maxPBKDF2Rounds else { throw .unsupportedKeystore("pbkdf2 rounds out of range") }
                kdf = .pbkdf2(rounds: rounds)
            default:
                throw .unsupportedKeystore("kdf must be scrypt or pbkdf2")
            }
            address = root["address"]?.stringValue
        }

        func deriveKey(password: String) throws(EthereumError) -> [UInt8] {
            switch kdf {
            case .scrypt(let n, let r, let p):
                return try scrypt(password: password, salt: salt, n: n, r: r, p: p, length: dklen)
            case .pbkdf2(let rounds):
                do {
                    let key = try KDF.Insecure.PBKDF2.deriveKey(
                        from: Array(password.utf8), salt: salt, using: .sha256, outputByteCount: dklen, unsafeUncheckedRounds: rounds)
                    return key.withUnsafeBytes { Array($0) }
                } catch { throw .invalidKeystore("pbkdf2 failed: \(error)") }
            }
        }

        /// Checks the MAC (constant time) before decrypting, then that the key matches the stated address.
        func open(with derived: [UInt8]) throws(EthereumError) -> PrivateKey {
            let expected = Keccak256.hash(derived[16..<32] + ciphertext)
            guard ConstantTime.equal(expected, mac) else { throw .wrongPassword }
            var secret = try aesCTR(ciphertext, key: Array(derived[0..<16]), iv: iv)
            defer { secureZero(&secret) }
            let key: PrivateKey
            do { key = try PrivateKey(bytes: secret) } catch { throw .invalidKeystore("decrypted bytes are not a valid private key") }
            // The MAC does not cover the IV: a changed IV decrypts to a different key. The address catches it.
            if let address {
                guard let bytes = try? [UInt8](hex: address), bytes == key.address.bytes else {
                    throw .invalidKeystore("decrypted key does not match the file's address (IV or address altered)")
                }
            }
            return key
        }
    }

    /// Writes a new keystore file atomically with mode 0600; refuses to replace an existing file.
    public static func create(_ key: PrivateKey, at path: String, password: String, kdf: ScryptParameters = .standard) throws(EthereumError)
    {
        let json = try encrypt(key, password: password, kdf: kdf)
        do { try SecureFile.write(Array(json.prettyText.utf8) + [0x0A], to: path, replacing: false) } catch { throw .io(error.description) }
    }

    public static func open(_ path: String, password: String) throws(EthereumError) -> PrivateKey {
        let bytes: [UInt8]
        do { bytes = try SecureFile.read(path) } catch { throw .io(error.description) }
        return try decrypt(bytes, password: password)
    }

    // MARK: - Pieces

    static func checkScrypt(n: Int, r: Int, p: Int) throws(EthereumError) {
        guard n > 1, n & (n - 1) == 0 else { throw .unsupportedKeystore("scrypt n must be a power of two > 1") }
        guard r >= 1, p >= 1, r <= 1 << 10, p <= 1 << 10 else { throw .unsupportedKeystore("scrypt r and p must be 1..1024") }
        // RFC 7914: N < 2^(128·r/8). The old r=1, p=8 test vector breaks it; like OpenSSL we refuse it.
        guard 16 * r >= 63 || n < 1 << (16 * r) else {
            throw .unsupportedKeystore("scrypt parameters violate RFC 7914 (n must be below 2^(16r))")
        }
        let (memory, overflow) = (128 * r).multipliedReportingOverflow(by: n + p)
        guard !overflow, memory <= maxScryptMemory else { throw .unsupportedKeystore("scrypt parameters need more than 2 GiB") }
    }

    static func scrypt(password: String, salt: [UInt8], n: Int, r: Int, p: Int, length: Int) throws(EthereumError) -> [UInt8] {
        do {
            let key = try KDF.Scrypt.deriveKey(
                from: Array(password.utf8), salt: salt, outputByteCount: length, rounds: n, blockSize: r, parallelism: p,
                maxMemory: 128 * r * (n + p) + 65536)
            return key.withUnsafeBytes { Array($0) }
        } catch {
            throw .unsupportedKeystore("scrypt failed: \(error)")
        }
    }

    static func aesCTR(_ input: [UInt8], key: [UInt8], iv: [UInt8]) throws(EthereumError) -> [UInt8] {
        do {
            let nonce = try AES._CTR.Nonce(nonceBytes: iv)
            return Array(try AES._CTR.encrypt(input, using: SymmetricKey(data: key), nonce: nonce))
        } catch {
            throw .invalidKeystore("aes-128-ctr failed: \(error)")
        }
    }

    static func hexField(_ value: JSONValue?, _ name: String, count: Int?) throws(EthereumError) -> [UInt8] {
        guard let text = value?.stringValue, let bytes = try? [UInt8](hex: text) else { throw .invalidKeystore("\(name) must be hex") }
        if let count, bytes.count != count { throw .invalidKeystore("\(name) must be \(count) bytes") }
        guard !bytes.isEmpty else { throw .invalidKeystore("\(name) is empty") }
        return bytes
    }

    static func intField(_ value: JSONValue?, _ name: String) throws(EthereumError) -> Int {
        guard case .number(let text) = value, let n = Int(text) else { throw .invalidKeystore("\(name) must be an integer") }
        return n
    }
}
