import BigInt
import Foundation
import Testing

@testable import Ethereum

@Suite struct TransactionTests {
    static func transaction(from vector: JSONValue) throws -> Transaction {
        // The vectors carry both decimal and _hex forms; feed the JSON-RPC names only.
        var object = JSONObject()
        for (key, value) in vector["tx"]!.objectValue!.members where !key.hasSuffix("_hex") {
            object[key] = value
        }
        if object["type"] == nil { object["type"] = .number(String(vector["type"]!.int)) }
        return try Transaction(json: .object(object))
    }

    @Test func vectorsSignExactly() throws {
        let vectors = Vectors.list("transactions", "vectors")
        #expect(vectors.count >= 10)
        for vector in vectors {
            let name = vector["name"]!.string
            let tx = try Self.transaction(from: vector)
            #expect(tx.signingPayload.hexString == vector["signing_payload"]!.string, "\(name)")
            #expect(tx.signingHash.hexString == vector["signing_hash"]!.string, "\(name)")
            let key = try PrivateKey(hex: vector["private_key"]!.string)
            let signed = try tx.sign(with: key, allowUnprotected: true)
            #expect(signed.raw.hexString == vector["raw"]!.string, "\(name)")
            #expect(signed.hash.hexString == vector["tx_hash"]!.string, "\(name)")
            #expect(signed.from.checksummed == vector["sender"]!.string, "\(name)")
        }
    }

    @Test func vectorsDecodeBack() throws {
        for vector in Vectors.list("transactions", "vectors") {
            let name = vector["name"]!.string
            let decoded = try SignedTransaction.decode(vector["raw"]!.hexBytes)
            #expect(decoded.transaction == (try Self.transaction(from: vector)), "\(name)")
            #expect(decoded.from.checksummed == vector["sender"]!.string, "\(name)")
            #expect(decoded.hash.hexString == vector["tx_hash"]!.string, "\(name)")
            // The decoded JSON form is accepted back by the signer and gives the same payload.
            var json = decoded.transaction.json
            json["from"] = nil
            #expect(try Transaction(json: .object(json)) == decoded.transaction, "\(name)")
        }
    }

    @Test func unprotectedLegacyIsNotSignedByDefault() throws {
        let vector = Vectors.list("transactions", "vectors").first { $0["name"]!.string == "legacy_unprotected_pre_eip155" }!
        let tx = try Self.transaction(from: vector)
        #expect(throws: EthereumError.self) { try tx.sign(with: PrivateKey.generate()) }
    }

    @Test func malformedRawTransactionsAreRefused() throws {
        let good = Vectors.list("transactions", "vectors")[0]["raw"]!.hexBytes
        _ = try SignedTransaction.decode(good)  // the vector itself decodes
        let cases: [(String, [UInt8])] = [
            ("empty", []),
            ("unknown type", [0x05] + good),
            ("truncated", Array(good.dropLast())),
            ("trailing byte", good + [0x00]),
            ("type 2 prefix on a legacy body", [0x02] + good),
            ("garbage", [0xff, 0xff, 0xff]),
        ]
        for (name, raw) in cases {
            #expect(throws: EthereumError.self, "\(name)") { try SignedTransaction.decode(raw) }
        }
        // Flip s to n - s: a valid curve signature, but EIP-2 forbids it.
        var fields = try RLP.decode(good).listValue!
        let s = BigUInt(Data(fields[8].bytesValue!))
        let n = BigUInt(Data(try [UInt8](hex: "fffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141")))
        fields[8] = .bytes((n - s).minimalBytes)
        let v = fields[6].bytesValue![0]
        fields[6] = .bytes([v ^ 1])
        // Refused for its s, not for anything else the flip might have broken.
        #expect(throws: EthereumError.invalidTransaction("invalid signature: high s value (EIP-2): malleable signature refused")) {
            try SignedTransaction.decode(RLP.list(fields).encoded())
        }
    }

    /// Found by the raw-transaction fuzzer in CI: a signed type-2 transaction whose priority fee exceeds its
    /// max fee decoded, though the JSON reader (and EIP-1559) refuse it; decoding now refuses it too.
    @Test func priorityFeeAboveMaxFeeIsRefusedWhenDecoding() throws {
        let raw = try [UInt8](
            hex:
                "02f86c83aa36a78087843b9aca0083030d4080809660 0a600c600039600a6000f3602a60005260206000f3c080a0d3ba4db22bee0d603d8f5d95ac5a2db78824588368c94126f0b7f2552c465f26a04a615e7cd102ce4e5d766db91981b4dfef65f40ff8f4808c744f3152863a62a7"
                .replacingOccurrences(of: " ", with: ""))
        #expect(throws: EthereumError.invalidTransaction("maxPriorityFeePerGas exceeds maxFeePerGas")) { try SignedTransaction.decode(raw) }
    }

    @Test func jsonInputIsStrict() {
        let bad = [
            #"{"type":2,"chainId":1,"nonce":0,"gas":21000,"to":"0x3535353535353535353535353535353535353535","value":0,"data":"0x","gasPrice":1}"#,
            #"{"type":0,"chainId":1,"nonce":0,"gas":21000,"value":0,"gasPrice":1,"extra":1}"#,
            #"{"type":3,"chainId":1,"nonce":0,"gas":21000,"value":0}"#,
            #"{"type":0,"chainId":1,"nonce":-1,"gas":21000,"value":0,"gasPrice":1}"#,
            #"{"type":0,"chainId":1,"nonce":0,"gas":21000,"value":0,"gasPrice":1,"to":"0x35"}"#,
            #"{"type":2,"chainId":1,"nonce":0,"gas":21000,"value":0,"maxFeePerGas":1,"maxPriorityFeePerGas":2}"#,
            #"{"type":2,"chainId":1,"nonce":0,"gas":21000,"value":0,"maxFeePerGas":2,"maxPriorityFeePerGas":1,"accessList":[{"address":"0x3535353535353535353535353535353535353535","storageKeys":["0x01"]}]}"#,
        ]
        for text in bad {
            #expect(throws: EthereumError.self, "\(text)") { try Transaction(json: JSONValue.parse(text)) }
        }
    }
}

@Suite struct ERC20Tests {
    @Test func calldata() throws {
        #expect(ERC20.transferSelector.hexString == Vectors.section("erc20", "selector").string)
        let selectors = Vectors.section("erc20", "other_selectors")
        #expect(ERC20.approveSelector.hexString == selectors["approve(address,uint256)"]!.string)
        for vector in Vectors.list("erc20", "vectors") {
            let amount = BigUInt(vector["amount_dec"]!.string)!
            let data = ERC20.transfer(to: try Address(vector["to"]!.string), amount: amount)
            #expect(data.hexString == vector["calldata"]!.string)
            #expect(data.count == vector["len"]!.int)
            let approve = ERC20.approve(spender: try Address(vector["to"]!.string), amount: amount)
            #expect(approve.prefix(4) == ERC20.approveSelector[...] && approve.dropFirst(4) == data.dropFirst(4))
        }
    }
}
