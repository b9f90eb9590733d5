import Doctor
import Foundation
import Testing
import TokenHub

/// The known-token table: the bundled copy is udev/known-tokens.json, parses, and every entry is well formed.
struct TokenTableTests {
    static var repositoryRoot: URL {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    }

    @Test func bundledCopyIsTheUdevTable() throws {
        let source = try Data(contentsOf: Self.repositoryRoot.appendingPathComponent("udev/known-tokens.json"))
        let copy = try Data(contentsOf: Self.repositoryRoot.appendingPathComponent("Sources/TokenHub/Resources/known-tokens.json"))
        #expect(
            source == copy,
            "Sources/TokenHub/Resources/known-tokens.json differs from udev/known-tokens.json: cp udev/known-tokens.json Sources/TokenHub/Resources/"
        )
    }

    @Test func tableParsesAndEveryEntryIsWellFormed() throws {
        let table = try TokenTable.bundled()
        #expect(table.tokens.count >= 10)
        var seen = Set<String>()
        for token in table.tokens {
            #expect(!token.name.isEmpty)
            #expect(token.vendorId.count == 4 && token.productIds.allSatisfy { $0.count == 4 })
            if token.openpgp { #expect(token.interface != .hidOnly, "\(token.name)") }
            if let since = token.secp256k1.sinceFirmware {
                #expect(FirmwareVersion(since) != nil, "\(token.name): \(since)")
                #expect(token.secp256k1.supported, "\(token.name): sinceFirmware without support")
            }
            for pid in token.productIds { seen.insert("\(token.vendorId):\(pid)") }
        }
        for id in ["1050:0407", "1050:0402", "20a0:42b2", "20a0:4211", "234b:0000"] { #expect(seen.contains(id), "\(id) missing") }
    }

    @Test func generatedRulesCoverEveryOpenPGPEntry() throws {
        let rules = try String(contentsOf: Self.repositoryRoot.appendingPathComponent("udev/70-paratii-tokens.rules"), encoding: .utf8)
        let table = try TokenTable.bundled()
        for token in table.tokens where token.openpgp {
            for pid in token.productIds {
                #expect(rules.contains("ATTR{idVendor}==\"\(token.vendorId)\", ATTR{idProduct}==\"\(pid)\""), "\(token.vendorId):\(pid)")
            }
        }
    }

    @Test func malformedTablesAreRefused() {
        let bad = [
            #"{"schema": 2, "tokens": []}"#,
            #"{"schema": 1, "tokens": []}"#,
            #"{"schema": 1, "tokens": [{"name": "x", "vendorId": "10500", "productIds": ["0001"], "interface": "ccid", "openpgp": true, "secp256k1": {"supported": true, "sinceFirmware": null}, "notes": ""}]}"#,
            #"{"schema": 1, "tokens": [{"name": "x", "vendorId": "1050", "productIds": ["0001"], "interface": "hid-only", "openpgp": true, "secp256k1": {"supported": true, "sinceFirmware": null}, "notes": ""}]}"#,
            #"{"schema": 1, "tokens": [{"name": "x", "vendorId": "1050", "productIds": ["0001"], "interface": "ccid", "openpgp": true, "secp256k1": {"supported": true, "sinceFirmware": "5.x"}, "notes": ""}]}"#,
        ]
        for json in bad {
            #expect(throws: TokenHubError.self) { try TokenTable(json: Data(json.utf8)) }
        }
    }

    @Test func firmwareVersionsCompareByKnownParts() throws {
        let v523 = try #require(FirmwareVersion("5.2.3"))
        #expect(FirmwareVersion("5.4.3")?.isAtLeast(v523) == true)
        #expect(FirmwareVersion("5.2.3")?.isAtLeast(v523) == true)
        #expect(FirmwareVersion("4.3.7")?.isAtLeast(v523) == false)
        #expect(FirmwareVersion("5.10")?.isAtLeast(v523) == true)
        // Nitrokey 3's bcdDevice has no patch level: 1.8 cannot tell 1.8.0 from 1.8.2.
        #expect(FirmwareVersion("1.8")?.isAtLeast(FirmwareVersion("1.8.2")!) == nil)
        #expect(FirmwareVersion("1.7")?.isAtLeast(FirmwareVersion("1.8.2")!) == false)
        #expect(FirmwareVersion("1..2") == nil)
        #expect(FirmwareVersion("") == nil)
    }
}
