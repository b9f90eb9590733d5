import Foundation
import Testing

@testable import Ethereum

/// Keccak256.swift's generated parts are what scripts/keccak-constants.py derives from FIPS 202.
@Suite struct KeccakConstantsTests {
    /// The round constants recomputed here from the rc(t) LFSR (FIPS 202 Algorithms 5 and 6).
    @Test func roundConstantsFollowTheLFSR() {
        func rc(_ t: Int) -> UInt64 {
            guard t % 255 != 0 else { return 1 }
            var r: UInt16 = 1
            for _ in 0..<(t % 255) {
                r <<= 1
                if r & 0x100 != 0 { r ^= 0x171 }
            }
            return UInt64(r & 1)
        }
        let derived = (0..<24).map { round in (0..<7).reduce(UInt64(0)) { $0 | rc($1 + 7 * round) << ((1 << $1) - 1) } }
        #expect(KeccakState.roundConstants == derived)
    }

    /// The script checks the unrolled round body too; it must agree with the committed source.
    @Test func generatorAgreesWithTheSource() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", root.appendingPathComponent("scripts/keccak-constants.py").path, "--check"]
        process.standardOutput = FileHandle.nullDevice
        try process.run()
        process.waitUntilExit()
        #expect(process.terminationStatus == 0, "scripts/keccak-constants.py --check failed: Keccak256.swift differs from FIPS 202")
    }
}
