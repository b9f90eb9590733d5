import Ethereum
import Foundation
import OpenPGPCard
import TestSupport
import Testing

/// Pure tests: the BER-TLV parser on hostile input, card data objects, APDU encoding.
@Suite struct TLVParserTests {
    @Test func parsesNestedApplicationData() throws {
        let inner =
            TLV(tag: 0x4F, value: ApplicationIdentifier.rid + [3, 4, 0xFF, 0, 1, 2, 3, 4, 0, 0]).encoded
            + TLV(
                tag: 0x73,
                value: TLV(tag: 0xC4, value: [0, 0x7F, 0x7F, 0x7F, 3, 0, 2]).encoded
                    + TLV(tag: 0xC1, value: AlgorithmAttributes.secp256k1.bytes).encoded
            ).encoded
        let data = try ApplicationData(bytes: TLV(tag: 0x6E, value: inner).encoded)
        #expect(data.aid.serialHex == "01020304")
        #expect(data.aid.version == "3.4")
        #expect(data.pinStatus.pw3TriesLeft == 2)
        #expect(data.signatureAlgorithm?.isSecp256k1 == true)
    }

    @Test func longFormLengthsAndMultiByteTags() throws {
        let value = [UInt8](repeating: 7, count: 300)
        let encoded = TLV(tag: 0x7F49, value: value).encoded
        #expect(Array(encoded.prefix(5)) == [0x7F, 0x49, 0x82, 0x01, 0x2C])
        let parsed = try TLV.parse(encoded)
        #expect(parsed == [TLV(tag: 0x7F49, value: value)])
    }

    @Test(
        arguments: [
            [0x6E],  // tag without length
            [0x6E, 0x05, 0x01],  // value overruns
            [0x7F],  // truncated multi-byte tag
            [0x6E, 0x84, 0, 0, 0, 1, 0],  // length field too long
            [0x6E, 0x80, 0x00, 0x00],  // indefinite length
            [0x5F, 0xFF, 0xFF, 0xFF, 0x01],  // tag too long
        ] as [[UInt8]])
    func refusesMalformedInput(_ bytes: [UInt8]) {
        #expect(throws: TLV.ParseError.self) { try TLV.parse(bytes) }
    }

    /// Seeded (printed; PARATII_TEST_SEED replays it). Random bytes either parse into objects that
    /// re-encode canonically (never longer than the input) and parse back to themselves, or are refused
    /// with a ParseError; a key template among random objects and padding still yields exactly its key.
    @Test func randomInputParsesConsistentlyOrIsRefused() throws {
        var rng = SeededGenerator.announced(for: "randomInputParsesConsistentlyOrIsRefused")
        var parsed = 0
        for _ in 0..<2000 {
            let n = Int.random(in: 0..<64, using: &rng)
            let bytes = (0..<n).map { _ in UInt8.random(in: 0...255, using: &rng) }
            if let objects = try? TLV.parse(bytes) {
                parsed += 1
                let encoded = objects.flatMap(\.encoded)
                #expect(encoded.count <= bytes.count, "\(bytes.hexString)")
                #expect(try TLV.parse(encoded) == objects, "\(bytes.hexString)")
            }
            _ = try? ApplicationData(bytes: bytes)
            _ = try? OpenPGPCard.parsePublicKey(bytes)
        }
        #expect(parsed > 0)
        for _ in 0..<50 {
            let key = PrivateKey.generate().publicKey
            var pieces = [TLV(tag: 0x7F49, value: TLV(tag: 0x86, value: key.uncompressed).encoded).encoded]
            for _ in 0..<Int.random(in: 0...4, using: &rng) {
                let tag = [0x4F, 0x5F2D, 0x93, 0xC1, 0x7F21].randomElement(using: &rng)!
                let length = Int.random(in: 0...300, using: &rng)
                pieces.append(TLV(tag: UInt32(tag), value: (0..<length).map { _ in UInt8.random(in: 0...255, using: &rng) }).encoded)
            }
            pieces.shuffle(using: &rng)
            let padded = pieces.flatMap {
                $0 + [UInt8](repeating: Bool.random(using: &rng) ? 0x00 : 0xFF, count: Int.random(in: 0...3, using: &rng))
            }
            #expect(try OpenPGPCard.parsePublicKey(padded).uncompressed == key.uncompressed)
        }
        // Truncations of a valid answer are refused, not trusted.
        let valid = TLV(tag: 0x7F49, value: TLV(tag: 0x86, value: PrivateKey.generate().publicKey.uncompressed).encoded).encoded
        #expect(throws: Never.self) { try OpenPGPCard.parsePublicKey(valid) }
        for cut in 1..<valid.count {
            #expect(throws: OpenPGPCardError.self) { try OpenPGPCard.parsePublicKey(Array(valid.prefix(cut))) }
        }
    }

