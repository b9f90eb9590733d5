import Doctor
import OpenPGPCard
import PCSC
import Testing
import TokenHub

/// PC/SC, card and host findings from plain values (no daemon needed).
struct DiagnosisTests {
    let table: TokenTable
    init() throws { table = try TokenTable.bundled() }

    func card(
        algorithm: AlgorithmAttributes? = .secp256k1, address: String? = "0x0000000000000000000000000000000000000001",
        user: Int = 3, admin: Int = 3, signaturePIN: SignaturePINPolicy = .once
    ) -> CardProbe {
        .openPGP(
            CardFacts(
                version: "3.4", manufacturer: "Yubico", serial: "12345678", signatureAlgorithm: algorithm,
                address: address, userPINTries: user, adminPINTries: admin, signaturePINPolicy: signaturePIN))
    }

    @Test func pcscdNotRunningIsAnErrorWithItsFix() {
        let findings = Diagnosis.pcscFindings(.unreachable(.noService))
        #expect(
            findings == [
                Finding("pcscd.notRunning", .error, "pcscd is not running", fix: "sudo systemctl start pcscd.socket (or scripts/pcscd-up)")
            ])
        #expect(!Report(findings: findings).healthy)
    }

    @Test func readersAreListed() {
        let findings = Diagnosis.pcscFindings(.readers([ReaderProbe(name: "R1", card: nil), ReaderProbe(name: "R2", card: .notOpenPGP)]))
        #expect(findings.first?.id == "pcscd.reachable" && findings.first?.severity == .ok)
        #expect(findings.filter { $0.id == "pcscd.reader" }.map(\.summary) == ["reader 'R1': empty", "reader 'R2': card present"])
        #expect(Diagnosis.pcscFindings(.readers([])).contains { $0.id == "pcscd.noReaders" && $0.severity == .warning })
    }

    @Test func healthyCard() {
        let findings = Diagnosis.cardFindings(reader: "R", card())
        #expect(findings.map(\.id) == ["card.openpgp", "card.algorithm", "card.key", "card.pin"])
        #expect(findings.allSatisfy { $0.severity == .ok && $0.fix.isEmpty })
        #expect(findings[0].summary.contains("OpenPGP 3.4"))
    }

    @Test func otherAlgorithmAndNoKeyAskForCardInit() throws {
        let rsa = AlgorithmAttributes(bytes: [0x01, 0x08, 0x00, 0x00, 0x20, 0x00])
        let findings = Diagnosis.cardFindings(reader: "R", card(algorithm: rsa, address: nil))
        let algorithm = try #require(findings.first { $0.id == "card.algorithm" })
        #expect(algorithm.severity == .warning && algorithm.summary.contains("rsa2048") && algorithm.fix.contains("paratii card init"))
        let key = try #require(findings.first { $0.id == "card.key" })
        #expect(key.severity == .warning && key.fix == "paratii card init")
    }

    @Test func pinTries() throws {
        let blocked = try #require(Diagnosis.cardFindings(reader: "R", card(user: 0)).first { $0.id == "card.pinBlocked" })
        #expect(blocked.severity == .error && blocked.summary.contains("PIN blocked") && blocked.fix == "paratii card unblock")
        let last = try #require(Diagnosis.cardFindings(reader: "R", card(user: 1)).first { $0.id == "card.pinLastTry" })
        #expect(last.severity == .warning)
        let admin = try #require(Diagnosis.cardFindings(reader: "R", card(admin: 0)).first { $0.id == "card.adminPinBlocked" })
        #expect(admin.severity == .error)
    }

    @Test func pinValidForSeveralSignaturesIsAnErrorWithItsFix() throws {
        let findings = Diagnosis.cardFindings(reader: "R", card(signaturePIN: .several))
        let several = try #require(findings.first { $0.id == "card.signaturePINSeveral" })
        #expect(several.severity == .error && several.summary.contains("several signatures"))
        #expect(several.fix.hasPrefix("paratii card set-signature-pin once"))
        #expect(!Report(findings: findings).healthy)
        #expect(!Diagnosis.cardFindings(reader: "R", card()).contains { $0.id == "card.signaturePINSeveral" })
    }

    @Test func cardHeldByAnotherApplication() throws {
        let f = try #require(
            Diagnosis.cardFindings(reader: "R", .unreadable("another application holds the card exclusively", held: true)).first)
        #expect(f.id == "card.unreadable" && f.fix.contains("scdaemon"))
    }

    @Test func udevRulesInstalledStaleOrMissing() throws {
        let generated = try String(
            contentsOf: TokenTableTests.repositoryRoot.appendingPathComponent("udev/70-paratii-tokens.rules"), encoding: .utf8)
        let installed = HostFacts(udevRules: ["/etc/udev/rules.d/70-paratii-tokens.rules": generated])
        #expect(Diagnosis.hostFindings(installed, table: table, usb: .devices([])).contains { $0.id == "udev.rules" && $0.severity == .ok })

        let old = HostFacts(udevRules: ["/lib/udev/rules.d/70-paratii-tokens.rules": "# nothing"])
        let stale = try #require(Diagnosis.hostFindings(old, table: table, usb: .devices([])).first { $0.id == "udev.rulesStale" })
        #expect(stale.severity == .warning && stale.fix == Diagnosis.installRulesFix)

        let missing = try #require(
            Diagnosis.hostFindings(HostFacts(), table: table, usb: .devices([])).first { $0.id == "udev.rulesMissing" })
        #expect(missing.severity == .info && missing.fix.hasPrefix("sudo cp udev/70-paratii-tokens.rules /etc/udev/rules.d/"))
        // With a token plugged in, missing rules matter more.
        let plugged = Diagnosis.hostFindings(HostFacts(), table: table, usb: .devices([MatchingTests.yubiKey5NFC]))
        #expect(plugged.contains { $0.id == "udev.rulesMissing" && $0.severity == .warning })
    }

    @Test func scdaemonAndCCIDDriver() {
        let host = HostFacts(scdaemonRunning: true, ccidDriver: nil)
        let findings = Diagnosis.hostFindings(host, table: table, usb: .devices([MatchingTests.yubiKey5NFC]))
        #expect(findings.contains { $0.id == "gnupg.scdaemon" && $0.severity == .warning && $0.fix.contains("disable-ccid") })
        #expect(findings.contains { $0.id == "pcscd.ccidDriver" && $0.severity == .error })
        let shared = Diagnosis.hostFindings(HostFacts(scdaemonRunning: true, scdaemonDisablesCCID: true), table: table, usb: .devices([]))
        #expect(shared.contains { $0.id == "gnupg.scdaemon" && $0.severity == .ok })
    }
}
