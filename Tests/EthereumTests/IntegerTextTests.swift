import BigInt
import Testing

@testable import Ethereum

/// Decimal integers up to 19 digits take the UInt64 path; longer ones BigUInt's: both give what BigUInt's
/// own decimal conversion gives, on both sides of the boundary, and refusals stay refusals.
@Suite struct IntegerTextTests {
    @Test func decimalsAgreeAcrossTheFastPathsBoundary() {
        var generator = SystemRandomNumberGenerator()
        var texts = ["0", "7", "007", "9999999999999999999", "1000000000000000000", "18446744073709551615", "18446744073709551616"]
        for length in 1...80 {
            texts.append(String((0..<length).map { _ in "0123456789".randomElement(using: &generator)! }))
        }
        for text in texts {
            #expect(IntegerText.parse(text) == BigInt(BigUInt(text, radix: 10)!), "\(text)")
            #expect(IntegerText.parse("-" + text) == -BigInt(BigUInt(text, radix: 10)!), "-\(text)")
        }
        for text in ["", "-", "+1", "1a", " 1", "1 ", "1.0", "1e3", String(repeating: "9", count: 81), "٣"] {
            #expect(IntegerText.parse(text) == nil, "\(text)")
        }
        #expect(IntegerText.parseUnsigned(.string("18446744073709551615"), bits: 64) == BigUInt(UInt64.max))
        #expect(IntegerText.parseUnsigned(.string("18446744073709551616"), bits: 64) == nil)
    }
}
