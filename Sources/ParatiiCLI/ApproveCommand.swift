import ArgumentParser
import Bridge
import Delegation
import Ethereum
import Foundation
import OpenPGPCard

/// `paratii approve`: the user's side of the bridge. Lists what waits (pairings, delegation requests)
/// and approves or denies one. For a delegation request this command itself opens the card, asks the
/// PIN (no echo) and signs; it then hands the signed envelope to the bridge over its Unix socket, which
/// checks it grants exactly what was asked and verifies before releasing it to the player.
struct ApproveCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "approve",
        abstract: "List pending pairings, delegation and transaction requests; approve (the card signs) or deny one."
    )

    @OptionGroup var bridge: BridgeSocketOption
    @OptionGroup var config: ConfigOption
    @OptionGroup var readerOption: ReaderOption
    @OptionGroup var lastTry: LastTryFlag
    @Argument(help: "The pairing or request id to decide; without it, list what waits.") var id: String?
    @Flag(help: "Deny instead of approving.") var deny = false
    @Option(help: "Read the card PIN from this file (first line) instead of asking.") var pinFile: String?
    @Option(help: "Ask the PIN through this pinentry program (e.g. pinentry-tty, pinentry-gnome3), as gpg-agent does.")
    var pinentry: String?
    @Option(
        help:
            "The card's CardAttestation envelope (an institution's card): carried as each delegation's root; a request above its ceiling is refused before the PIN is asked."
    )
    var attestation: String?
    @Flag(help: "JSON output for the listing.") var json = false
    @Option(help: "Without an id: when nothing waits, wait up to this many seconds for a request or pairing, then list.")
    var wait: Int?
    @Option(help: "The pairing code the player shows (asked for when approving a pairing without it).") var code: String?
    @Option(help: "Confirm a top-up to an address other than the player's wallet: repeat that address here.")
    var confirmRecipient: String?

    func run() throws {
        // The PIN passes through this process's memory: no core file may keep it.
        ProcessHardening.disableCoreDumps()
        let local = try config.load()
        let approver = Approver(client: bridge.client(), configuration: local)
        var work = try approver.pending()
        guard let id else {
            if let wait {
                guard wait >= 0 else { throw CLIError("--wait takes a number of seconds, 0 or more") }
                if work.pairings.isEmpty && work.requests.isEmpty { work = try approver.waitForWork(seconds: wait) }
            }
            return list(work)
        }
        guard wait == nil else { throw CLIError("--wait is for the listing: give no id with it") }
        let wanted = try BridgeSocketOption.checkID(id)
        if work.configuration != local {
            TerminalOutput.warn(
                "note: signing for the bridge's chain \(work.configuration.chainId) (contract \(work.configuration.verifyingContract)), not this machine's configuration"
            )
        }
        if let pairing = work.pairings.first(where: { $0.id == wanted }) {
            try approver.decide(pairing, approve: !deny, typedCode: deny ? nil : try typedCode(pairing))
            return print(deny ? "pairing denied" : "pairing approved")
        }
        guard let request = work.requests.first(where: { $0.id == wanted }) else {
            throw CLIError("nothing pending with id \(wanted) (run `paratii approve` to list)")
        }
        if deny {
            try approver.deny(request)
            return print("request denied")
        }
        FileHandle.standardError.write(Data((describe(request, work.configuration) + "\n").utf8))
        if case .transaction(let asked) = request.ask, asked.needsConfirmedRecipient(wallet: request.wallet) {
            let known = request.wallet.map { "this player's wallet is \($0.checksummed)" } ?? "this player has no wallet on record"
            TerminalOutput.warn("WARNING: the top-up goes to \(asked.to.checksummed), and \(known)")
        }
        let attested = try attestation.map { try Envelope(parsing: try CLIInput.bytes($0)) }
        let approved = try approver.approve(
            request, in: work, card: cardAccess(), attestation: attested,
            confirmedRecipient: try confirmRecipient.map { try Address($0) }, now: TimeText.now)
        switch approved {
        case .transaction(let signed): print("approved: transaction \(signed.hash.hexString) signed by \(signed.from.checksummed)")
        case .delegation(let envelope):
            print(
                "approved: delegation \(envelope.id.hexString) signed by \((envelope.message.typed as? SpendingDelegation)?.master.checksummed ?? "?")"
            )
        }
    }

    private func list(_ work: PendingWork) {
        if json { return print(TerminalOutput.document(work.json.prettyText)) }
        if work.pairings.isEmpty && work.requests.isEmpty { return print("nothing waits for approval") }
        for pairing in work.pairings { print("pairing \(pairing.id): player \"\(TerminalText.escape(pairing.name))\"") }
        for request in work.requests { print(describe(request, work.configuration)) }
    }

    func describe(_ request: PendingWork.Request, _ configuration: Configuration) -> String {
        (request.summary(configuration) + ["  waits until \(TimeText.format(request.expiresAt))"]).joined(separator: "\n")
    }

    /// The code the user reads off the player: `--code`, or typed at the terminal.
    private func typedCode(_ pairing: PendingWork.Pairing) throws -> String? {
        if let code { return code }
        let name = TerminalText.escape(pairing.name)
        guard isatty(STDIN_FILENO) == 1 else { throw CLIError("give --code CODE: the code player \"\(name)\" shows") }
        FileHandle.standardError.write(Data("player \"\(name)\" asks to pair; type the code it shows: ".utf8))
        return readLine(strippingNewline: true)
    }

    /// The card by `--reader`, the PIN from `--pin-file`, a pinentry or a no-echo prompt.
    private func cardAccess() -> Approver.CardAccess {
        Approver.CardAccess(
            open: { [readerOption] in
                let card = try OpenCard.open(readerOption)
                return (card.card, card.reader)
            },
            pin: { [pinentry, pinFile] reader, signs in
                if let pinentry, pinFile == nil {
                    return try Pinentry(program: pinentry).askPIN(description: "paratii approve: the card in \(reader) signs \(signs).")
                }
                return try PINInput.read(file: pinFile, prompt: "PIN of the card in \(reader): ")
            },
            allowLastTry: lastTry.allowLastTry)
    }
}
