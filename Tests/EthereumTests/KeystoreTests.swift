import Foundation
import Testing

@testable import Ethereum

@Suite struct KeystoreTests {
    static func bytes(_ keystore: JSONValue) -> [UInt8] { Array(keystore.compactText.utf8) }

    @Test(arguments: Vectors.list("keystores", "official") + Vectors.list("keystores", "fresh_eth_keyfile"))
    func decryptsVector(_ vector: JSONValue) throws {
        let name = vector["name"]!.string
        let file = Self.bytes(vector["keystore"]!)
        if name.contains("r1_p8") {
            // n = 2^18 with r = 1 breaks RFC 7914's N < 2^(16r); like OpenSSL we refuse it, clearly.
            #expect(throws: EthereumError.self) { try Keystore.decrypt(file, password: vector["password"]!.string) }
            return
        }
        let key = try Keystore.decrypt(file, password: vector["password"]!.string)
        #expect(key.address.checksummed == vector["address"]!.string, "\(name)")
        #expect(key.withUnsafeSecret { Array($0) }.hexString == vector["private_key"]!.string, "\(name)")
        if let wrong = vector["wrong_password"]?.stringValue {
            #expect(throws: EthereumError.wrongPassword, "\(name)") { try Keystore.decrypt(file, password: wrong) }
        }
    }

    @Test func tamperedFilesAreRefused() {
        let tampered = Vectors.list("keystores", "tampered")
        #expect(tampered.count >= 4)
        for vector in tampered {
            #expect(vector["expect"]!.string == "mac mismatch")
            #expect(throws: EthereumError.wrongPassword, "\(vector["description"]!.string)") {
                try Keystore.decrypt(Self.bytes(vector["keystore"]!), password: vector["password"]!.string)
            }
        }
    }

    @Test func publishedButWrongVectorIsRefused() {
        for vector in Vectors.list("keystores", "published_but_wrong") {
            #expect(throws: EthereumError.wrongPassword) {
                try Keystore.decrypt(Self.bytes(vector["keystore"]!), password: vector["password"]!.string)
            }
        }
    }

    @Test func writesAtomically0600AndNeverOverwrites() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("ks-\(UUID())").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = dir + "/key.json"
        let key = PrivateKey.generate()
        try Keystore.create(key, at: path, password: "pässword", kdf: .light)
        let mode = try FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as! Int
        #expect(mode == 0o600)
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir) == ["key.json"])
        let reopened = try Keystore.open(path, password: "pässword")
        #expect(reopened.address == key.address)
        #expect(throws: EthereumError.wrongPassword) { try Keystore.open(path, password: "password") }
        let before = try Data(contentsOf: URL(fileURLWithPath: path))
        #expect(throws: EthereumError.self) { try Keystore.create(PrivateKey.generate(), at: path, password: "x", kdf: .light) }
        #expect(try Data(contentsOf: URL(fileURLWithPath: path)) == before)
        let text = String(decoding: before, as: UTF8.self)
        #expect(!text.contains(key.withUnsafeSecret { Array($0) }.hexDigits))
        let json = try JSONValue.parse(text)
        #expect(json["crypto"]?["kdf"] == .string("scrypt"))
        #expect(json["crypto"]?["kdfparams"]?["n"] == .number("4096"))
    }

    @Test func defaultParametersAreTheStandardOnes() throws {
        let json = try Keystore.encrypt(PrivateKey.generate(), password: "p")
        let params = json["crypto"]!["kdfparams"]!
        #expect(params["n"] == .number("262144") && params["r"] == .number("8") && params["p"] == .number("1"))
    }

    @Test func hostileParametersAreRefusedBeforeWork() throws {
        let base = try Keystore.encrypt(PrivateKey.generate(), password: "p", kdf: .light)
        func with(_ edit: (inout JSONObject) -> Void) -> [UInt8] {
            var crypto = base["crypto"]!.objectValue!
            edit(&crypto)
            var root = base.objectValue!
            root["crypto"] = .object(crypto)
            return Array(JSONValue.object(root).compactText.utf8)
        }
        func params(_ n: String, _ r: String, _ p: String) -> [UInt8] {
            with { crypto in
                var kdf = crypto["kdfparams"]!.objectValue!
                kdf["n"] = .number(n); kdf["r"] = .number(r); kdf["p"] = .number(p)
                crypto["kdfparams"] = .object(kdf)
            }
        }
        for file in [
            params("1073741824", "8", "1"), params("3", "8", "1"), params("4096", "0", "1"),
            with { $0["cipher"] = .string("aes-256-gcm") }, with { $0["kdf"] = .string("argon2") },
            with { $0["mac"] = .string("0x12") }, Array("{}".utf8), Array("not json".utf8),
        ] {
            #expect(throws: EthereumError.self) { try Keystore.decrypt(file, password: "p") }
        }
    }
}
