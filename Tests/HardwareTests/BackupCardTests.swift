import Ethereum
import Foundation
import OpenPGPCard
import PCSC
import SoftToken
import Testing

/// A key born off card: `paratii card init --backup` on one soft card, `paratii card restore` of the
/// shown words on a second, through the real pcscd; both cards then hold exactly the derived key.
extension HardwarePathTests {
    @Suite struct BackupCard {
        let paratii = Rig.binaryDirectory.appendingPathComponent("paratii")

        func files() throws -> (dir: URL, pin: String, admin: String) {
            let dir = try Rig.temporaryDirectory()
            let pin = dir.appendingPathComponent("pin").path, admin = dir.appendingPathComponent("admin").path
            try "424242\n".write(toFile: pin, atomically: true, encoding: .utf8)
            try "42424242\n".write(toFile: admin, atomically: true, encoding: .utf8)
            return (dir, pin, admin)
        }

        /// The numbered words of `init --backup`'s output ("  1 word      2 word …"), in order.
        func shownWords(_ stdout: String) -> [String] {
            var words: [(Int, String)] = []
            for line in stdout.split(separator: "\n") {
                let tokens = line.split(separator: " ")
                guard tokens.count % 2 == 0, tokens.count > 0, Int(tokens[0]) != nil else { continue }
                for i in stride(from: 0, to: tokens.count, by: 2) {
                    guard let n = Int(tokens[i]) else { return [] }
                    words.append((n, String(tokens[i + 1])))
                }
            }
            return words.sorted { $0.0 < $1.0 }.map(\.1)
        }

        @Test func initWithBackupThenRestoreOnASecondCardGiveTheSameAddress() throws {
            let context = try Rig.requirePCSCD()
            let (dir, pin, admin) = try files()
            var first = try PluggedSoftCard(context: context)
            let initialised = try Rig.run(
                paratii, ["card", "init", "--backup", "--reader", Rig.reader, "--pin-file", pin, "--admin-pin-file", admin])
            #expect(initialised.status == 0, "\(initialised.stderr)")
            let lines = initialised.stdout.split(separator: "\n")
            let address = try Address(String(try #require(lines.last)))
            let words = shownWords(initialised.stdout)
            #expect(words.count == 24)
            #expect(initialised.stdout.contains("shown\nonly this once") || initialised.stdout.contains("only this once"))
            #expect(!initialised.stderr.contains(words[0] + " " + words[1]))
            // The words are the key: the derived address, and exactly the key the card holds.
            let key = try ExtendedPrivateKey.from(try Mnemonic(phrase: words.joined(separator: " "))).privateKey()
            #expect(key.address == address)
            #expect(first.card.publicKey == key.publicKey)
            #expect(first.card.state.keyImported)
            let signed = try Rig.run(paratii, ["card", "sign-message", "--reader", Rig.reader, "--pin-file", pin, "born off card"])
            #expect(signed.status == 0, "\(signed.stderr)")
            let signature = try Signature(hex: signed.stdout.trimmingCharacters(in: .whitespacesAndNewlines))
            #expect(try PersonalMessage.recover(Array("born off card".utf8), signature: signature) == address)
            first.remove(context: context)

            // The second card, restored from the words as they were shown (numbers and all).
            first = try PluggedSoftCard(context: context)
            defer { first.remove(context: context) }
            let wordsFile = dir.appendingPathComponent("words").path
            try initialised.stdout.split(separator: "\n").filter { Int($0.split(separator: " ").first ?? "") != nil }
                .joined(separator: "\n").write(toFile: wordsFile, atomically: true, encoding: .utf8)
            // Words that do not give the expected address: refused before the card is touched.
            let wrongAddress = try Rig.run(
                paratii,
                [
                    "card", "restore", "--reader", Rig.reader, "--words-file", wordsFile, "--pin-file", pin, "--admin-pin-file", admin,
                    "--expect-address", "0x9858EfFD232B4033E47d90003D41EC34EcaEda94",
                ])
            #expect(wrongAddress.status != 0)
            #expect(wrongAddress.stderr.contains("nothing was written to the card"), "\(wrongAddress.stderr)")
            #expect(first.card.publicKey == nil)
            let restored = try Rig.run(
                paratii,
                [
                    "card", "restore", "--reader", Rig.reader, "--words-file", wordsFile, "--pin-file", pin, "--admin-pin-file", admin,
                    "--expect-address", address.checksummed,
                ])
            #expect(restored.status == 0, "\(restored.stderr)")
            #expect(restored.stdout.trimmingCharacters(in: .whitespacesAndNewlines) == address.checksummed)
            #expect(first.card.publicKey == key.publicKey)
            let status = try Rig.run(paratii, ["card", "status", "--reader", Rig.reader, "--json"])
            #expect(status.stdout.contains(address.checksummed))
        }

        @Test func restoreRefusesBadWordsWithOneLineAndLeavesTheCardAlone() throws {
            let context = try Rig.requirePCSCD()
            let (dir, pin, admin) = try files()
            let plugged = try PluggedSoftCard(context: context)
            defer { plugged.remove(context: context) }
            let wordsFile = dir.appendingPathComponent("words").path
            for (words, message) in [
                ("legal winner thank year wave sausage worth useful legal winner thank yelow", "word 12 is not in the BIP-39 English list"),
                ("legal winner thank year wave sausage worth useful legal winner yellow thank", "checksum does not match"),
                ("legal winner thank", "expected 12, 15, 18, 21 or 24 words, got 3"),
            ] {
                try words.write(toFile: wordsFile, atomically: true, encoding: .utf8)
                let result = try Rig.run(
                    paratii,
                    [
                        "card", "restore", "--reader", Rig.reader, "--words-file", wordsFile, "--pin-file", pin, "--admin-pin-file", admin,
                    ])
                #expect(result.status != 0)
                #expect(result.stderr.contains(message), "\(result.stderr)")
                #expect(result.stderr.split(separator: "\n").count == 1, "\(result.stderr)")
                #expect(!result.stderr.contains("yelow") && !result.stderr.contains("winner"))
            }
            // No terminal and no file: asks nobody, says how.
            let noTerminal = try Rig.run(
                paratii, ["card", "restore", "--reader", Rig.reader, "--pin-file", pin, "--admin-pin-file", admin])
            #expect(noTerminal.status != 0 && noTerminal.stderr.contains("no terminal"))
            #expect(plugged.card.publicKey == nil)
            #expect(try plugged.card.state == SoftCardState.load(path: plugged.statePath))
        }
    }
}
