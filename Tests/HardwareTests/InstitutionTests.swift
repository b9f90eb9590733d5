import Delegation
import Ethereum
import Foundation
import Institution
import OpenPGPCard
import PCSC
import SoftToken
import Testing

/// A temporary institution: its own XDG directories, PIN files, and the `paratii` executable run
/// against the real pcscd. The institution's card sits in vpcd's second slot, staff cards in the first.
struct InstitutionDesk {
    let dir: URL
    let paratii = Rig.binaryDirectory.appendingPathComponent("paratii")
    var roster: String { path("roster.sqlite") }

    init() throws {
        dir = try Rig.temporaryDirectory()
        try #require(FileManager.default.isExecutableFile(atPath: paratii.path), "paratii not built at \(paratii.path)")
    }

    func path(_ name: String) -> String { dir.appendingPathComponent(name).path }

    @discardableResult
    func file(_ name: String, _ text: String) throws -> String {
        try (text + "\n").write(toFile: path(name), atomically: true, encoding: .utf8)
        return path(name)
    }

    func run(_ arguments: [String]) throws -> (status: Int32, stdout: String, stderr: String) {
        try Rig.run(paratii, arguments, environment: ["XDG_DATA_HOME": path("data"), "XDG_CONFIG_HOME": path("config")])
    }

    /// Runs and requires success; returns stdout.
    func ok(_ arguments: [String], sourceLocation: SourceLocation = #_sourceLocation) throws -> String {
        let result = try run(arguments)
        try #require(result.status == 0, "paratii \(arguments.joined(separator: " ")): \(result.stderr)", sourceLocation: sourceLocation)
        return result.stdout
    }

    var institutionCard: [String] {
        ["--roster", roster, "--institution-reader", Rig.secondReader, "--institution-pin-file", path("institution-pin")]
    }

    /// Initialises the institution card (in the second slot) and the roster; returns the institution's address.
    func setUp() throws -> String {
        try file("institution-pin", "135790")
        try file("institution-admin-pin", "13579024")
        let address = try ok([
            "card", "init", "--reader", Rig.secondReader, "--pin-file", path("institution-pin"),
            "--admin-pin-file", path("institution-admin-pin"),
        ]).trimmingCharacters(in: .whitespacesAndNewlines)
        let initialised = try ok([
            "institution", "init", "--roster", roster, "--institution-reader", Rig.secondReader,
            "--ceiling", "token=ETH,total=0.5,per-payment=0.01", "--attestation-lifetime", "90d",
        ])
        #expect(initialised.contains(address) && initialised.contains("ETH: total 0.5, per payment 0.01"), "\(initialised)")
        // A bare file name, as a newcomer types it, lands in the working directory (it once failed on an empty path).
        let bare = path("bare")
        try FileManager.default.createDirectory(atPath: bare, withIntermediateDirectories: true)
        let relative = try Rig.run(
            paratii,
            [
                "institution", "init", "--roster", "roster.sqlite", "--institution-reader", Rig.secondReader,
                "--ceiling", "token=ETH,total=0.5",
            ], environment: ["XDG_DATA_HOME": path("data")], directory: bare)
        #expect(relative.status == 0, "\(relative.stderr)")
        var info = stat()
        #expect(stat(bare + "/roster.sqlite", &info) == 0 && info.st_mode & 0o077 == 0)
        return address
    }

    func rosterJSON() throws -> [JSONValue] {
        try JSONValue.parse(try ok(["institution", "roster", "list", "--roster", roster, "--json"])).arrayValue ?? []
    }

    func signatureCounter(_ reader: String) throws -> String? {
        try JSONValue.parse(try ok(["card", "status", "--reader", reader, "--json"]))["signatureCounter"].map { "\($0)" }
    }
}

