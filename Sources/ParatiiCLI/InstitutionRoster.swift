import ArgumentParser
import Delegation
import Ethereum
import Foundation
import Institution

extension InstitutionCommand {
    /// `paratii institution roster …`: who holds which card.
    struct RosterCommand: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "roster", abstract: "Who holds which card: list, export, a card's attestation.",
            subcommands: [List.self, Export.self, Attestation.self])
    }
}

extension InstitutionCommand.RosterCommand {
    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Every enrolled card, revoked ones included.")
        @OptionGroup var roster: RosterOption
        @Flag(help: "JSON output.") var json = false
        @OptionGroup var config: ConfigOption

        func run() throws {
            let opened = try roster.open()
            let cards = try opened.cards()
            if json { return print(JSONValue.array(cards.map(\.json)).terminalPrettyText) }
            let configuration = try config.load()
            print("institution \(opened.policy.institution.checksummed): \(cards.count) card\(cards.count == 1 ? "" : "s")")
            for card in cards {
                let state = card.revokedAt.map { "REVOKED \(TimeText.format($0))" } ?? "valid until \(TimeText.format(card.validUntil))"
                print(
                    "\(TerminalText.escape(card.serial))  \(TerminalText.escape(card.holder))  \(card.master.checksummed)  \(state)  [\(card.ceiling.map { $0.summary(configuration) }.joined(separator: "; "))]"
                )
            }
        }
    }

    struct Export: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "The roster as CSV or JSON, for a spreadsheet or another system.")
        @OptionGroup var roster: RosterOption
        @Flag(help: "CSV (serial, holder, master, enrolledAt, validUntil, revokedAt, attestation).") var csv = false
        @Flag(help: "JSON array, with each card's ceiling.") var json = false
        @Option(help: "Write here instead of stdout.") var out: String?

        func run() throws {
            guard csv != json else { throw CLIError("give --csv or --json") }
            let cards = try roster.open().cards()
            let text = csv ? String(CardRecord.csv(cards).dropLast()) : JSONValue.array(cards.map(\.json)).prettyText
            try CLIOutput.write(text, to: out)
        }
    }

    struct Attestation: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Print the attestation envelope of an unrevoked card (what `delegate spending --attestation` takes).")
        @OptionGroup var roster: RosterOption
        @Argument(help: "The card's serial.") var serial: String

        func run() throws {
            guard let card = try roster.open().liveCard(serial: serial.uppercased()) else {
                throw InstitutionError.noSuchCard("card \(serial)")
            }
            print(card.attestation.json.terminalPrettyText)
        }
    }
}
