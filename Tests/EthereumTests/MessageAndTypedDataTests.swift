import Testing

@testable import Ethereum

@Suite struct PersonalSignTests {
    @Test func vectors() throws {
        let vectors = Vectors.list("personal_sign", "vectors")
        #expect(vectors.count >= 10)
        for vector in vectors {
            let message = vector["message_hex"]!.hexBytes
            let key = try PrivateKey(hex: vector["private_key"]!.string)
            #expect(PersonalMessage.prefixed(message).hexString == vector["prefixed_message_hex"]!.string)
            #expect(PersonalMessage.hash(message).hexString == vector["hash"]!.string)
            let signature = try PersonalMessage.sign(message, with: key)
            #expect(signature.bytes.hexString == vector["signature"]!.string)
            #expect(Int(signature.v) == vector["v"]!.int)
            let parsed = try Signature(hex: vector["signature"]!.string)
            #expect(try PersonalMessage.recover(message, signature: parsed).checksummed == vector["address"]!.string)
        }
    }

    @Test func highSIsRefused() {
        let variant = Vectors.section("personal_sign", "high_s_variant")
        #expect(throws: EthereumError.self) { try Signature(hex: variant["signature"]!.string) }
    }
}

@Suite struct TypedDataTests {
    @Test func vectorsWithEveryIntermediate() throws {
        let vectors = Vectors.list("eip712", "vectors")
        #expect(vectors.count >= 4)
        for vector in vectors {
            let name = vector["name"]!.string
            let typed = try TypedData(json: vector["typed_data"]!)
            for (typeName, expected) in vector["types"]!.objectValue!.members {
                #expect(try typed.encodeType(typeName) == expected["encodeType"]!.string, "\(name) \(typeName)")
                #expect(try typed.typeHash(typeName).hexString == expected["typeHash"]!.string, "\(name) \(typeName)")
            }
            #expect(try typed.domainSeparator().hexString == vector["domainSeparator"]!.string, "\(name)")
            #expect(try typed.hashStruct(typed.primaryType, typed.message).hexString == vector["hashStruct"]!.string, "\(name)")
            let words = try typed.encodeData(typed.primaryType, typed.message)
            for (i, word) in vector["primary_encodeData_words"]!.arrayValue!.enumerated() {
                #expect(Array(words[32 * (i + 1)..<32 * (i + 2)]).hexString == word["word"]!.string, "\(name) word \(i)")
            }
            let digest = try typed.digest()
            #expect(digest.hexString == vector["digest"]!.string, "\(name)")
            let key = try PrivateKey(hex: vector["private_key"]!.string)
            #expect(try key.sign(digest: digest).bytes.hexString == vector["signature"]!.string, "\(name)")
            #expect(try Signature(hex: vector["signature"]!.string).recoverAddress(digest: digest).checksummed == vector["signer"]!.string)
        }
    }