extension HardwarePathTests {
    /// The issue's whole story on the real stack with two soft tokens: refusals that change nothing,
    /// enrollment, a delegation under the attestation, payment, verification under the institution,
    /// the ceiling enforced at signing and at verification, revocation and publication, exports.
    @Test func institutionEnrollsDelegatesPaysAndRevokes() throws {
        let context = try Rig.requirePCSCD()
        let slot = try Rig.FileLock.secondSlot()
        let noRestart = try Rig.FileLock.noRestart()
        defer { withExtendedLifetime((slot, noRestart)) {} }
        try #require(try context.readers().contains(Rig.secondReader), "pcscd has no '\(Rig.secondReader)' reader")
        let desk = try InstitutionDesk()
        let institutionCard = try PluggedSoftCard(serial: [0x11, 0x11, 0x00, 0x01], second: true, context: context)
        defer { institutionCard.remove(context: context) }
        let institution = try desk.setUp()

        // A staff card that already holds someone's key.
        let enroll = ["institution", "enroll", "--reader", Rig.reader, "--holder", "Alice Example", "--json"]
        try desk.file("old-pin", "424242")
        try desk.file("old-admin-pin", "42424242")
        let staffState: String
        let oldAddress: String
        do {
            let staff = try PluggedSoftCard(serial: [0x22, 0x22, 0x00, 0x02], context: context)
            defer { staff.remove(context: context) }
            staffState = staff.statePath
            oldAddress = try desk.ok([
                "card", "init", "--reader", Rig.reader, "--pin-file", desk.path("old-pin"),
                "--admin-pin-file", desk.path("old-admin-pin"),
            ]).trimmingCharacters(in: .whitespacesAndNewlines)

            // Refused: a wrong institution PIN. The roster and the staff card stay as they were.
            try desk.file("wrong-pin", "000000")
            let wrongPIN = try desk.run(
                enroll + [
                    "--roster", desk.roster, "--institution-reader", Rig.secondReader, "--institution-pin-file", desk.path("wrong-pin"),
                ])
            #expect(wrongPIN.status != 0 && wrongPIN.stderr.contains("wrong PIN"), "\(wrongPIN.stderr)")
            #expect(try desk.rosterJSON().isEmpty)
            #expect(try desk.ok(["card", "address", "--reader", Rig.reader]).contains(oldAddress))
        }

        // Refused: the staff reader holds a card with the institution's own key (a backup of it). Not reset.
        do {
            let backupPath = desk.path("institution-backup.json")
            try FileManager.default.copyItem(atPath: institutionCard.statePath, toPath: backupPath)
            let backup = try PluggedSoftCard(statePath: backupPath, context: context)
            defer { backup.remove(context: context) }
            let own = try desk.run(enroll + desk.institutionCard)
            #expect(own.status != 0 && own.stderr.contains("institution's own card"), "\(own.stderr)")
            #expect(try desk.ok(["card", "address", "--reader", Rig.reader]).contains(institution))
            #expect(try desk.rosterJSON().isEmpty)
        }

        // The staff card again, as it was.
        let staff = try PluggedSoftCard(statePath: staffState, context: context)
        defer { staff.remove(context: context) }
        #expect(try desk.ok(["card", "address", "--reader", Rig.reader]).contains(oldAddress))

        // Enrolled: PINs printed once, the roster has the card, the attestation verifies to the institution card.
        let enrolled = try JSONValue.parse(try desk.ok(enroll + desk.institutionCard))
        let serial = try #require(enrolled["serial"]?.stringValue)
        let master = try #require(enrolled["master"]?.stringValue)
        let userPIN = try #require(enrolled["userPin"]?.stringValue)
        let adminPIN = try #require(enrolled["adminPin"]?.stringValue)
        let attestationFile = try #require(enrolled["attestationFile"]?.stringValue)
        #expect(serial == "22220002" && master != oldAddress && userPIN.count == 8 && adminPIN.count == 12)
        let rows = try desk.rosterJSON()
        #expect(rows.count == 1 && rows.first?["serial"]?.stringValue == serial && rows.first?["holder"]?.stringValue == "Alice Example")
        #expect(rows.first?["master"]?.stringValue == master && rows.first?["revokedAt"] == .null)
        let attestation = try Envelope(parsing: Array(try Data(contentsOf: URL(fileURLWithPath: attestationFile))))
        let attested = Verifier(domain: nil, institution: try Address(institution)).verify(
            attestation, at: UInt64(Date().timeIntervalSince1970))
        #expect(attested.valid && attested.master?.checksummed == master, "\(attested)")
        #expect(try desk.ok(["card", "address", "--reader", Rig.reader]).contains(master))
        // The PINs are stored nowhere: not in the roster, not next to it.
        for file in [desk.roster, attestationFile] {
            let bytes = try String(decoding: Data(contentsOf: URL(fileURLWithPath: file)), as: UTF8.self)
            #expect(!bytes.contains(userPIN) && !bytes.contains(adminPIN))
        }
        #expect(try desk.run(enroll + desk.institutionCard).stderr.contains("already enrolled"))

        // The printed PINs work on the staff card.
        try desk.file("pin", userPIN)
        try desk.file("admin-pin", adminPIN)
        let signed = try desk.ok(["card", "sign-message", "--reader", Rig.reader, "--pin-file", desk.path("pin"), "hello"])
        #expect(
            try PersonalMessage.recover(
                Array("hello".utf8), signature: try Signature(hex: signed.trimmingCharacters(in: .whitespacesAndNewlines))
            ).checksummed == master)
        _ = try desk.ok([
            "card", "change-pin", "--admin", "--reader", Rig.reader, "--pin-file", desk.path("admin-pin"), "--new-pin-file",
            desk.path("admin-pin"),
        ])

