import Testing

@testable import Ethereum

@Suite struct RLPTests {
    @Test func knownEncodings() throws {
        let cases: [(RLP, String)] = [
            (.bytes([]), "0x80"),
            (.bytes([0x00]), "0x00"),
            (.bytes([0x7f]), "0x7f"),
            (.bytes([0x80]), "0x8180"),
            (.bytes(Array("dog".utf8)), "0x83646f67"),
            (.list([.bytes(Array("cat".utf8)), .bytes(Array("dog".utf8))]), "0xc88363617483646f67"),
            (.list([]), "0xc0"),
            (.list([.list([]), .list([.list([])]), .list([.list([]), .list([.list([])])])]), "0xc7c0c1c0c3c0c1c0"),
            (
                .bytes(Array("Lorem ipsum dolor sit amet, consectetur adipisicing elit".utf8)),
                "0xb8384c6f72656d20697073756d20646f6c6f722073697420616d65742c20636f6e7365637465747572206164697069736963696e6720656c6974"
            ),
        ]
        for (item, hex) in cases {
            #expect(item.encoded().hexString == hex)
            #expect(try RLP.decode(try [UInt8](hex: hex)) == item)
        }
    }

    @Test func nonCanonicalAndTruncatedInputIsRefused() {
        for hex in [
            "0x8100", "0x817f", "0xb800", "0xb80100", "0xb90000", "0x83646f", "0xc883636174", "0xc0c0", "0x", "0xbf0000000000000000",
        ] {
            #expect(throws: EthereumError.self, "\(hex)") { try RLP.decode(try [UInt8](hex: hex)) }
        }
        let deep = [UInt8](repeating: 0xc1, count: 200) + [0xc0]
        #expect(throws: EthereumError.self) { try RLP.decode(deep) }
    }
}

@Suite struct JSONTests {
    @Test func keepsNumbersExactlyAndOrder() throws {
        let text =
            #"{"b":115792089237316195423570985008687907853269984665640564039457584007913129639935,"a":[true,false,null,"\u00e9\ud83d\ude00\n"]}"#
        let value = try JSONValue.parse(text)
        #expect(value["b"] == .number("115792089237316195423570985008687907853269984665640564039457584007913129639935"))
        #expect(value.objectValue!.keys == ["b", "a"])
        #expect(value["a"]!.arrayValue![3] == .string("é😀\n"))
        #expect(try JSONValue.parse(value.compactText) == value)
        #expect(try JSONValue.parse(value.prettyText) == value)
    }

    /// The compact writer copies strings that need no escape whole and escapes the rest, byte for byte as before.
    @Test func compactTextEscapesExactly() throws {
        let value = JSONValue.object([
            "plain": .string("0xAbC123"), "quote\"key": .string("a\"b\\c\nd\re\tf\u{01}g\u{1f}"), "é": .string("😀"),
            "list": .array([.number("1"), .bool(true), .null, .object([:]), .array([])]),
            "sub": .string(String("x0xAbCx".dropFirst().dropLast())),
        ])
        #expect(
            value.compactText
                == #"{"plain":"0xAbC123","quote\"key":"a\"b\\c\nd\re\tf\u0001g\u001f","é":"😀","list":[1,true,null,{},[]],"sub":"0xAbC"}"#)
        #expect(value.compactBytes == Array(value.compactText.utf8))
        #expect(try JSONValue.parse(value.compactText) == value)
        #expect([UInt8]([0x00, 0xab, 0xff]).hexString == "0x00abff")
        #expect([UInt8]([0x00, 0xab, 0xff])[1...].hexDigits == "abff")
        #expect(AnySequence([UInt8]([0x0f, 0xf0])).hexDigits == "0ff0")
        #expect([UInt8]().hexString == "0x")
    }

    @Test func refusesMalformed() {
        for text in [
            "", "{", "{\"a\":1,}", "[1,]", "01", "1.", "-", "\"\\x\"", "\"\\ud800\"", "{\"a\":1,\"a\":2}", "nul", "[1] x",
            "\"a\u{01}\"", String(repeating: "[", count: 100) + String(repeating: "]", count: 100),
        ] {
            #expect(throws: EthereumError.self, "\(text)") { try JSONValue.parse(text) }
        }
        #expect(throws: EthereumError.self) { try JSONValue.parse([0x22, 0xff, 0x22]) }
    }
}
