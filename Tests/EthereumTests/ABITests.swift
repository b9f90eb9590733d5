import BigInt
import Ethereum
import Foundation
import Testing

/// The Solidity ABI specification's own examples, byte for byte, and strict decoding of hostile data.
@Suite struct ABITests {
    func words(_ hex: String) throws -> [UInt8] { try [UInt8](hex: hex.filter { !$0.isWhitespace }) }

    @Test func specExampleStaticArguments() throws {
        // baz(uint32 69, bool true)
        let data = try ABI.call("baz(uint32,bool)", [.uint(69), .bool(true)])
        #expect(
            data
                == (try words(
                    """
                    cdcd77c0
                    0000000000000000000000000000000000000000000000000000000000000045
                    0000000000000000000000000000000000000000000000000000000000000001
                    """)))
    }

    @Test func specExampleDynamicArguments() throws {
        // sam(bytes "dave", bool true, uint256[] [1, 2, 3])
        let data = try ABI.call(
            "sam(bytes,bool,uint256[])", [.bytes(Array("dave".utf8)), .bool(true), .array([.uint(1), .uint(2), .uint(3)])])
        #expect(
            data
                == (try words(
                    """
                    a5643bf2
                    0000000000000000000000000000000000000000000000000000000000000060
                    0000000000000000000000000000000000000000000000000000000000000001
                    00000000000000000000000000000000000000000000000000000000000000a0
                    0000000000000000000000000000000000000000000000000000000000000004
                    6461766500000000000000000000000000000000000000000000000000000000
                    0000000000000000000000000000000000000000000000000000000000000003
                    0000000000000000000000000000000000000000000000000000000000000001
                    0000000000000000000000000000000000000000000000000000000000000002
                    0000000000000000000000000000000000000000000000000000000000000003
                    """)))
    }

    @Test func specExampleMixed() throws {
        // f(uint256 0x123, uint32[] [0x456, 0x789], bytes10 "1234567890", bytes "Hello, world!")
        let data = try ABI.call(
            "f(uint256,uint32[],bytes10,bytes)",
            [.uint(0x123), .array([.uint(0x456), .uint(0x789)]), .bytes(Array("1234567890".utf8)), .bytes(Array("Hello, world!".utf8))])
        #expect(
            data
                == (try words(
                    """
                    8be65246
                    0000000000000000000000000000000000000000000000000000000000000123
                    0000000000000000000000000000000000000000000000000000000000000080
                    3132333435363738393000000000000000000000000000000000000000000000
                    00000000000000000000000000000000000000000000000000000000000000e0
                    0000000000000000000000000000000000000000000000000000000000000002
                    0000000000000000000000000000000000000000000000000000000000000456
                    0000000000000000000000000000000000000000000000000000000000000789
                    000000000000000000000000000000000000000000000000000000000000000d
                    48656c6c6f2c20776f726c642100000000000000000000000000000000000000
                    """)))
        let types = try [ABIType("uint256"), ABIType("uint32[]"), ABIType("bytes10"), ABIType("bytes")]
        #expect(
            try ABI.decode(Array(data.dropFirst(4)), as: types)
                == [
                    .uint(0x123), .array([.uint(0x456), .uint(0x789)]), .bytes(Array("1234567890".utf8)),
                    .bytes(Array("Hello, world!".utf8)),
                ])
    }

    @Test func specExampleNestedDynamicArrays() throws {
        // g(uint256[][] [[1, 2], [3]], string[] ["one", "two", "three"])
        let data = try ABI.call(
            "g(uint256[][],string[])",
            [.array([.array([.uint(1), .uint(2)]), .array([.uint(3)])]), .array([.string("one"), .string("two"), .string("three")])])
        #expect(data.count == 4 + 32 * 20)
        let word = { (i: Int) in BigUInt(Data(data[(4 + 32 * i)..<(4 + 32 * (i + 1))])) }
        // The spec's offsets: the two arguments at 0x40 and 0x140; [1, 2] and [3] at 0x40 and 0xa0 after
        // their count; "one", "two", "three" at 0x60, 0xa0 and 0xe0 after theirs.
        #expect([word(0), word(1), word(3), word(4), word(11), word(12), word(13)] == [0x40, 0x140, 0x40, 0xa0, 0x60, 0xa0, 0xe0])
        let types = try [ABIType("uint256[][]"), ABIType("string[]")]
        #expect(
            try ABI.decode(Array(data.dropFirst(4)), as: types)
                == [
                    .array([.array([.uint(1), .uint(2)]), .array([.uint(3)])]), .array([.string("one"), .string("two"), .string("three")]),
                ])
    }

    @Test func tuplesAndSignedIntegersRoundTrip() throws {
        let type = try ABIType("(address,int16,bytes32,(bool,string)[2])")
        #expect(type.description == "(address,int16,bytes32,(bool,string)[2])")
        let value: ABIValue = .tuple([
            .address(try Address("0x00000000000000000000000000000000000000bb")), .int(-300), .bytes([UInt8](repeating: 7, count: 32)),
            .array([.tuple([.bool(true), .string("a")]), .tuple([.bool(false), .string("")])]),
        ])
        let encoded = try ABI.encode([value], as: [type])
        #expect(try ABI.decode(encoded, as: [type]) == [value])
    }

    @Test func hostileDataIsRefused() throws {
        let uint8 = try ABIType("uint8")
        #expect(throws: EthereumError.self) {
            try ABI.decode(ABI.encode([.uint(255)], as: [.uint(bits: 256)]).map { $0 } + [], as: [uint8, uint8])
        }
        #expect(throws: EthereumError.self) { try ABI.decode(try words(String(repeating: "00", count: 30) + "0100"), as: [uint8]) }
        // An array claiming 2^32 elements in a few bytes, an offset past the end, a bool of 2.
        #expect(throws: EthereumError.self) {
            try ABI.decode(
                try words(String(repeating: "0", count: 62) + "20" + String(repeating: "0", count: 56) + "ffffffff"),
                as: [try ABIType("uint256[]")])
        }
        #expect(throws: EthereumError.self) { try ABI.decode(try words(String(repeating: "0", count: 62) + "ff"), as: [.bytes]) }
        #expect(throws: EthereumError.self) { try ABI.decode(try words(String(repeating: "0", count: 62) + "02"), as: [.bool]) }
        #expect(throws: EthereumError.self) { try ABI.encode([.uint(256)], as: [uint8]) }
        #expect(throws: EthereumError.self) { try ABI.encode([.int(128)], as: [try ABIType("int8")]) }
        for bad in ["uint", "uint7", "uint264", "bytes0", "bytes33", "int08", "(uint256", "uint256[0]", "address[x]", ""] {
            #expect(throws: EthereumError.self, "\(bad)") { try ABIType(bad) }
        }
    }
}
