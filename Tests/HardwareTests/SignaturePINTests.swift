import Ethereum
import Foundation
import OpenPGPCard
import PCSC
import SoftToken
import Testing

/// Security item 2: an approval must not leave the card unlocked. Through the real pcscd, with the
/// soft token honouring DO C4 byte 1 as a card does, and a second PC/SC connection as the intruder.
extension HardwarePathTests {
    @Suite struct SignaturePIN {
        let user = PIN("246810")
        let admin = PIN("13579246")

        /// A soft card whose state file says "PW1 valid for several signatures" (a YubiKey so configured).
        func severalModeCard(_ context: PCSCContext) throws -> PluggedSoftCard {
            let path = try Rig.temporaryDirectory().appendingPathComponent("card.json").path
            var state = SoftCardState.factoryFresh(serial: SoftCardState.randomSerial(), insecure: true)
            state.pw1ValidForSeveralSignatures = true
            try state.save(path: path)
            return try PluggedSoftCard(statePath: path, context: context)
        }

        /// SELECT then PSO:CDS `00 2A 9E 9A 20 <32 bytes> 00`, raw, as any other PC/SC client could send it.
        func intruderSigns(_ context: PCSCContext) throws -> UInt16 {
            let intruder = try context.connect(reader: Rig.reader)
            defer { intruder.disconnect() }
            let select = try intruder.transmit(CommandAPDU(bytes: [0x00, 0xA4, 0x04, 0x00, 0x06] + ApplicationIdentifier.rid)!)
            #expect(select.sw == StatusWord.ok)
            let pso = try #require(CommandAPDU(bytes: [0x00, 0x2A, 0x9E, 0x9A, 0x20] + Keccak256.hash(Array("intruder".utf8)) + [0x00]))
            return try intruder.transmit(pso).sw
        }

        @Test func anotherClientCannotSignAfterAnApprovalOnASeveralModeCard() throws {
            let context = try Rig.requirePCSCD()
            let plugged = try severalModeCard(context)
            defer { plugged.remove(context: context) }
            let driver = OpenPGPCard(channel: try context.connect(reader: Rig.reader))
            let key = try driver.generateSigningKey(adminPIN: .defaultAdmin)
            #expect(try driver.pinStatus().signaturePINPolicy == .several)

            // The approval: VERIFY + PSO:CDS through the driver, opted in to the several-mode card.
            let digest = Keccak256.hash(Array("approval".utf8))
            let signature = try driver.sign(digest: digest, pin: .defaultUser, allowSeveralSignatures: true)
            #expect(try signature.recoverAddress(digest: digest) == key.address)
            #expect(plugged.card.state.signatureCounter == 1)

            // The card would still sign for anyone on the PIN just verified; the driver reset it.
            #expect(try intruderSigns(context) == StatusWord.securityStatusNotSatisfied)
            #expect(plugged.card.state.signatureCounter == 1)
        }

        @Test func aSeveralModeCardIsRefusedWithoutTheOptIn() throws {
            let context = try Rig.requirePCSCD()
            let plugged = try severalModeCard(context)
            defer { plugged.remove(context: context) }
            let driver = OpenPGPCard(channel: try context.connect(reader: Rig.reader))
            _ = try driver.generateSigningKey(adminPIN: .defaultAdmin)

            #expect(throws: OpenPGPCardError.pinValidForSeveralSignatures) {
                try driver.sign(digest: Keccak256.hash([1]), pin: .defaultUser)
            }
            // Refused before the PIN went to the card: nothing verified, nothing signed.
            #expect(plugged.card.state.signatureCounter == 0)
            #expect(try intruderSigns(context) == StatusWord.securityStatusNotSatisfied)

            // Set to one signature per VERIFY, the same card signs without the opt-in.
            try driver.setSignaturePINPolicy(.once, adminPIN: .defaultAdmin)
            #expect(plugged.card.state.pw1ValidForSeveralSignatures == false)
            let digest = Keccak256.hash([2])
            _ = try driver.sign(digest: digest, pin: .defaultUser)
            #expect(try intruderSigns(context) == StatusWord.securityStatusNotSatisfied)
            #expect(plugged.card.state.signatureCounter == 1)
        }

        @Test func cardInitLeavesTheCardInOneSignatureMode() throws {
            let context = try Rig.requirePCSCD()
            let plugged = try severalModeCard(context)
            defer { plugged.remove(context: context) }
            let paratii = Rig.binaryDirectory.appendingPathComponent("paratii")
            let dir = try Rig.temporaryDirectory()
            let pin = dir.appendingPathComponent("pin").path, adminPin = dir.appendingPathComponent("admin-pin").path
            try "246810\n".write(toFile: pin, atomically: true, encoding: .utf8)
            try "13579246\n".write(toFile: adminPin, atomically: true, encoding: .utf8)

            let initialised = try Rig.run(
                paratii, ["card", "init", "--reader", Rig.reader, "--pin-file", pin, "--admin-pin-file", adminPin])
            #expect(initialised.status == 0, "\(initialised.stderr)")
            #expect(plugged.card.state.pw1ValidForSeveralSignatures == false)
            let status = try JSONValue.parse(try Rig.run(paratii, ["card", "status", "--reader", Rig.reader, "--json"]).stdout)
            #expect(status["pinValidForSeveralSignatures"] == .bool(false))

            // The CLI signs on it, and nobody can sign after it.
            let signed = try Rig.run(paratii, ["card", "sign-message", "--reader", Rig.reader, "--pin-file", pin, "after init"])
            #expect(signed.status == 0, "\(signed.stderr)")
            #expect(try intruderSigns(context) == StatusWord.securityStatusNotSatisfied)

            // Switched to several (as a guide might tell a user), the CLI refuses to sign and says how to fix it.
            let several = try Rig.run(
                paratii, ["card", "set-signature-pin", "--reader", Rig.reader, "--admin-pin-file", adminPin, "several"])
            #expect(several.status == 0, "\(several.stderr)")
            #expect(plugged.card.state.pw1ValidForSeveralSignatures == true)
            let refused = try Rig.run(paratii, ["card", "sign-message", "--reader", Rig.reader, "--pin-file", pin, "refused"])
            #expect(refused.status != 0 && refused.stderr.contains("paratii card set-signature-pin once"), "\(refused.stderr)")
            let once = try Rig.run(paratii, ["card", "set-signature-pin", "--reader", Rig.reader, "--admin-pin-file", adminPin, "once"])
            #expect(once.status == 0, "\(once.stderr)")
            #expect(plugged.card.state.pw1ValidForSeveralSignatures == false)
            #expect(plugged.card.state.signatureCounter == 1)
        }
    }
}
