import Ethereum
import Testing

/// Hex is written straight into the string from contiguous bytes; any other sequence is copied first.
/// Both must spell the same digits.
@Suite struct HexTests {
    @Test func contiguousAndOtherSequencesSpellTheSameDigits() throws {
        let bytes: [UInt8] = [0x00, 0x01, 0x7f, 0x80, 0xab, 0xff]
        #expect(bytes.hexString == "0x00017f80abff")
        #expect(bytes.hexDigits == "00017f80abff")
        #expect(bytes[2...].hexString == "0x7f80abff")
        #expect(AnySequence(bytes).hexString == "0x00017f80abff")
        #expect(bytes.lazy.map { $0 }.hexDigits == "00017f80abff")
        #expect([UInt8]().hexString == "0x")
        #expect([UInt8]().hexDigits == "")
        let all = (0...255).map { UInt8($0) }
        #expect(try [UInt8](hex: all.hexString) == all)
        #expect(all.hexDigits == all.map { String(format: "%02x", $0) }.joined())
    }
}
