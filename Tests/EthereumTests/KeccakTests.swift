import Testing

@testable import Ethereum

@Suite struct KeccakTests {
    @Test func publishedVectors() throws {
        let vectors = Vectors.list("keccak256", "vectors")
        #expect(vectors.count >= 10)
        for vector in vectors {
            let input: [UInt8]
            if let hex = vector["input_hex"] {
                input = hex.hexBytes
            } else if vector["description"]!.string.contains("i & 0xff") {
                input = (0..<vector["len"]!.int).map { UInt8(truncatingIfNeeded: $0) }
            } else {
                #expect(vector["description"]!.string.contains("zero bytes"))
                input = [UInt8](repeating: 0, count: vector["len"]!.int)
            }
            #expect(Keccak256.hash(input).hexString == vector["digest"]!.string, "\(vector["name"]!.string)")
        }
    }

    @Test func streamingMatchesOneShotAtEveryBoundary() {
        let data = (0..<1000).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ 7) }
        for split in [0, 1, 67, 135, 136, 137, 271, 272, 273, 999, 1000] {
            for chunk in [1, 7, 136, 500] {
                var hasher = Keccak256()
                hasher.update(data[0..<split])
                var offset = split
                while offset < data.count {
                    let end = min(offset + chunk, data.count)
                    hasher.update(data[offset..<end])
                    offset = end
                }
                #expect(hasher.finalize() == Keccak256.hash(data), "split \(split) chunk \(chunk)")
            }
        }
    }

    @Test func isNotSHA3() {
        #expect(Keccak256.hash([]).hexString == "0xc5d2460186f7233c927e7db2dcc703c0e500b653ca82273b7bfad8045d85a470")
        #expect(Keccak256.hash([]).hexString != Vectors.section("keccak256", "sha3_256_of_empty_for_contrast").string)
    }
}
