import Ethereum
import Testing

/// Typed data built to exhaust the parser rather than to be signed; each found by replaying such inputs
/// through the fuzz harness's typed-data target (they exceed libFuzzer's default 4 KiB inputs).
@Suite struct HostileTypedDataTests {
    static func document(types: String, primary: String, message: String) -> String {
        #"{"types":{"EIP712Domain":[],"# + types + #"},"primaryType":""# + primary + #"","domain":{},"message":"# + message + "}"
    }

    /// `uint8[][]…[]` 300 000 deep overflowed the stack (AddressSanitizer: stack-overflow in EIP712Type(parsing:)).
    @Test func arrayTypesNestAtMostAsDeepAsJSON() throws {
        let deep = Self.document(
            types: #""M":[{"name":"a","type":"uint8"# + String(repeating: "[]", count: 300_000) + #""}]"#,
            primary: "M", message: #"{"a":[]}"#)
        #expect(throws: EthereumError.invalidTypedData("arrays nested deeper than 64 in a type")) { try TypedData(parsing: deep) }
        let deepest = Self.document(
            types: #""M":[{"name":"a","type":"uint8"# + String(repeating: "[]", count: 64) + #""}]"#,
            primary: "M", message: #"{"a":[]}"#)
        #expect(try TypedData(parsing: deepest).digest().count == 32)
    }

    /// 3000 structs each referencing the next (127 KB) kept the instrumented parser busy for over ten minutes: every
    /// type hash covers the rest of the chain.
    @Test func aLongChainOfStructsIsRefusedQuickly() throws {
        let chain = (0..<3000).map { #""A\#($0)":[{"name":"a","type":"\#($0 == 2999 ? "uint8" : "A\($0 + 1)")"}]"# }
        let text = Self.document(types: chain.joined(separator: ","), primary: "A0", message: #"{"a":1}"#)
        #expect(throws: EthereumError.invalidTypedData("more than 256 struct types")) { try TypedData(parsing: text) }
        // Within the count, long definitions are bounded by what their type hashes would cover.
        let name = String(repeating: "n", count: 8000)
        let wide = (0..<200).map { #""A\#($0)":[{"name":"\#(name)","type":"\#($0 == 199 ? "uint8" : "A\($0 + 1)")"}]"# }
        #expect(throws: EthereumError.invalidTypedData("type definitions expand past 1048576 bytes of encodeType")) {
            try TypedData(parsing: Self.document(types: wide.joined(separator: ","), primary: "A0", message: "{}"))
        }
    }
}