    @Test func apduEncodingRoundTrips() throws {
        let cases: [CommandAPDU] = [
            CommandAPDU(ins: 0x44, p1: 0, p2: 0),
            CommandAPDU(ins: 0xCA, p1: 0, p2: 0x6E, le: 256),
            CommandAPDU(ins: 0x20, p1: 0, p2: 0x81, data: Array("123456".utf8)),
            CommandAPDU(ins: 0x2A, p1: 0x9E, p2: 0x9A, data: [UInt8](repeating: 1, count: 32), le: 256),
            CommandAPDU(ins: 0xDA, p1: 0, p2: 0x5B, data: [UInt8](repeating: 2, count: 300)),
            CommandAPDU(ins: 0xCA, p1: 0, p2: 0x6E, le: 1000),
            CommandAPDU(ins: 0xDA, p1: 0, p2: 0x5B, data: [UInt8](repeating: 2, count: 300), le: 65536),
        ]
        for c in cases { #expect(CommandAPDU(bytes: c.encoded()) == c) }
        #expect(CommandAPDU(bytes: [0x00, 0x20, 0x00, 0x81, 0x06, 0x31]) == nil)
    }

}

/// Security item 10: a trace never holds a PIN, a resetting code or key material.
@Suite struct APDUMaskingTests {
    static let pin = Array("123456".utf8), admin = Array("12345678".utf8), code = Array("87654321".utf8)

    @Test(
        arguments: [
            (CommandAPDU(.verify, p1: 0x00, p2: 0x81, data: pin), "00 20 00 81 06 ** ** ** ** ** **"),
            (CommandAPDU(.verify, p1: 0x00, p2: 0x83, data: admin), "00 20 00 83 08 ** ** ** ** ** ** ** **"),
            (
                CommandAPDU(.changeReferenceData, p1: 0x00, p2: 0x81, data: pin + Array("246810".utf8)),
                "00 24 00 81 0C" + String(repeating: " **", count: 12)
            ),
            (
                CommandAPDU(.changeReferenceData, p1: 0x00, p2: 0x83, data: admin + code),
                "00 24 00 83 10" + String(repeating: " **", count: 16)
            ),
            (CommandAPDU(.resetRetryCounter, p1: 0x02, p2: 0x81, data: pin), "00 2C 02 81 06 ** ** ** ** ** **"),
            (CommandAPDU(.resetRetryCounter, p1: 0x00, p2: 0x81, data: code + pin), "00 2C 00 81 0E" + String(repeating: " **", count: 14)),
            (CommandAPDU(.putData, object: DataObject.resettingCode, data: code), "00 DA 00 D3 08 ** ** ** ** ** ** ** **"),
            (CommandAPDU(.putData, object: 0x00F9, data: [0x81, 0x01, 0x03]), "00 DA 00 F9 03 ** ** **"),
            (CommandAPDU(.putDataOdd, p1: 0x3F, p2: 0xFF, data: [0x4D, 0x02, 0xB6, 0x00]), "00 DB 3F FF 04 ** ** ** **"),
            // Chained piece of a PIN-bearing command (CLA 10): masked on its own.
            (CommandAPDU(cla: 0x10, .verify, p1: 0x00, p2: 0x81, data: pin), "10 20 00 81 06 ** ** ** ** ** **"),
        ] as [(CommandAPDU, String)])
    func secretBearingCommandsAreMasked(_ command: CommandAPDU, _ expected: String) {
        #expect(APDUDescription.carriesSecret(command))
        #expect(APDUDescription.redactedHex(command) == expected)
        #expect(APDUDescription.describe(command).contains("masked"), "\(APDUDescription.describe(command))")
    }

    @Test(
        arguments: [
            (CommandAPDU(.verify, p1: 0xFF, p2: 0x81), "00 20 FF 81"),
            (CommandAPDU(.verify, p1: 0x00, p2: 0x81), "00 20 00 81"),
            (CommandAPDU(.putData, object: DataObject.pwStatus, data: [0x00]), "00 DA 00 C4 01 00"),
            (
                CommandAPDU(.putData, object: DataObject.signatureAlgorithm, data: AlgorithmAttributes.secp256k1.bytes),
                "00 DA 00 C1 06 13 2B 81 04 00 0A"
            ),
            (CommandAPDU(.getData, object: DataObject.pwStatus, le: 256), "00 CA 00 C4 00"),
        ] as [(CommandAPDU, String)])
    func otherCommandsAreShownAsSent(_ command: CommandAPDU, _ expected: String) {
        #expect(!APDUDescription.carriesSecret(command))
        #expect(APDUDescription.redactedHex(command) == expected)
    }

    @Test func theResetOfTheAccessStatusIsNamed() {
        #expect(
            APDUDescription.describe(CommandAPDU(.verify, p1: 0xFF, p2: 0x81))
                == "VERIFY P1=FF: reset the access status of PW1 for signing (81)")
    }

    /// The instruction names are the bytes the spec gives, and each byte has one name.
    @Test func instructionsAreNamedOnce() {
        #expect(
            Instruction.select.rawValue == 0xA4 && Instruction.verify.rawValue == 0x20
                && Instruction.performSecurityOperation.rawValue == 0x2A)
        #expect(Set(Instruction.allCases.map(\.rawValue)).count == Instruction.allCases.count)
        #expect(StatusWord.wrongPIN(triesLeft: 2) == 0x63C2)
        #expect(StatusWord.error(for: StatusWord.wrongPIN(triesLeft: 0)) == .pinBlocked)
        #expect(StatusWord.error(for: 0x63C1) == .wrongPIN(triesLeft: 1))
    }
}
