import Ethereum
import Foundation
import OpenPGPCard
import SoftToken
import Testing

/// The driver in process against the soft card (no pcscd): what it sends, what it leaves behind.
@Suite struct DriverOnSoftCardTests {
    let user = PIN("246810")
    let admin = PIN("13579246")

    func softCard(several: Bool = false) throws -> SoftCard {
        var state = SoftCardState.factoryFresh(serial: [0x51, 0x6E, 0x00, 0x01], insecure: true)
        state.pw1ValidForSeveralSignatures = several
        return try SoftCard(state: state, statePath: nil, passphrase: nil)
    }

    /// Another client on the same card: SELECT, then a raw PSO:CDS.
    func otherClientSigns(_ card: SoftCard) -> UInt16 {
        _ = card.process(CommandAPDU(.select, p1: 0x04, p2: 0x00, data: ApplicationIdentifier.rid).encoded())
        let answer = card.process([0x00, 0x2A, 0x9E, 0x9A, 0x20] + Keccak256.hash([0xEE]) + [0x00])
        return UInt16(answer[answer.count - 2]) << 8 | UInt16(answer[answer.count - 1])
    }

    @Test func initializeSetsOneSignaturePerVerifyAndTheNewPINs() throws {
        let card = try softCard(several: true)
        let driver = OpenPGPCard(channel: SoftCardChannel(card))
        let key = try driver.initialize(userPIN: user, adminPIN: admin)
        #expect(key == card.publicKey)
        #expect(card.state.pw1ValidForSeveralSignatures == false)
        #expect(try driver.pinStatus().signaturePINPolicy == .once)
        #expect(throws: OpenPGPCardError.wrongPIN(triesLeft: 2)) { try driver.verify(.admin, pin: .defaultAdmin) }
        let digest = Keccak256.hash([1])
        #expect(try driver.sign(digest: digest, pin: user).recoverAddress(digest: digest) == key.address)
        // A short PIN is refused before anything is sent.
        #expect(throws: OpenPGPCardError.self) {
            try OpenPGPCard(channel: SoftCardChannel(try softCard())).initialize(userPIN: PIN("12"), adminPIN: admin)
        }
    }

    @Test func eachSignatureEndsWithTheResetOfPW1() throws {
        let card = try softCard()
        let channel = SoftCardChannel(card)
        let driver = OpenPGPCard(channel: channel)
        _ = try driver.initialize(userPIN: user, adminPIN: admin)
        _ = try driver.sign(digest: Keccak256.hash([1]), pin: user)
        let before = channel.sent.count
        _ = try driver.sign(digest: Keccak256.hash([2]), pin: user)
        // Session open: VERIFY, PSO:CDS, VERIFY P1=FF, nothing else.
        let steady = channel.sent[before...].map { APDUDescription.redactedHex($0) }
        #expect(steady.count == 3)
        #expect(steady.first == "00 20 00 81 06 ** ** ** ** ** **")
        #expect(steady.last == "00 20 FF 81")
        #expect(otherClientSigns(card) == StatusWord.securityStatusNotSatisfied)
    }

    @Test func severalModeIsRefusedUnlessOptedInAndThenLeftLocked() throws {
        let card = try softCard(several: true)
        let channel = SoftCardChannel(card)
        let driver = OpenPGPCard(channel: channel)
        let key = try driver.generateSigningKey(adminPIN: .defaultAdmin)
        let sentBefore = channel.sent.count
        #expect(throws: OpenPGPCardError.pinValidForSeveralSignatures) { try driver.sign(digest: Keccak256.hash([3]), pin: .defaultUser) }
        #expect(!channel.sent[sentBefore...].contains { $0.instruction == .verify }, "the PIN went to the card")
        #expect(card.state.signatureCounter == 0)

        let digest = Keccak256.hash([4])
        #expect(
            try driver.sign(digest: digest, pin: .defaultUser, allowSeveralSignatures: true).recoverAddress(digest: digest) == key.address)
        #expect(otherClientSigns(card) == StatusWord.securityStatusNotSatisfied)
        #expect(card.state.signatureCounter == 1)
    }

    @Test func aCardThatCannotResetIsRefusedOnlyInSeveralMode() throws {
        // A card without VERIFY P1=FF (6A86): harmless when it spends PW1 on each signature itself.
        final class NoReset: SmartCardChannel, @unchecked Sendable {
            let base: SoftCardChannel
            init(_ base: SoftCardChannel) { self.base = base }
            func transmit(_ command: CommandAPDU) throws -> ResponseAPDU {
                if command.instruction == .verify && command.p1 == 0xFF { return ResponseAPDU(data: [], sw: StatusWord.incorrectP1P2) }
                return try base.transmit(command)
            }
            func withTransaction<T>(_ body: () throws -> T) throws -> T { try body() }
            var connectionGeneration: Int { 0 }
        }
        let once = try softCard()
        let driver = OpenPGPCard(channel: NoReset(SoftCardChannel(once)))
        _ = try driver.generateSigningKey(adminPIN: .defaultAdmin)
        _ = try driver.sign(digest: Keccak256.hash([5]), pin: .defaultUser)

        let several = try softCard(several: true)
        let unsafe = OpenPGPCard(channel: NoReset(SoftCardChannel(several)))
        _ = try unsafe.generateSigningKey(adminPIN: .defaultAdmin)
        #expect(throws: OpenPGPCardError.accessStatusNotReset(StatusWord.incorrectP1P2)) {
            try unsafe.sign(digest: Keccak256.hash([6]), pin: .defaultUser, allowSeveralSignatures: true)
        }
    }

    /// Admin operations and PIN checks leave nothing verified: another client cannot set a new user PIN
    /// (RESET RETRY COUNTER after PW3), generate a key or sign on what the driver verified.
    @Test func adminOperationsAndPINChecksLeaveTheCardLocked() throws {
        let card = try softCard()
        let driver = OpenPGPCard(channel: SoftCardChannel(card))
        func otherClient(_ command: CommandAPDU) -> UInt16 {
            _ = card.process(CommandAPDU(.select, p1: 0x04, p2: 0x00, data: ApplicationIdentifier.rid).encoded())
            let answer = card.process(command.encoded())
            return UInt16(answer[answer.count - 2]) << 8 | UInt16(answer[answer.count - 1])
        }
        let newUserPIN = CommandAPDU(.resetRetryCounter, p1: 0x02, p2: 0x81, data: Array("999999".utf8))
        let generate = CommandAPDU(.generateAsymmetricKeyPair, p1: 0x80, p2: 0x00, data: [0xB6, 0x00], le: 256)
        _ = try driver.initialize(userPIN: user, adminPIN: admin)
        #expect(otherClient(newUserPIN) == StatusWord.securityStatusNotSatisfied)
        try driver.setSignaturePINPolicy(.once, adminPIN: admin)
        try driver.setResettingCode(adminPIN: admin, code: PIN("resetting"))
        #expect(otherClient(newUserPIN) == StatusWord.securityStatusNotSatisfied)
        #expect(otherClient(generate) == StatusWord.securityStatusNotSatisfied)
        try driver.verify(.admin, pin: admin)
        try driver.verify(.userSign, pin: user)
        #expect(otherClient(newUserPIN) == StatusWord.securityStatusNotSatisfied)
        #expect(otherClientSigns(card) == StatusWord.securityStatusNotSatisfied)
        #expect(card.state.signatureCounter == 0)
    }

    @Test func setSignaturePINPolicyNeedsTheAdminPIN() throws {
        let card = try softCard()
        let driver = OpenPGPCard(channel: SoftCardChannel(card))
        #expect(throws: OpenPGPCardError.wrongPIN(triesLeft: 2)) { try driver.setSignaturePINPolicy(.several, adminPIN: PIN("00000000")) }
        #expect(card.state.pw1ValidForSeveralSignatures == false)
        try driver.setSignaturePINPolicy(.several, adminPIN: .defaultAdmin)
        #expect(card.state.pw1ValidForSeveralSignatures == true)
        #expect(try driver.pinStatus().signaturePINPolicy == .several)
    }

    @Test func pinChangesAndUnblockThroughTheDriver() throws {
        let card = try softCard()
        let driver = OpenPGPCard(channel: SoftCardChannel(card))
        _ = try driver.initialize(userPIN: user, adminPIN: admin)
        for _ in 0..<2 { #expect(throws: OpenPGPCardError.self) { try driver.verify(.userSign, pin: PIN("000000")) } }
        #expect(throws: OpenPGPCardError.lastTryProtected) { try driver.verify(.userSign, pin: PIN("000000")) }
        try driver.unblockUserPIN(adminPIN: admin, newPIN: PIN("135791"))
        try driver.setResettingCode(adminPIN: admin, code: PIN("resetting"))
        try driver.unblockUserPIN(resettingCode: PIN("resetting"), newPIN: user)
        try driver.changePIN(.userSign, old: user, new: PIN("864200"))
        #expect(card.state.pw1TriesLeft == 3)
        let digest = Keccak256.hash([8])
        _ = try driver.sign(digest: digest, pin: PIN("864200"))
    }
}
