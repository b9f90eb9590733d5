import Foundation
import Testing

@testable import Ethereum

/// Strings through the parser's and the writer's fast paths (runs without escapes copied whole), against
/// Foundation's JSONSerialization as the independent implementation.
@Suite struct JSONStringTests {
    @Test func stringsRoundTripAndAgreeWithFoundation() throws {
        var generator = SystemRandomNumberGenerator()
        let alphabet: [String] = ["a", "Z", "0", " ", "\"", "\\", "/", "\n", "\r", "\t", "\u{01}", "\u{1F}", "é", "€", "𝄞", "\u{7F}"]
        for _ in 0..<500 {
            let string = (0..<Int.random(in: 0...24, using: &generator)).map { _ in alphabet.randomElement(using: &generator)! }.joined()
            let text = JSONValue.array([.string(string)]).compactText
            #expect(try JSONValue.parse(text) == .array([.string(string)]))
            let foundation = try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String]
            #expect(foundation == [string], "\(text)")
        }
        // Escapes Foundation writes (and a run before and after them) parse to the same string.
        let escaped = #"["run\n\u00e9\/\ud834\udd1e\"tail", "plain"]"#
        #expect(try JSONValue.parse(escaped) == .array([.string("run\né/𝄞\"tail"), .string("plain")]))
        #expect(JSONValue.string("a\u{1F}b").compactText == #""a\u001fb""#)
        #expect(JSONValue.array([.string("x")]).compactBytes == Array(#"["x"]"#.utf8))
    }

    @Test func badStringsAreRefusedWhereTheyEnd() {
        #expect(throws: EthereumError.invalidJSON("string is not valid UTF-8 at byte 5")) {
            try JSONValue.parse([0x22, 0x61, 0xFF, 0x62, 0x22])
        }
        #expect(throws: EthereumError.invalidJSON("string is not valid UTF-8 at byte 7")) {
            try JSONValue.parse([0x22, 0x5C, 0x6E, 0xC3, 0x28, 0x61, 0x22])
        }
        #expect(throws: EthereumError.invalidJSON("control character in string at byte 4")) { try JSONValue.parse(Array("\"ab\nc\"".utf8)) }
        #expect(throws: EthereumError.invalidJSON("unterminated string at byte 4")) { try JSONValue.parse(Array("\"abc".utf8)) }
        #expect(throws: EthereumError.invalidJSON("duplicate member \"a\" at byte 10")) {
            try JSONValue.parse(Array(#"{"a":1,"a":2}"#.utf8))
        }
    }
}