    @Test func publishedNegativeVectorsAreRefused() throws {
        let negatives = Vectors.list("eip712", "negative")
        #expect(negatives.count >= 7)
        for vector in negatives {
            #expect(throws: EthereumError.self, "\(vector["description"]!.string)") {
                try TypedData(json: vector["typed_data"]!).digest()
            }
        }
    }

    static let mail = Vectors.list("eip712", "vectors")[0]["typed_data"]!

    static func mutated(_ edit: (inout JSONObject) -> Void) -> JSONValue {
        var root = mail.objectValue!
        edit(&root)
        return .object(root)
    }

    /// One input per malformed class the core must refuse with a clear error.
    static let malformed: [(String, String)] = [
        (
            "unknown type",
            #"{"types":{"EIP712Domain":[{"name":"name","type":"string"}],"A":[{"name":"x","type":"uint257"}]},"primaryType":"A","domain":{"name":"n"},"message":{"x":1}}"#
        ),
        (
            "unknown struct",
            #"{"types":{"EIP712Domain":[{"name":"name","type":"string"}],"A":[{"name":"x","type":"B"}]},"primaryType":"A","domain":{"name":"n"},"message":{"x":{}}}"#
        ),
        (
            "missing field",
            #"{"types":{"EIP712Domain":[{"name":"name","type":"string"}],"A":[{"name":"x","type":"uint8"}]},"primaryType":"A","domain":{"name":"n"},"message":{}}"#
        ),
        (
            "undeclared field",
            #"{"types":{"EIP712Domain":[{"name":"name","type":"string"}],"A":[{"name":"x","type":"uint8"}]},"primaryType":"A","domain":{"name":"n"},"message":{"x":1,"y":2}}"#
        ),
        (
            "uint out of range",
            #"{"types":{"EIP712Domain":[{"name":"name","type":"string"}],"A":[{"name":"x","type":"uint16"}]},"primaryType":"A","domain":{"name":"n"},"message":{"x":"65536"}}"#
        ),
        (
            "negative uint",
            #"{"types":{"EIP712Domain":[{"name":"name","type":"string"}],"A":[{"name":"x","type":"uint256"}]},"primaryType":"A","domain":{"name":"n"},"message":{"x":-1}}"#
        ),
        (
            "int out of range",
            #"{"types":{"EIP712Domain":[{"name":"name","type":"string"}],"A":[{"name":"x","type":"int16"}]},"primaryType":"A","domain":{"name":"n"},"message":{"x":"32768"}}"#
        ),
        (
            "fractional number",
            #"{"types":{"EIP712Domain":[{"name":"name","type":"string"}],"A":[{"name":"x","type":"uint256"}]},"primaryType":"A","domain":{"name":"n"},"message":{"x":1.5}}"#
        ),
        (
            "exponent number",
            #"{"types":{"EIP712Domain":[{"name":"name","type":"string"}],"A":[{"name":"x","type":"uint256"}]},"primaryType":"A","domain":{"name":"n"},"message":{"x":1e18}}"#
        ),
        (
            "bad hex bytes",
            #"{"types":{"EIP712Domain":[{"name":"name","type":"string"}],"A":[{"name":"x","type":"bytes"}]},"primaryType":"A","domain":{"name":"n"},"message":{"x":"0xzz"}}"#
        ),
        (
            "odd hex bytes",
            #"{"types":{"EIP712Domain":[{"name":"name","type":"string"}],"A":[{"name":"x","type":"bytes"}]},"primaryType":"A","domain":{"name":"n"},"message":{"x":"0xabc"}}"#
        ),
        (
            "short bytes32",
            #"{"types":{"EIP712Domain":[{"name":"name","type":"string"}],"A":[{"name":"x","type":"bytes32"}]},"primaryType":"A","domain":{"name":"n"},"message":{"x":"0x01"}}"#
        ),
        (
            "bad address checksum",
            #"{"types":{"EIP712Domain":[{"name":"name","type":"string"}],"A":[{"name":"x","type":"address"}]},"primaryType":"A","domain":{"name":"n"},"message":{"x":"0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAeD"}}"#
        ),
        (
            "bool as string",
            #"{"types":{"EIP712Domain":[{"name":"name","type":"string"}],"A":[{"name":"x","type":"bool"}]},"primaryType":"A","domain":{"name":"n"},"message":{"x":"true"}}"#
        ),
        (
            "fixed array wrong length",
            #"{"types":{"EIP712Domain":[{"name":"name","type":"string"}],"A":[{"name":"x","type":"uint8[2]"}]},"primaryType":"A","domain":{"name":"n"},"message":{"x":[1,2,3]}}"#
        ),
        (
            "cyclic type",
            #"{"types":{"EIP712Domain":[{"name":"name","type":"string"}],"A":[{"name":"b","type":"B"}],"B":[{"name":"a","type":"A"}]},"primaryType":"A","domain":{"name":"n"},"message":{"b":{"a":{}}}}"#
        ),
        (
            "self-containing type",
            #"{"types":{"EIP712Domain":[{"name":"name","type":"string"}],"A":[{"name":"a","type":"A[1]"}]},"primaryType":"A","domain":{"name":"n"},"message":{"a":[]}}"#
        ),
        (
            "duplicate field",
            #"{"types":{"EIP712Domain":[{"name":"name","type":"string"}],"A":[{"name":"x","type":"uint8"},{"name":"x","type":"uint8"}]},"primaryType":"A","domain":{"name":"n"},"message":{"x":1}}"#
        ),
        (
            "duplicate JSON key",
            #"{"types":{"EIP712Domain":[{"name":"name","type":"string"}],"A":[{"name":"x","type":"uint8"}]},"primaryType":"A","domain":{"name":"n"},"message":{"x":1,"x":2}}"#
        ),
        ("missing EIP712Domain", #"{"types":{"A":[{"name":"x","type":"uint8"}]},"primaryType":"A","domain":{},"message":{"x":1}}"#),
        ("undefined primaryType", #"{"types":{"EIP712Domain":[]},"primaryType":"Z","domain":{},"message":{}}"#),
        ("truncated JSON", #"{"types":{"EIP712Domain":[{"name":"name","type":"string"}]"#),
        (
            "array size zero",
            #"{"types":{"EIP712Domain":[],"A":[{"name":"x","type":"uint8[0]"}]},"primaryType":"A","domain":{},"message":{"x":[]}}"#
        ),
        ("struct shadows atomic", #"{"types":{"EIP712Domain":[],"uint8":[]},"primaryType":"EIP712Domain","domain":{},"message":{}}"#),
    ]

    @Test(arguments: malformed)
    func malformedInputIsRefused(_ testCase: (String, String)) {
        #expect(throws: EthereumError.self, "\(testCase.0)") { try TypedData(parsing: testCase.1).digest() }
    }

    @Test func recursiveReferencesThroughDynamicArraysAreFine() throws {
        let text =
            #"{"types":{"EIP712Domain":[{"name":"name","type":"string"}],"Node":[{"name":"value","type":"int8"},{"name":"children","type":"Node[]"}]},"primaryType":"Node","domain":{"name":"tree"},"message":{"value":-1,"children":[{"value":2,"children":[]},{"value":"0x7f","children":[{"value":"-128","children":[]}]}]}}"#
        let typed = try TypedData(parsing: text)
        #expect(try typed.encodeType("Node") == "Node(int8 value,Node[] children)")
        #expect(try typed.digest().count == 32)
    }

    @Test func numbersAsNumbersDecimalAndHexAgree() throws {
        func digest(_ x: String) throws -> [UInt8] {
            try TypedData(
                parsing:
                    #"{"types":{"EIP712Domain":[],"A":[{"name":"x","type":"uint256"}]},"primaryType":"A","domain":{},"message":{"x":\#(x)}}"#
            ).digest()
        }
        let reference = try digest("1000000000000000000")
        #expect(try digest("\"1000000000000000000\"") == reference)
        #expect(try digest("\"0xde0b6b3a7640000\"") == reference)
        #expect(try digest("\"1000000000000000001\"") != reference)
    }
}
