import ArgumentParser
import Delegation
import Ethereum
import Foundation
import Institution
import PCSC
import Storage

extension InstitutionCommand {
    struct Enroll: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Wipe a staff card, generate its key, set random PINs (shown once), attest it and record it in the roster.",
            discussion: """
                The staff card's reader (--reader) and the institution card's reader (--institution-reader) are both explicit; \
                the institution's own card is never reset. With --batch, each card inserted into --reader is enrolled for the next \
                --holder, then you are asked to remove it, until every holder has a card (or Ctrl-C).
                """)
        @OptionGroup var roster: RosterOption
        @OptionGroup var institution: InstitutionCardOptions
        @Option(help: "Reader holding the staff card to enroll (it is factory-reset).") var reader: String
        @Option(help: "The card holder's name (repeatable with --batch: one card per name, in order).") var holder: [String] = []
        @Option(help: "This card's ceiling instead of the policy's (repeatable, same form as `institution init`).") var ceiling: [String] =
            []
        @Flag(help: "Wipe and re-enroll a card that is enrolled and not revoked (its old attestation is revoked).") var reEnroll = false
        @Flag(help: "Enroll one card after another as they are inserted.") var batch = false
        @Option(help: "Directory for the attestation files, SERIAL.json (default: attestations/ next to the roster).") var attestations:
            String?
        @Flag(help: "One JSON object per card (PINs included) instead of text.") var json = false
        @OptionGroup var config: ConfigOption

        func run() async throws {
            guard !holder.isEmpty else { throw CLIError("--holder NAME is needed") }
            guard batch || holder.count == 1 else { throw CLIError("several --holder names need --batch") }
            let configuration = try config.load()
            let ceilings = try ceiling.isEmpty ? nil : ceiling.map { try Allowance(spec: $0, configuration: configuration) }
            let opened = try roster.open()
            let states = try cliPCSC { try OpenCard.context().readerStates() }
            let staffReader = try OpenCard.reader(reader, among: states).name
            guard staffReader != (try OpenCard.reader(institution.institutionReader, among: states).name) else {
                throw CLIError("--reader and --institution-reader name the same reader: the staff card goes in the other one")
            }
            let signer = try institution.signer(for: opened.policy)
            let enrollment = Enrollment(roster: opened, institution: signer, domain: configuration.domain)
            let directory = attestations ?? (Paths.directory(of: opened.path) + "/attestations")
            try PrivateDirectory.createMissing(directory)
            let session = Session(
                enrollment: enrollment, reader: staffReader, ceiling: ceilings, reEnroll: reEnroll,
                directory: directory, json: json, configuration: configuration)
            guard batch else { return try session.enroll(holder: holder[0]) }
            try await session.batch(holders: holder)
        }
    }

    /// One enrollment run: a card at a time, printed as it goes.
    struct Session {
        let enrollment: Enrollment
        let reader: String
        let ceiling: [Allowance]?
        let reEnroll: Bool
        let directory: String
        let json: Bool
        let configuration: Configuration

        func enroll(holder: String) throws {
            let staff = try OpenCard.open(ReaderOption.parse(["--reader", reader]))
            let done = try cliPCSC {
                try enrollment.enroll(staff: staff.card, holder: holder, ceiling: ceiling, reEnroll: reEnroll, now: TimeText.now)
            }
            let card = done.record
            let file = directory + "/\(card.serial).json"
            try CLIOutput.write(card.attestation.json, to: file)
            if json {
                print(
                    JSONValue.object([
                        "serial": .string(card.serial), "holder": .string(card.holder), "master": .string(card.master.checksummed),
                        "attestation": .string(card.attestationId.hexString), "attestationFile": .string(file),
                        "validUntil": .number(String(card.validUntil)), "userPin": .string(done.userPIN),
                        "adminPin": .string(done.adminPIN),
                    ]).terminalCompactText)
                return
            }
            print(
                """
                enrolled card \(TerminalText.escape(card.serial)) for \(TerminalText.escape(card.holder))\(done.replaced.map { " (its previous attestation \($0.attestationId.hexString) is revoked)" } ?? "")
                  master address:  \(card.master.checksummed)
                  ceiling:         \(card.ceiling.map { $0.summary(configuration) }.joined(separator: "; "))
                  attested until:  \(TimeText.format(card.validUntil))
                  attestation:     \(file)
                  user PIN:        \(done.userPIN)
                  admin PIN:       \(done.adminPIN)
                  These PINs are shown this once and stored nowhere: hand them to \(TerminalText.escape(card.holder)) now.
                """)
        }

        /// Waits for each card in the staff reader (reader events, no polling), enrolls it for the
        /// next holder and waits for its removal. A refused card keeps its holder for the next card.
        func batch(holders: [String]) async throws {
            var pending = holders[...]
            var refused = 0
            var awaitingRemoval = false
            say("insert the card for \(pending.first!) into \(reader) (Ctrl-C to stop)")
            for await event in ReaderMonitor.events() {
                switch event {
                case .cardInserted(reader, _) where !awaitingRemoval:
                    awaitingRemoval = true
                    do {
                        try enroll(holder: pending.first!)
                        pending = pending.dropFirst()
                    } catch {
                        refused += 1
                        TerminalOutput.warn("refused: \(error)")
                    }
                    say("remove the card from \(reader)")
                case .cardRemoved(reader):
                    awaitingRemoval = false
                    guard let next = pending.first else { break }
                    say("insert the card for \(next) into \(reader)")
                case .serviceLost:
                    say("pcscd went away: waiting for it to come back")
                default:
                    continue
                }
                if pending.isEmpty && !awaitingRemoval { break }
            }
            if refused > 0 { throw CLIError("\(refused) card\(refused == 1 ? " was" : "s were") refused") }
        }

        /// Prompts go to stderr: stdout carries only the enrolled cards.
        private func say(_ text: String) { TerminalOutput.warn(text) }
    }
}
