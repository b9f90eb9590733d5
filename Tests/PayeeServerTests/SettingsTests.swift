import BigInt
import Delegation
import Ethereum
import Foundation
import LoopbackHTTP
import Testing

@testable import PayeeServer

@Suite struct SettingsTests {
    let payee = "0x00000000000000000000000000000000000000bb"

    func parse(_ text: String, chain: Configuration = Configuration()) throws -> PayeeSettings {
        try PayeeSettings(try JSONValue.parse(text), chain: chain)
    }

    @Test func thePayeeSectionSetsPriceTokenAndAddress() throws {
        let settings = try parse(#"{"address": "\#(payee)", "token": "ETH", "price": "0.0001", "maxTimeoutSeconds": 30}"#)
        #expect(settings.price == BigUInt(100_000_000_000_000) && settings.token == .zero && settings.maxTimeoutSeconds == 30)
        #expect(settings.payee == (try Address(payee)) && settings.network == "eip155:1")
        // A 6-decimal token prices in its own decimals.
        var chain = Configuration(chainId: 5)
        chain.tokens = [.init(address: try Address("0x00000000000000000000000000000000000000dd"), symbol: "USDC", decimals: 6)]
        let usdc = try parse(#"{"address": "\#(payee)", "token": "USDC", "price": "0.01"}"#, chain: chain)
        #expect(usdc.price == 10_000 && usdc.network == "eip155:5")
    }

    @Test func badSettingsAreRefusedWithTheirReason() {
        let bad = [
            (#"{"address": "\#(payee)", "price": "0.0001", "colour": "red"}"#, "unknown key"),
            (#"{"address": "0x12", "price": "0.0001"}"#, "address"),
            (#"{"address": "\#(payee)"}"#, "price"),
            (#"{"address": "\#(payee)", "price": "0"}"#, "above zero"),
            (#"{"address": "\#(payee)", "price": "-1"}"#, "price"),
            (#"{"address": "\#(payee)", "price": "0.0001", "token": "PTI"}"#, "PTI"),
            (#"{"address": "\#(payee)", "price": "0.0001", "maxTimeoutSeconds": 0}"#, "maxTimeoutSeconds"),
            (#"["not an object"]"#, "object"),
        ]
        for (text, words) in bad {
            do {
                _ = try parse(text)
                Issue.record("accepted \(text)")
            } catch {
                #expect("\(error)".contains(words), "\(text): \(error)")
            }
        }
    }

    @Test func aConfigurationFileWithServiceSectionsStillLoadsForEveryCommand() throws {
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("paratii-config-\(UUID().uuidString).json").path
        defer { try? FileManager.default.removeItem(atPath: file) }
        try Data(
            #"{"chainId": 7, "bridge": {"bodyLimit": 1024}, "wallet": {}, "payee": {"address": "\#(payee)", "price": "0.5"}}"#.utf8
        ).write(to: URL(fileURLWithPath: file))
        #expect(try Configuration.load(file).chainId == 7)
        let settings = try PayeeSettings.load(file)
        #expect(settings.chain.chainId == 7 && settings.price == BigUInt(5) * BigUInt(10).power(17))
        try Data(#"{"chainId": 7}"#.utf8).write(to: URL(fileURLWithPath: file))
        #expect(throws: PayeeServerError.self) { try PayeeSettings.load(file) }
    }

    @Test func listenAddressesAreLoopbackOnly() throws {
        #expect(try LoopbackHost.parseListen("127.0.0.1:0", who: "x").get().port == 0)
        #expect(try LoopbackHost.parseListen("[::1]:8080", who: "x").get().host == "::1")
        for bad in ["0.0.0.0:80", "192.168.1.2:8080", "example.com:80", "127.0.0.1", "127.0.0.1:70000"] {
            #expect(throws: ListenAddressError.self, "\(bad)") { try LoopbackHost.parseListen(bad, who: "x").get() }
        }
    }
}