        // A wallet, and a delegation under the attestation.
        try desk.file("wallet-password", "correct horse")
        let wallet = ["--dir", desk.path("wallet"), "--password-file", desk.path("wallet-password")]
        let spender = try #require(
            try desk.ok(["wallet", "init", "--scrypt-n", "1024"] + wallet).split(separator: " ").last.map(String.init)?.trimmingCharacters(
                in: .whitespacesAndNewlines))
        let card = ["--reader", Rig.reader, "--pin-file", desk.path("pin"), "--attestation", attestationFile]
        let counterBefore = try desk.signatureCounter(Rig.reader)
        for (allowance, validity) in [
            ("token=ETH,total=1,per-payment=0.001", "30d"), ("token=ETH,total=0.1,per-payment=0.02", "30d"),
            ("token=0x00000000000000000000000000000000000000aa,total=0.1", "30d"), ("token=ETH,total=0.1,per-payment=0.001", "100d"),
        ] {
            let refused = try desk.run(
                ["delegate", "spending", "--spender", spender, "--allowance", allowance, "--valid-for", validity] + card)
            // A token no configuration describes is refused even earlier: its decimals are unknown.
            #expect(
                refused.status != 0 && (refused.stderr.contains("refused before signing") || refused.stderr.contains("unknown token")),
                "\(allowance) \(validity): \(refused.stderr)")
        }
        #expect(try desk.signatureCounter(Rig.reader) == counterBefore, "a refused delegation was signed")
        _ = try desk.ok(
            [
                "delegate", "spending", "--spender", spender, "--allowance", "token=ETH,total=0.1,per-payment=0.001",
                "--valid-for", "30d", "--out", desk.path("delegation.json"),
            ] + card)
        let imported = try desk.ok(["wallet", "import-delegation", desk.path("delegation.json")] + wallet)
        #expect(imported.contains("attested by institution \(institution)"), "\(imported)")

        // The wallet pays; the voucher carries the attestation; it verifies under the institution; the payee accepts.
        let payee = "0x00000000000000000000000000000000000000bb"
        let pay = ["wallet", "pay", "--payee", payee, "--token", "ETH", "--amount", "0.001"] + wallet
        try desk.file("voucher1.json", try desk.ok(pay + ["--memo", "segment 1"]))
        let voucher = try Envelope(parsing: Array(try Data(contentsOf: URL(fileURLWithPath: desk.path("voucher1.json")))))
        #expect(voucher.parents.map(\.kind) == ["SpendingDelegation", "CardAttestation"])
        let verified = try desk.run(["verify", desk.path("voucher1.json"), "--institution", institution])
        #expect(verified.status == 0 && verified.stdout.contains("\"valid\":true"), "\(verified.stdout) \(verified.stderr)")
        let otherInstitution = try desk.run([
            "verify", desk.path("voucher1.json"), "--institution", PrivateKey.generate().address.checksummed,
        ])
        #expect(otherInstitution.status == 1 && otherInstitution.stdout.contains("notAttested"))
        let payeeStore = ["--store", desk.path("payee.sqlite"), "--institution", institution]
        let accepted = try desk.run(["payee", "accept", desk.path("voucher1.json")] + payeeStore)
        #expect(accepted.status == 0 && accepted.stdout.contains("\"accepted\":true"), "\(accepted.stdout) \(accepted.stderr)")

        // Above the ceiling, built by hand and signed by the card itself: the verifier rejects it.
        let domain = attestation.domain
        let wide = SpendingDelegation(
            master: try Address(master), spender: try Address(spender),
            allowances: [Allowance(token: .zero, total: try Units.parseAmount("2"), perPayment: try Units.parseAmount("0.001"))],
            payees: [], validAfter: UInt64(Date().timeIntervalSince1970) - 10,
            validUntil: UInt64(Date().timeIntervalSince1970) + 86400, salt: Salt.random())
        let driver = OpenPGPCard(channel: try context.connect(reader: Rig.reader))
        let wideSignature = try driver.sign(digest: wide.digest(in: domain), pin: PIN(userPIN))
        let wideEnvelope = Envelope(message: Message(wide), domain: domain, signature: wideSignature.bytes, parents: [attestation])
        try desk.file("wide.json", wideEnvelope.json.prettyText)
        let wideVerdict = try desk.run(["verify", desk.path("wide.json"), "--institution", institution])
        #expect(wideVerdict.status == 1 && wideVerdict.stdout.contains("widensParent"), "\(wideVerdict.stdout)")

        // Revoked by holder and published: the payee rejects new vouchers under the card.
        let revoked = try desk.ok(["institution", "revoke", "--holder", "Alice Example"] + desk.institutionCard)
        #expect(revoked.contains("revoked card \(serial)"))
        #expect(try desk.run(["institution", "revoke", "--card", serial] + desk.institutionCard).status != 0, "revoked twice")
        #expect(
            try desk.ok(["institution", "publish", "--roster", desk.roster, "--out", desk.path("revoked.json")]).contains("1 revocation"))
        try desk.file("voucher2.json", try desk.ok(pay + ["--memo", "segment 2"]))
        let rejected = try desk.run(
            ["payee", "accept", desk.path("voucher2.json"), "--revocations", desk.path("revoked.json")] + payeeStore)
        #expect(rejected.status == 1 && rejected.stdout.contains("\"reason\":\"revoked\""), "\(rejected.stdout) \(rejected.stderr)")
        let revokedVerdict = try desk.run([
            "verify", desk.path("voucher2.json"), "--institution", institution, "--revocations", desk.path("revoked.json"),
        ])
        #expect(revokedVerdict.status == 1 && revokedVerdict.stdout.contains("revoked"))

        // The roster shows it, in every form.
        #expect(try desk.rosterJSON().first?["revokedAt"] != .null)
        let csv = try desk.ok(["institution", "roster", "export", "--csv", "--roster", desk.roster]).split(separator: "\n")
        #expect(csv.count == 2 && csv[1].hasPrefix("\(serial),Alice Example,\(master),") && !csv[1].hasSuffix(",,"))
        let exported = try JSONValue.parse(try desk.ok(["institution", "roster", "export", "--json", "--roster", desk.roster]))
        #expect(exported.arrayValue?.first?["ceiling"]?.arrayValue?.count == 1)
        #expect(try desk.ok(["institution", "roster", "list", "--roster", desk.roster]).contains("REVOKED"))
    }

    /// Batch enrollment: two cards inserted one after the other into the staff reader, each enrolled
    /// for the next holder on its insertion event, each asked to be removed.
    @Test func institutionBatchEnrollsCardsAsTheyAreInserted() throws {
        let context = try Rig.requirePCSCD()
        let slot = try Rig.FileLock.secondSlot()
        let noRestart = try Rig.FileLock.noRestart()
        defer { withExtendedLifetime((slot, noRestart)) {} }
        let desk = try InstitutionDesk()
        let institutionCard = try PluggedSoftCard(serial: [0x11, 0x11, 0x00, 0x03], second: true, context: context)
        defer { institutionCard.remove(context: context) }
        _ = try desk.setUp()
        try Rig.waitForCard(false, context: context)

        let (process, output) = try Self.batch(desk, holders: ["Bob", "Carol"])
        defer { if process.isRunning { process.terminate() } }

        var serials: [String] = []
        var states: [String] = []
        let cards: [[UInt8]] = [[0x33, 0x33, 0x00, 0x01], [0x33, 0x33, 0x00, 0x02]]
        for (i, serial) in cards.enumerated() {
            try output.waitFor(err: "insert the card for \(i == 0 ? "Bob" : "Carol")")
            let card = try PluggedSoftCard(serial: serial, context: context)
            try output.waitFor(err: "remove the card", count: i + 1)
            card.remove(context: context)
            serials.append(String(serial.hexString.dropFirst(2)).uppercased())
            states.append(card.statePath)
        }
        let deadline = Date().addingTimeInterval(30)
        while process.isRunning && Date() < deadline { Thread.sleep(forTimeInterval: 0.1) }
        #expect(!process.isRunning && process.terminationStatus == 0, "\(output.err)")
        let lines = output.out.split(separator: "\n").map { try? JSONValue.parse(String($0)) }
        #expect(lines.map { $0?["serial"]?.stringValue } == serials, "\(output.out) \(output.err)")
        #expect(lines.map { $0?["holder"]?.stringValue } == ["Bob", "Carol"])
        let rows = try desk.rosterJSON()
        #expect(rows.map { $0["serial"]?.stringValue } == serials && rows.map { $0["holder"]?.stringValue } == ["Bob", "Carol"])

        // Bob's card again: refused while enrolled, then --re-enroll wipes it and revokes its old attestation.
        let bob = try PluggedSoftCard(statePath: states[0], context: context)
        defer { bob.remove(context: context) }
        let enroll = ["institution", "enroll", "--reader", Rig.reader, "--holder", "Bob", "--json"] + desk.institutionCard
        #expect(try desk.run(enroll).stderr.contains("already enrolled for Bob"))
        let again = try JSONValue.parse(try desk.ok(enroll + ["--re-enroll"]))
        #expect(again["serial"]?.stringValue == serials[0] && again["master"] != lines.first??["master"])
        let after = try desk.rosterJSON()
        #expect(after.count == 3 && after[0]["revokedAt"] != .null && after[2]["revokedAt"] == .null)
        #expect(
            try desk.ok(["institution", "publish", "--roster", desk.roster, "--out", desk.path("revoked.json")]).contains("1 revocation"))

        // Batch mode again: Bob's card, enrolled, is refused, and its holder name waits for the next card.
        bob.remove(context: context)
        let (refusing, refusals) = try Self.batch(desk, holders: ["Dave"])
        defer { if refusing.isRunning { refusing.terminate() } }
        try refusals.waitFor(err: "insert the card for Dave")
        let again2 = try PluggedSoftCard(statePath: states[0], context: context)
        try refusals.waitFor(err: "remove the card")
        #expect(refusals.err.contains("refused:") && refusals.err.contains("already enrolled for Bob"), "\(refusals.err)")
        again2.remove(context: context)
        try refusals.waitFor(err: "insert the card for Dave", count: 2)
        let dave = try PluggedSoftCard(serial: [0x33, 0x33, 0x00, 0x04], context: context)
        try refusals.waitFor(err: "remove the card", count: 2)
        dave.remove(context: context)
        let end = Date().addingTimeInterval(30)
        while refusing.isRunning && Date() < end { Thread.sleep(forTimeInterval: 0.1) }
        #expect(!refusing.isRunning && refusing.terminationStatus == 1 && refusals.err.contains("1 card was refused"), "\(refusals.err)")
        let enrolled = refusals.out.split(separator: "\n").map { try? JSONValue.parse(String($0)) }
        #expect(
            enrolled.map { $0?["holder"]?.stringValue } == ["Dave"] && enrolled.first??["serial"]?.stringValue == "33330004",
            "\(refusals.out)")
        let last = try desk.rosterJSON()
        #expect(last.count == 4 && last[3]["holder"]?.stringValue == "Dave" && last[3]["serial"]?.stringValue == "33330004")
    }

    /// A staff card is wiped, so `enroll` never touches the institution's own card: it refuses the
    /// institution's reader as the staff reader (named in full or by a unique part) before any card is
    /// opened, and in batch mode refuses a card holding the institution's key (a backup of it) without
    /// resetting it, keeping its holder for the next card.
    @Test func institutionEnrollNeverResetsTheInstitutionsCard() throws {
        let context = try Rig.requirePCSCD()
        let slot = try Rig.FileLock.secondSlot()
        let noRestart = try Rig.FileLock.noRestart()
        defer { withExtendedLifetime((slot, noRestart)) {} }
        let desk = try InstitutionDesk()
        let institutionCard = try PluggedSoftCard(serial: [0x11, 0x11, 0x00, 0x05], second: true, context: context)
        defer { institutionCard.remove(context: context) }
        let institution = try desk.setUp()
        let counter = try desk.signatureCounter(Rig.secondReader)

        for staffReader in [Rig.secondReader, "PCD 00 01"] {
            let refused = try desk.run(["institution", "enroll", "--reader", staffReader, "--holder", "Erin"] + desk.institutionCard)
            #expect(refused.status == 1 && refused.stderr.contains("name the same reader"), "\(refused.stderr)")
            #expect(refused.stdout.isEmpty)
        }
        #expect(try desk.ok(["card", "address", "--reader", Rig.secondReader]).contains(institution))
        #expect(try desk.signatureCounter(Rig.secondReader) == counter, "the institution card signed")
        #expect(try desk.rosterJSON().isEmpty)

        try Rig.waitForCard(false, context: context)
        let (process, output) = try Self.batch(desk, holders: ["Erin"])
        defer { if process.isRunning { process.terminate() } }
        try output.waitFor(err: "insert the card for Erin")
        let backupPath = desk.path("institution-backup.json")
        try FileManager.default.copyItem(atPath: institutionCard.statePath, toPath: backupPath)
        let backup = try PluggedSoftCard(statePath: backupPath, context: context)
        try output.waitFor(err: "remove the card")
        #expect(output.err.contains("refused:") && output.err.contains("institution's own card"), "\(output.err)")
        #expect(try desk.ok(["card", "address", "--reader", Rig.reader]).contains(institution), "the backup was reset")
        backup.remove(context: context)
        try output.waitFor(err: "insert the card for Erin", count: 2)
        let erin = try PluggedSoftCard(serial: [0x33, 0x33, 0x00, 0x05], context: context)
        try output.waitFor(err: "remove the card", count: 2)
        erin.remove(context: context)
        let end = Date().addingTimeInterval(30)
        while process.isRunning && Date() < end { Thread.sleep(forTimeInterval: 0.1) }
        #expect(!process.isRunning && process.terminationStatus == 1 && output.err.contains("1 card was refused"), "\(output.err)")
        let rows = try desk.rosterJSON()
        #expect(rows.count == 1 && rows.first?["holder"]?.stringValue == "Erin" && rows.first?["serial"]?.stringValue == "33330005")
    }

    /// `institution enroll --batch` for `holders`, running; its output gathered as it comes.
    static func batch(_ desk: InstitutionDesk, holders: [String]) throws -> (Process, OutputCollector) {
        let process = Process()
        process.executableURL = desk.paratii
        process.arguments =
            ["institution", "enroll", "--batch", "--reader", Rig.reader, "--json"] + holders.flatMap { ["--holder", $0] }
            + desk.institutionCard
        process.environment = ProcessInfo.processInfo.environment.merging([
            "XDG_DATA_HOME": desk.path("data"), "XDG_CONFIG_HOME": desk.path("config"),
        ]) { $1 }
        let output = OutputCollector()
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        process.standardInput = FileHandle.nullDevice
        out.fileHandleForReading.readabilityHandler = { output.append(out: $0.availableData) }
        err.fileHandleForReading.readabilityHandler = { output.append(err: $0.availableData) }
        try process.run()
        return (process, output)
    }
}

/// A child process's output, gathered as it comes.
final class OutputCollector: @unchecked Sendable {
    private let lock = NSLock()
    private var outData = Data(), errData = Data()
    func append(out data: Data) { lock.withLock { outData.append(data) } }
    func append(err data: Data) { lock.withLock { errData.append(data) } }
    var out: String { lock.withLock { String(decoding: outData, as: UTF8.self) } }
    var err: String { lock.withLock { String(decoding: errData, as: UTF8.self) } }

    func waitFor(err text: String, count: Int = 1, timeout: TimeInterval = 60) throws {
        let deadline = Date().addingTimeInterval(timeout)
        while err.components(separatedBy: text).count - 1 < count {
            try #require(Date() < deadline, "no '\(text)' (x\(count)) within \(Int(timeout)) s; stderr: \(err) stdout: \(out)")
            Thread.sleep(forTimeInterval: 0.1)
        }
    }
}
