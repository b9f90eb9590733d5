import Ethereum
import Foundation
import OpenPGPCard
import SoftToken
import Testing

/// Key import (PUT DATA odd DB 3FFF, extended header list) from the driver into the soft card in
/// process: the card must then hold exactly the imported key. The same over the real pcscd and the
/// CLI is in HardwareTests (BackupCard).
@Suite struct KeyImportTests {
    let user = PIN("246810")
    let admin = PIN("13579246")
    static let words = "legal winner thank year wave sausage worth useful legal winner thank yellow"

    func softCard() throws -> SoftCard {
        try SoftCard(state: .factoryFresh(serial: [0x51, 0x6E, 0x00, 0x02], insecure: true), statePath: nil, passphrase: nil)
    }

    func derived() throws -> PrivateKey {
        try ExtendedPrivateKey.from(try Mnemonic(phrase: Self.words)).privateKey()
    }

    func sw(_ answer: [UInt8]) -> UInt16 { UInt16(answer[answer.count - 2]) << 8 | UInt16(answer[answer.count - 1]) }

    /// Raw APDUs as another PC/SC client would send them: SELECT, then optionally VERIFY PW3.
    func raw(_ card: SoftCard, admin pin: String? = nil, _ command: [UInt8]) -> UInt16 {
        _ = card.process(CommandAPDU(.select, p1: 0x04, p2: 0x00, data: ApplicationIdentifier.rid).encoded())
        if let pin { #expect(sw(card.process(CommandAPDU(.verify, p1: 0, p2: 0x83, data: Array(pin.utf8)).encoded())) == StatusWord.ok) }
        return sw(card.process(command))
    }

    func importAPDU(_ key: PrivateKey, tweak: (inout [UInt8]) -> Void = { _ in }) -> [UInt8] {
        var data: [UInt8] = []
        KeyImport.append(key, to: &data)
        tweak(&data)
        return CommandAPDU(.putDataOdd, p1: 0x3F, p2: 0xFF, data: data).encoded()
    }

    @Test func initializeImportingLeavesExactlyThatKeyOnTheCard() throws {
        let card = try softCard()
        let channel = SoftCardChannel(card)
        let driver = OpenPGPCard(channel: channel)
        let key = try derived()
        let held = try driver.initialize(userPIN: user, adminPIN: admin, importing: key)
        #expect(held == key.publicKey)
        #expect(card.publicKey == key.publicKey)
        #expect(card.state.keyImported)
        #expect(try driver.publicKey() == key.publicKey)
        let digest = Keccak256.hash(Array("born off card".utf8))
        let signature = try driver.sign(digest: digest, pin: user)
        #expect(try signature.recoverAddress(digest: digest) == key.address)
        #expect(signature.isValid(digest: digest, publicKey: key.publicKey))
        // Same creation-time metadata as a generated key: fingerprint and time are recorded.
        #expect(card.state.signatureFingerprint != [UInt8](repeating: 0, count: 20))
        // DO DE: key status 02 (imported), as a real card reports it.
        #expect(Array(card.process(CommandAPDU(.getData, object: DataObject.keyInformation, le: 256).encoded()).prefix(2)) == [0x01, 0x02])

        // The command on the wire: 4D { B6 00, 7F48 { 92 20 99 41 }, 5F48 61 { d ‖ 04‖X‖Y } }, masked in any log.
        let put = try #require(channel.sent.first { $0.instruction == .putDataOdd })
        #expect(put.p1p2 == 0x3FFF)
        #expect(Array(put.data.prefix(14)) == [0x4D, 0x6D, 0xB6, 0x00, 0x7F, 0x48, 0x04, 0x92, 0x20, 0x99, 0x41, 0x5F, 0x48, 0x61])
        #expect(put.data.count == 0x6D + 2)
        let parts = try KeyImport.parse(put.data)
        #expect(parts.privateKey == key.withUnsafeSecret { Array($0) })
        #expect(parts.publicKey == key.publicKey.uncompressed)
        #expect(APDUDescription.redactedHex(put) == "00 DB 3F FF 6F " + Array(repeating: "**", count: 0x6F).joined(separator: " "))
        #expect(APDUDescription.carriesSecret(put))
    }

    @Test func importReplacesAGeneratedKeyAndResetsTheCounter() throws {
        let card = try softCard()
        let driver = OpenPGPCard(channel: SoftCardChannel(card))
        let generated = try driver.initialize(userPIN: user, adminPIN: admin)
        _ = try driver.sign(digest: Keccak256.hash([1]), pin: user)
        #expect(!card.state.keyImported)
        let key = try derived()
        #expect(try driver.importSigningKey(key, adminPIN: admin) == key.publicKey)
        #expect(generated != key.publicKey)
        #expect(card.publicKey == key.publicKey)
        #expect(try driver.signatureCounter() == 0)
        #expect(throws: OpenPGPCardError.wrongPIN(triesLeft: 2)) { try driver.importSigningKey(key, adminPIN: PIN("00000000")) }
    }

    @Test func theSoftCardRefusesBadImportsAndKeepsWhatItHad() throws {
        let key = try derived()
        let other = PrivateKey.generate()
        let admin = "12345678"
        let card = try softCard()
        // Without PW3.
        #expect(raw(card, importAPDU(key)) == StatusWord.securityStatusNotSatisfied)
        // Wrong P1P2.
        #expect(
            raw(card, admin: admin, CommandAPDU(.putDataOdd, p1: 0x3F, p2: 0xFE, data: [0x4D, 0x00]).encoded()) == StatusWord.incorrectP1P2)
        // A public point that is not the private key's.
        let mismatched = importAPDU(key) { data in data.replaceSubrange((data.count - 65)..., with: other.publicKey.uncompressed) }
        #expect(raw(card, admin: admin, mismatched) == StatusWord.incorrectData)
        // A 5F48 shorter than its template says; a scalar of 0 (not a key); another slot's CRT (B8: decryption).
        #expect(raw(card, admin: admin, importAPDU(key) { $0.removeLast() }) == StatusWord.incorrectData)
        #expect(
            raw(card, admin: admin, importAPDU(key) { $0.replaceSubrange(14..<46, with: [UInt8](repeating: 0, count: 32)) })
                == StatusWord.incorrectData)
        #expect(raw(card, admin: admin, importAPDU(key) { $0[2] = 0xB8 }) == StatusWord.incorrectData)
        #expect(card.publicKey == nil)
        #expect(card.state.key == nil)
        // And the good one, for contrast.
        #expect(raw(card, admin: admin, importAPDU(key)) == StatusWord.ok)
        #expect(card.publicKey == key.publicKey)
    }

    /// A card that does not announce key import (C0 byte 1 without bit 6), as older firmware: the soft
    /// card's application data with that bit cleared on the way back.
    final class NoImportCapability: SmartCardChannel, @unchecked Sendable {
        let inner: SoftCardChannel
        init(_ inner: SoftCardChannel) { self.inner = inner }
        func transmit(_ command: CommandAPDU) throws -> ResponseAPDU {
            var response = try inner.transmit(command)
            if command.instruction == .getData, command.p1p2 == DataObject.applicationRelatedData,
                let at = response.data.indices.first(where: { response.data[$0] == 0xC0 && response.data[$0 + 1] == 0x0A })
            {
                response.data[at + 2] &= ~CardParameter.keyImportCapability
            }
            return response
        }
        func withTransaction<T>(_ body: () throws -> T) throws -> T { try body() }
        var connectionGeneration: Int { 0 }
    }

    @Test func aCardWithoutKeyImportIsRefusedBeforeTheKeyIsSent() throws {
        let card = try softCard()
        let channel = SoftCardChannel(card)
        let driver = OpenPGPCard(channel: NoImportCapability(channel))
        #expect(throws: OpenPGPCardError.keyImportNotSupported) {
            try driver.initialize(userPIN: user, adminPIN: admin, importing: try derived())
        }
        #expect(!channel.sent.contains { $0.instruction == .putDataOdd })
        #expect(card.publicKey == nil)
        // The soft card itself announces it.
        let data = try #require(try driver.applicationData().extendedCapabilities)
        #expect(data[0] & CardParameter.keyImportCapability == 0)
        #expect(try OpenPGPCard(channel: SoftCardChannel(card)).applicationData().extendedCapabilities?[0] == 0x74)
    }

    @Test func theParserRefusesListsThatLie() {
        let cases: [[UInt8]] = [
            [],
            [0x4D, 0x02, 0xB6, 0x00],
            [0x4D, 0x09, 0xB6, 0x00, 0x7F, 0x48, 0x02, 0x92, 0x20, 0x5F, 0x48],  // 5F48 truncated
            [0x4D, 0x0A, 0xB6, 0x00, 0x7F, 0x48, 0x01, 0x92, 0x5F, 0x48, 0x00],  // header without a length
            [0x4D, 0x0B, 0xB6, 0x00, 0x7F, 0x48, 0x02, 0x92, 0x20, 0x5F, 0x48, 0x00],  // 32 promised, 0 given
            [0x4D, 0x0C, 0xB6, 0x00, 0x7F, 0x48, 0x02, 0x92, 0x01, 0x5F, 0x48, 0x01, 0x07],  // 1-byte scalar
            [0x4D, 0x0C, 0xB6, 0x00, 0x7F, 0x48, 0x02, 0x91, 0x01, 0x5F, 0x48, 0x01, 0x03],  // an RSA exponent
        ]
        for bytes in cases {
            #expect(throws: KeyImport.Refusal.self, "\(bytes)") { try KeyImport.parse(bytes) }
        }
    }
}
