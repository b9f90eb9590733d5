import Ethereum
import Foundation
import OpenPGPCard
import Testing

@testable import SoftToken

/// The software token driven APDU by APDU (no pcscd): status words, PIN counters, DO C4's signature
/// PIN policy, the key at rest.
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
        #expect(sw(card.process([0x00, 0xFE, 0x00, 0x00])) == 0x6D00)  // INS not supported
        #expect(sw(card.process([0x80, 0xCA, 0x00, 0x6E, 0x00])) == 0x6E00)  // CLA not supported
        #expect(sw(card.process([0x00, 0xCA, 0x00, 0x6E, 0x02, 0x01])) == 0x6700)  // Lc says 2, 1 byte follows
        #expect(sw(card.process(apdu(.init(ins: 0xCA, p1: 0, p2: 0x6E, data: [1], le: 256)))) == 0x6700)  // GET DATA with a body
        #expect(sw(card.process(apdu(.init(ins: 0x20, p1: 0, p2: 0x84, data: [1, 2, 3, 4, 5, 6])))) == 0x6A86)
        #expect(sw(card.process(apdu(.init(ins: 0x47, p1: 0x82, p2: 0, data: [0xB6, 0], le: 256)))) == 0x6B00)
        #expect(sw(card.process(apdu(.init(ins: 0xCA, p1: 0x01, p2: 0x01, le: 256)))) == 0x6A88)  // DO not found
        #expect(sw(card.process(apdu(.init(ins: 0x47, p1: 0x81, p2: 0, data: [0xB6, 0], le: 256)))) == 0x6A88)  // no key yet
        #expect(sw(card.process(apdu(.init(ins: 0x2A, p1: 0x9E, p2: 0x9A, data: [UInt8](repeating: 0, count: 32), le: 256)))) == 0x6982)
        // PW3 needed
        #expect(sw(card.process(apdu(.init(ins: 0xDA, p1: 0, p2: 0xC1, data: AlgorithmAttributes.secp256k1.bytes)))) == 0x6982)
        #expect(sw(card.process(apdu(.init(ins: 0xE6, p1: 0, p2: 0)))) == 0x6982)
        #expect(sw(card.process(apdu(.init(ins: 0x20, p1: 0, p2: 0x83, data: Array("12345678".utf8))))) == 0x9000)
        // RSA refused
        #expect(sw(card.process(apdu(.init(ins: 0xDA, p1: 0, p2: 0xC1, data: [0x01, 0x08, 0x00, 0x00, 0x20, 0x00])))) == 0x6A80)
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
        #expect(sw(card.process(apdu(.init(ins: 0x20, p1: 0, p2: 0x81)))) == 0x63C1)  // status query spends nothing
        #expect(sw(card.process(wrong)) == 0x6983)
        #expect(sw(card.process(apdu(.init(ins: 0x20, p1: 0, p2: 0x81, data: Array("123456".utf8))))) == 0x6983)  // blocked
        #expect(card.state.pw1TriesLeft == 0)
        #expect(sw(card.process(apdu(.init(ins: 0x2C, p1: 0x02, p2: 0x81, data: Array("111111".utf8))))) == 0x6982)  // needs PW3
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
        #expect(sw(card.process(sign)) == 0x6982)  // spent
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

    /// DO C4 byte 1 as a card honours it: written with PUT DATA C4 (one byte, under PW3); 00 spends the
    /// verification on one PSO:CDS, 01 keeps it; VERIFY P1=FF resets it in either mode.
    @Test func signaturePINPolicyAndResetOfTheAccessStatus() throws {
        let card = try freshCard()
        let verify = apdu(.init(.verify, p1: 0x00, p2: 0x81, data: Array("123456".utf8)))
        let reset = apdu(.init(.verify, p1: 0xFF, p2: 0x81))
        let sign = apdu(.init(.performSecurityOperation, p1: 0x9E, p2: 0x9A, data: Keccak256.hash([7]), le: 256))
        let several = apdu(.init(.putData, object: DataObject.pwStatus, data: [0x01]))
        #expect(sw(card.process(several)) == StatusWord.securityStatusNotSatisfied)  // PW3 needed
        #expect(sw(card.process(apdu(.init(.verify, p1: 0x00, p2: 0x83, data: Array("12345678".utf8))))) == StatusWord.ok)
        #expect(
            sw(card.process(apdu(.init(.generateAsymmetricKeyPair, p1: 0x80, p2: 0x00, data: [0xB6, 0x00], le: 256)))) == StatusWord.ok)
        // Only byte 1 is writable, and only 00 or 01.
        #expect(
            sw(card.process(apdu(.init(.putData, object: DataObject.pwStatus, data: [0x01, 0x20, 0x20, 0x20])))) == StatusWord.wrongLength)
        #expect(sw(card.process(apdu(.init(.putData, object: DataObject.pwStatus, data: [0x02])))) == StatusWord.incorrectData)
        #expect(sw(card.process(several)) == StatusWord.ok)
        #expect(card.state.pw1ValidForSeveralSignatures)
        #expect(Array(card.process(apdu(.init(.getData, object: DataObject.pwStatus, le: 256))).prefix(1)) == [0x01])

        // 01: the verification stays for further signatures until VERIFY P1=FF.
        #expect(sw(card.process(verify)) == StatusWord.ok)
        #expect(sw(card.process(sign)) == StatusWord.ok)
        #expect(sw(card.process(sign)) == StatusWord.ok)
        #expect(sw(card.process(reset)) == StatusWord.ok)
        #expect(sw(card.process(sign)) == StatusWord.securityStatusNotSatisfied)
        #expect(sw(card.process(apdu(.init(.verify, p1: 0x00, p2: 0x81)))) == StatusWord.wrongPIN(triesLeft: 3))  // status: not verified
        #expect(sw(card.process(apdu(.init(.verify, p1: 0xFF, p2: 0x81, data: [1])))) == StatusWord.wrongLength)

        // 00: spent by one signature; a reset before signing leaves nothing to sign with.
        #expect(sw(card.process(apdu(.init(.putData, object: DataObject.pwStatus, data: [0x00])))) == StatusWord.ok)
        #expect(!card.state.pw1ValidForSeveralSignatures)
        #expect(sw(card.process(verify)) == StatusWord.ok)
        #expect(sw(card.process(sign)) == StatusWord.ok)
        #expect(sw(card.process(sign)) == StatusWord.securityStatusNotSatisfied)
        #expect(sw(card.process(verify)) == StatusWord.ok)
        #expect(sw(card.process(reset)) == StatusWord.ok)
        #expect(sw(card.process(sign)) == StatusWord.securityStatusNotSatisfied)
        // The admin PIN's access status resets the same way.
        #expect(sw(card.process(apdu(.init(.verify, p1: 0xFF, p2: 0x83)))) == StatusWord.ok)
        #expect(sw(card.process(several)) == StatusWord.securityStatusNotSatisfied)
        #expect(card.state.signatureCounter == 3)
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
