import Crypto
import Ethereum
import Foundation
import Storage

/// The persistent state of a software OpenPGP card: what a real card keeps in EEPROM.
///
/// Stored as JSON. PINs are kept as salted SHA-256 hashes (with their length, which the card needs
/// to split CHANGE REFERENCE DATA's old‖new); the private key is a Web3 Secret Storage keystore
/// encrypted under the state passphrase, or — only for throwaway test cards created with
/// `--insecure-state` — plain hex.
public struct SoftCardState: Sendable, Equatable {
    public static let formatVersion = 1

    public var serial: [UInt8]
    public var manufacturer: UInt16
    public var pw1: StoredPIN
    public var pw3: StoredPIN
    public var resettingCode: StoredPIN?
    public var pw1TriesLeft: Int
    public var pw3TriesLeft: Int
    public var resettingCodeTriesLeft: Int
    public var pw1ValidForSeveralSignatures: Bool
    public var signatureCounter: Int
    public var signatureAttributes: [UInt8]
    public var key: StoredKey?
    /// The key came in through key import (born off card) rather than GENERATE: DO DE says 02, not 01.
    public var keyImported: Bool
    public var signatureFingerprint: [UInt8]
    public var signatureGenerationTime: [UInt8]
    public var cardholderName: [UInt8]
    public var terminated: Bool
    /// When true the private key is kept in plain hex (throwaway test cards only).
    public var insecure: Bool

    public static let maxTries = 3

    public enum StoredKey: Sendable, Equatable {
        case encrypted(JSONValue)
        case plain([UInt8])
    }

    public struct StoredPIN: Sendable, Equatable {
        public var salt: [UInt8]
        public var hash: [UInt8]
        public var length: Int

        public init(pin: [UInt8]) {
            var salt = [UInt8](repeating: 0, count: 16)
            var rng = SystemRandomNumberGenerator()
            for i in salt.indices { salt[i] = rng.next() }
            self.salt = salt
            self.hash = Self.digest(salt: salt, pin: pin)
            self.length = pin.count
        }

        init(salt: [UInt8], hash: [UInt8], length: Int) {
            self.salt = salt; self.hash = hash; self.length = length
        }

        static func digest(salt: [UInt8], pin: [UInt8]) -> [UInt8] {
            Array(SHA256.hash(data: salt + pin))
        }

        public func matches(_ pin: [UInt8]) -> Bool {
            let candidate = Self.digest(salt: salt, pin: pin)
            var diff: UInt8 = pin.count == length ? 0 : 1
            for i in 0..<32 { diff |= candidate[i] ^ hash[i] }
            return diff == 0
        }
    }

    /// A factory-fresh card: no key, PW1 123456, PW3 12345678, no resetting code, 3 tries each.
    public static func factoryFresh(serial: [UInt8], insecure: Bool) -> SoftCardState {
        SoftCardState(
            serial: serial, manufacturer: 0xFF00,
            pw1: StoredPIN(pin: Array("123456".utf8)), pw3: StoredPIN(pin: Array("12345678".utf8)),
            resettingCode: nil, pw1TriesLeft: maxTries, pw3TriesLeft: maxTries, resettingCodeTriesLeft: 0,
            pw1ValidForSeveralSignatures: false, signatureCounter: 0,
            signatureAttributes: [0x13, 0x2B, 0x81, 0x04, 0x00, 0x0A],
            key: nil, keyImported: false, signatureFingerprint: [UInt8](repeating: 0, count: 20),
            signatureGenerationTime: [0, 0, 0, 0], cardholderName: [], terminated: false, insecure: insecure)
    }

    /// Back to factory state in place (ACTIVATE after TERMINATE), keeping the card's identity.
    public mutating func factoryReset() {
        self = Self.factoryFresh(serial: serial, insecure: insecure)
        manufacturer = manufacturer == 0 ? 0xFF00 : manufacturer
    }

    public static func randomSerial() -> [UInt8] {
        var rng = SystemRandomNumberGenerator()
        return (0..<4).map { _ in rng.next() }
    }

    // MARK: JSON

    public var json: JSONValue {
        func hex(_ b: [UInt8]) -> JSONValue { .string(b.hexDigits) }
        func pin(_ p: StoredPIN) -> JSONValue {
            .object(["salt": hex(p.salt), "sha256": hex(p.hash), "length": .number(String(p.length))])
        }
        var members: [(key: String, value: JSONValue)] = [
            ("format", .string("paratii-softcard")),
            ("version", .number(String(Self.formatVersion))),
            ("serial", hex(serial)),
            ("manufacturer", .number(String(manufacturer))),
            ("pw1", pin(pw1)),
            ("pw3", pin(pw3)),
            ("resettingCode", resettingCode.map(pin) ?? .null),
            ("pw1TriesLeft", .number(String(pw1TriesLeft))),
            ("pw3TriesLeft", .number(String(pw3TriesLeft))),
            ("resettingCodeTriesLeft", .number(String(resettingCodeTriesLeft))),
            ("pw1ValidForSeveralSignatures", .bool(pw1ValidForSeveralSignatures)),
            ("signatureCounter", .number(String(signatureCounter))),
            ("signatureAttributes", hex(signatureAttributes)),
            ("signatureFingerprint", hex(signatureFingerprint)),
            ("signatureGenerationTime", hex(signatureGenerationTime)),
            ("cardholderName", hex(cardholderName)),
            ("terminated", .bool(terminated)),
            ("insecure", .bool(insecure)),
            ("keyImported", .bool(keyImported)),
        ]
        switch key {
        case .none: members.append(("key", .null))
        case .encrypted(let keystore): members.append(("key", .object(["keystore": keystore])))
        case .plain(let raw): members.append(("key", .object(["insecurePlainHex": hex(raw)])))
        }
        return .object(JSONObject(members))
    }

}

