import ArgumentParser
import Delegation
import Ethereum
import Foundation

/// `paratii verify`: checks an envelope back to its master key, offline. Prints one JSON object;
/// exits 0 when valid, 1 when invalid, 2 when the input cannot be used at all.
struct VerifyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "verify",
        abstract: "Verify a voucher, vote, delegation or attestation envelope back to its master key."
    )

    @Argument(help: "Envelope JSON file, or - for standard input.") var file: String
    @Option(help: "Revocation list (JSON array of Revocation envelopes).") var revocations: String?
    @Option(help: "Require a CardAttestation from this institution at the chain's root.") var institution: String?
    @Option(help: "Verify as of this time (unix seconds or ISO 8601) instead of now.") var at: String?
    @OptionGroup var config: ConfigOption

    func run() throws {
        do {
            let configuration = try config.load()
            var list = RevocationList()
            var notes: [String] = []
            if let revocations { (list, notes) = try RevocationList.load(revocations) }
            let required = try institution.map { try Address($0) }
            let time = try at.map(TimeText.parse) ?? TimeText.now
            let envelope = try Envelope(parsing: try CLIInput.bytes(file))
            var verdict = Verifier(domain: configuration.domain, revocations: list, institution: required).verify(envelope, at: time)
            verdict.notes = notes + verdict.notes
            for note in verdict.notes { TerminalOutput.warn("note: \(note)") }
            var json = verdict.json
            // A payee sees how much of the delegation's total this voucher claims (its exposure).
            let exposure = verdict.valid ? Exposure(envelope, configuration: configuration) : nil
            if let exposure, case .object(var object) = json {
                for (key, value) in exposure.json { object[key] = value }
                json = .object(object)
            }
            print(json.terminalCompactText)
            if let exposure { TerminalOutput.warn("note: this voucher \(exposure.sentence)") }
            if !verdict.valid { throw ExitCode(1) }
        } catch let exit as ExitCode {
            throw exit
        } catch {
            TerminalOutput.warn("Error: \(error)")
            throw ExitCode(2)
        }
    }
}
