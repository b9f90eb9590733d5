import Ethereum
import Foundation
import OpenPGPCard
@testable import SoftToken
import Testing

/// Pure tests (no pcscd): the BER-TLV parser on hostile input, APDU encoding, and the software
/// token's status words driven APDU by APDU.
@Suite struct TLVParserTests {
    @Test func parsesNestedApplicationData() throws {
        let inner = TLV(tag: 0x4F, value: ApplicationIdentifier.rid + [3, 4, 0xFF, 0, 1, 2, 3, 4, 0, 0]).encoded
            + TLV(tag: 0x73, value: TLV(tag: 0xC4, value: [0, 0x7F, 0x7F, 0x7F, 3, 0, 2]).encoded
                + TLV(tag: 0xC1, value: AlgorithmAttributes.secp256k1.bytes).encoded).encoded
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

    @Test(arguments: [
        [0x6E],                         // tag without length
        [0x6E, 0x05, 0x01],             // value overruns
        [0x7F],                         // truncated multi-byte tag
        [0x6E, 0x84, 0, 0, 0, 1, 0],    // length field too long
        [0x6E, 0x80, 0x00, 0x00],       // indefinite length
        [0x5F, 0xFF, 0xFF, 0xFF, 0x01], // tag too long
    ] as [[UInt8]])
    func refusesMalformedInput(_ bytes: [UInt8]) {
        #expect(throws: TLV.ParseError.self) { try TLV.parse(bytes) }
    }

    @Test func randomGarbageNeverCrashes() {
        var rng = SystemRandomNumberGenerator()
        for _ in 0..<2000 {
            let n = Int.random(in: 0..<64, using: &rng)
            let bytes = (0..<n).map { _ in UInt8.random(in: 0...255, using: &rng) }
            _ = try? TLV.parse(bytes)
            _ = try? ApplicationData(bytes: bytes)
            _ = try? OpenPGPCard.parsePublicKey(bytes)
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

    @Test func transcriptsMaskPINs() {
        let verify = CommandAPDU(ins: 0x20, p1: 0, p2: 0x81, data: Array("123456".utf8))
        #expect(APDUDescription.redactedHex(verify) == "00 20 00 81 06 ** ** ** ** ** **")
        let change = CommandAPDU(ins: 0x24, p1: 0, p2: 0x83, data: Array("1234567887654321".utf8))
        #expect(!APDUDescription.redactedHex(change).contains("31"))
    }
}

@Suite struct SoftCardStatusWordTests {
    func freshCard() throws -> SoftCard {
        let card = try SoftCard(state: .factoryFresh(serial: [1, 2, 3, 4], insecure: true), statePath: nil, passphrase: nil)
        card.returnHighSHalfTheTime = false
        #expect(sw(card.process([0x00, 0xA4, 0x04, 0x00, 0x06] + ApplicationIdentifier.rid)) == 0x9000)
        return card
    }

    func sw(_ response: [UInt8]) -> UInt16 { UInt16(response[response.count - 2]) << 8 | UInt16(response[response.count - 1]) }
    func apdu(_ c: CommandAPDU) -> [UInt8] { c.encoded() }

    @Test func statusWordsForBadCommands() throws {
        let card = try freshCard()
        #expect(sw(card.process([0x00, 0xFE, 0x00, 0x00])) == 0x6D00)                      // INS not supported
        #expect(sw(card.process([0x80, 0xCA, 0x00, 0x6E, 0x00])) == 0x6E00)                // CLA not supported
        #expect(sw(card.process([0x00, 0xCA, 0x00, 0x6E, 0x02, 0x01])) == 0x6700)          // Lc says 2, 1 byte follows
        #expect(sw(card.process(apdu(.init(ins: 0xCA, p1: 0, p2: 0x6E, data: [1], le: 256)))) == 0x6700) // GET DATA with a body
        #expect(sw(card.process(apdu(.init(ins: 0x20, p1: 0, p2: 0x84, data: [1, 2, 3, 4, 5, 6])))) == 0x6A86)
        #expect(sw(card.process(apdu(.init(ins: 0x47, p1: 0x82, p2: 0, data: [0xB6, 0], le: 256)))) == 0x6B00)
        #expect(sw(card.process(apdu(.init(ins: 0xCA, p1: 0x01, p2: 0x01, le: 256)))) == 0x6A88)  // DO not found
        #expect(sw(card.process(apdu(.init(ins: 0x47, p1: 0x81, p2: 0, data: [0xB6, 0], le: 256)))) == 0x6A88) // no key yet
        #expect(sw(card.process(apdu(.init(ins: 0x2A, p1: 0x9E, p2: 0x9A, data: [UInt8](repeating: 0, count: 32), le: 256)))) == 0x6982)
        #expect(sw(card.process(apdu(.init(ins: 0xDA, p1: 0, p2: 0xC1, data: AlgorithmAttributes.secp256k1.bytes)))) == 0x6982) // PW3 needed
        #expect(sw(card.process(apdu(.init(ins: 0xE6, p1: 0, p2: 0)))) == 0x6982)
        #expect(sw(card.process(apdu(.init(ins: 0x20, p1: 0, p2: 0x83, data: Array("12345678".utf8))))) == 0x9000)
        #expect(sw(card.process(apdu(.init(ins: 0xDA, p1: 0, p2: 0xC1, data: [0x01, 0x08, 0x00, 0x00, 0x20, 0x00])))) == 0x6A80) // RSA refused
        #expect(sw(card.process(apdu(.init(ins: 0xDA, p1: 0, p2: 0xC7, data: [1, 2, 3])))) == 0x6700)
        // Short Le too small: 6Cxx with the exact length.
        let short = card.process(apdu(.init(ins: 0xCA, p1: 0, p2: 0xC4, le: 2)))
        #expect(short == [0x6C, 0x07])
    }

    @Test func pinCountersBlockAndReset() throws {
        let card = try freshCard()
        let wrong = apdu(.init(ins: 0x20, p1: 0, p2: 0x81, data: Array("654321".utf8)))
        #expect(sw(card.process(wrong)) == 0x63C2)
        #expect(sw(card.process(wrong)) == 0x63C1)
        #expect(sw(card.process(apdu(.init(ins: 0x20, p1: 0, p2: 0x81)))) == 0x63C1)        // status query spends nothing
        #expect(sw(card.process(wrong)) == 0x6983)
        #expect(sw(card.process(apdu(.init(ins: 0x20, p1: 0, p2: 0x81, data: Array("123456".utf8))))) == 0x6983) // blocked
        #expect(card.state.pw1TriesLeft == 0)
        #expect(sw(card.process(apdu(.init(ins: 0x2C, p1: 0x02, p2: 0x81, data: Array("111111".utf8))))) == 0x6982) // needs PW3
        #expect(sw(card.process(apdu(.init(ins: 0x20, p1: 0, p2: 0x83, data: Array("12345678".utf8))))) == 0x9000)
        #expect(sw(card.process(apdu(.init(ins: 0x2C, p1: 0x02, p2: 0x81, data: Array("111111".utf8))))) == 0x9000)
        #expect(card.state.pw1TriesLeft == 3)
        #expect(sw(card.process(apdu(.init(ins: 0x20, p1: 0, p2: 0x81, data: Array("111111".utf8))))) == 0x9000)
    }

    @Test func pw1IsValidForOneSignatureUnlessConfigured() throws {
        let card = try freshCard()
        let admin = apdu(.init(ins: 0x20, p1: 0, p2: 0x83, data: Array("12345678".utf8)))
        #expect(sw(card.process(admin)) == 0x9000)
        let generated = card.process(apdu(.init(ins: 0x47, p1: 0x80, p2: 0, data: [0xB6, 0], le: 256)))
        #expect(sw(generated) == 0x9000)
        let key = try OpenPGPCard.parsePublicKey(Array(generated.dropLast(2)))
        let verify = apdu(.init(ins: 0x20, p1: 0, p2: 0x81, data: Array("123456".utf8)))
        let digest = Keccak256.hash([9])
        let sign = apdu(.init(ins: 0x2A, p1: 0x9E, p2: 0x9A, data: digest, le: 256))
        #expect(sw(card.process(verify)) == 0x9000)
        let first = card.process(sign)
        #expect(sw(first) == 0x9000)
        #expect(try Signature(rawRS: first.dropLast(2), digest: digest, signer: key).recoverAddress(digest: digest) == key.address)
        #expect(sw(card.process(sign)) == 0x6982)          // spent
        #expect(sw(card.process(apdu(.init(ins: 0x2A, p1: 0x9E, p2: 0x9A, data: [1, 2, 3], le: 256)))) == 0x6982)
        // "PW1 valid for several signatures" (C4 first byte 01).
        #expect(sw(card.process(apdu(.init(ins: 0xDA, p1: 0, p2: 0xC4, data: [0x01])))) == 0x9000)
        #expect(sw(card.process(verify)) == 0x9000)
        #expect(sw(card.process(sign)) == 0x9000)
        #expect(sw(card.process(sign)) == 0x9000)
        #expect(sw(card.process(apdu(.init(ins: 0x2A, p1: 0x9E, p2: 0x9A, data: [1, 2, 3], le: 256)))) == 0x6700)
        #expect(card.state.signatureCounter == 3)
        // Extended-length encoding is accepted.
        let extended = card.process(CommandAPDU(ins: 0xCA, p1: 0, p2: 0x7A, le: 1000).encoded(extended: true))
        #expect(Array(extended.suffix(2)) == [0x90, 0x00])
        #expect(Array(extended.dropLast(2)) == [0x7A, 0x05, 0x93, 0x03, 0x00, 0x00, 0x03])
    }

    @Test func highSTwinIsNormalisedByTheDriverPath() throws {
        let key = PrivateKey.generate()
        let digest = Keccak256.hash([1])
        let low = try key.sign(digest: digest)
        let high = low.r + SoftCard.negateModN(low.s)
        #expect(throws: EthereumError.self) { try Signature(bytes: high + [27]) }
        let fixed = try Signature(rawRS: high, digest: digest, signer: key.publicKey)
        #expect(fixed == low)
    }

    @Test func stateRoundTripsAndEncryptsTheKey() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("paratii-softcard-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let path = dir.appendingPathComponent("card.json").path
        try SoftCardState.factoryFresh(serial: [9, 9, 9, 9], insecure: false).save(path: path)
        let card = try SoftCard(path: path, passphrase: "correct horse", kdf: .light)
        #expect(sw(card.process([0x00, 0xA4, 0x04, 0x00, 0x06] + ApplicationIdentifier.rid)) == 0x9000)
        #expect(sw(card.process(apdu(.init(ins: 0x20, p1: 0, p2: 0x83, data: Array("12345678".utf8))))) == 0x9000)
        #expect(sw(card.process(apdu(.init(ins: 0x47, p1: 0x80, p2: 0, data: [0xB6, 0], le: 256)))) == 0x9000)
        let text = try String(contentsOfFile: path, encoding: .utf8)
        #expect(text.contains("\"keystore\""))
        #expect(!text.contains("insecurePlainHex"))
        #expect(!text.contains("12345678"))
        let reopened = try SoftCard(path: path, passphrase: "correct horse")
        #expect(reopened.publicKey == card.publicKey)
        #expect(throws: SoftTokenError.wrongPassphrase) { try SoftCard(path: path, passphrase: "wrong") }
        #expect(throws: SoftTokenError.passphraseRequired) { try SoftCard(path: path, passphrase: nil) }
    }
}