extension SoftCardState {
    public init(json: JSONValue) throws(SoftTokenError) {
        func string(_ k: String) throws(SoftTokenError) -> String {
            guard let s = json[k]?.stringValue else { throw .invalidState("missing \(k)") }
            return s
        }
        func bytes(_ v: JSONValue?, _ k: String) throws(SoftTokenError) -> [UInt8] {
            guard let s = v?.stringValue, let b = try? [UInt8](hex: s) else { throw .invalidState("bad hex in \(k)") }
            return b
        }
        func int(_ k: String) throws(SoftTokenError) -> Int {
            guard case .number(let text)? = json[k], let n = Int(text), n >= 0 else { throw .invalidState("bad number \(k)") }
            return n
        }
        func bool(_ k: String) throws(SoftTokenError) -> Bool {
            guard case .bool(let b)? = json[k] else { throw .invalidState("bad flag \(k)") }
            return b
        }
        func pin(_ k: String) throws(SoftTokenError) -> StoredPIN? {
            guard let v = json[k] else { throw .invalidState("missing \(k)") }
            if v == .null { return nil }
            guard case .number(let text)? = v["length"], let n = Int(text) else { throw .invalidState("bad \(k).length") }
            let salt = try bytes(v["salt"], k), hash = try bytes(v["sha256"], k)
            guard hash.count == 32 else { throw .invalidState("bad \(k).sha256") }
            return StoredPIN(salt: salt, hash: hash, length: n)
        }
        guard try string("format") == "paratii-softcard" else { throw .invalidState("not a paratii softcard state file") }
        guard try int("version") == Self.formatVersion else { throw .invalidState("unsupported state version") }
        serial = try bytes(json["serial"], "serial")
        guard serial.count == 4 else { throw .invalidState("serial must be 4 bytes") }
        manufacturer = UInt16(truncatingIfNeeded: try int("manufacturer"))
        guard let p1 = try pin("pw1"), let p3 = try pin("pw3") else { throw .invalidState("missing PINs") }
        pw1 = p1; pw3 = p3
        resettingCode = try pin("resettingCode")
        pw1TriesLeft = min(try int("pw1TriesLeft"), Self.maxTries)
        pw3TriesLeft = min(try int("pw3TriesLeft"), Self.maxTries)
        resettingCodeTriesLeft = min(try int("resettingCodeTriesLeft"), Self.maxTries)
        pw1ValidForSeveralSignatures = try bool("pw1ValidForSeveralSignatures")
        signatureCounter = try int("signatureCounter")
        signatureAttributes = try bytes(json["signatureAttributes"], "signatureAttributes")
        signatureFingerprint = try bytes(json["signatureFingerprint"], "signatureFingerprint")
        signatureGenerationTime = try bytes(json["signatureGenerationTime"], "signatureGenerationTime")
        cardholderName = try bytes(json["cardholderName"], "cardholderName")
        terminated = try bool("terminated")
        insecure = try bool("insecure")
        // Absent in state files written before key import existed: those keys were generated.
        keyImported = json["keyImported"] == nil ? false : try bool("keyImported")
        switch json["key"] {
        case .null?: key = nil
        case .object(let o)?:
            if let ks = o["keystore"] {
                key = .encrypted(ks)
            } else if let raw = o["insecurePlainHex"] {
                key = .plain(try bytes(raw, "key"))
            } else {
                throw .invalidState("bad key")
            }
        default: throw .invalidState("missing key")
        }
        guard signatureFingerprint.count == 20, signatureGenerationTime.count == 4 else { throw .invalidState("bad key metadata") }
    }

    public static func load(path: String) throws(SoftTokenError) -> SoftCardState {
        let bytes: [UInt8]
        do { bytes = try SecureFile.read(path) } catch { throw .io("cannot read \(path): \(error)") }
        let json: JSONValue
        do { json = try JSONValue.parse(bytes) } catch { throw .invalidState("\(path): \(error)") }
        return try SoftCardState(json: json)
    }

    /// Atomic write (temp file, fsync, rename; mode 0600): a crash leaves the old or the new state.
    public func save(path: String) throws(SoftTokenError) {
        do { try SecureFile.write(Array(json.prettyText.utf8), to: path) } catch { throw .io("cannot write \(path): \(error)") }
    }
}

public enum SoftTokenError: Error, Equatable, Sendable, CustomStringConvertible {
    case invalidState(String)
    case io(String)
    case wrongPassphrase
    case passphraseRequired
    case connectionFailed(String)

    public var description: String {
        switch self {
        case .invalidState(let why): "invalid softcard state: \(why)"
        case .io(let why): why
        case .wrongPassphrase: "wrong passphrase for the softcard's key"
        case .passphraseRequired: "this softcard's key is encrypted: a passphrase is required"
        case .connectionFailed(let why): "vpcd connection failed: \(why)"
        }
    }
}
