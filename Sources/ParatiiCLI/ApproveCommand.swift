import ArgumentParser
import Bridge
import Delegation
import Ethereum
import Foundation
import OpenPGPCard
import Storage

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
    @Option(help: "The card's CardAttestation envelope (an institution's card): carried as each delegation's root; a request above its ceiling is refused before the PIN is asked.")
    var attestation: String?
    @Flag(help: "JSON output for the listing.") var json = false
    @Option(help: "The pairing code the player shows (asked for when approving a pairing without it).") var code: String?
    @Option(help: "Confirm a top-up to an address other than the player's wallet: repeat that address here.")
    var confirmRecipient: String?

    func run() throws {
        // The PIN passes through this process's memory: no core file may keep it.
        ProcessHardening.disableCoreDumps()
        let client = bridge.client()
        let response = try client.get("/v1/admin/pending")
        guard response.status == 200, let pending = response.json else { throw CLIError(response.errorText) }
        let pairings = pending["pairings"]?.arrayValue ?? []
        let requests = pending["requests"]?.arrayValue ?? []
        let local = try config.load()
        let configuration = try pending["configuration"].map { value in
            do { return try Configuration(json: value) } catch { throw CLIError("the bridge sent an unreadable configuration: \(error)") }
        } ?? local
        if id != nil, configuration != local {
            FileHandle.standardError.write(Data("note: signing for the bridge's chain \(configuration.chainId) (contract \(configuration.verifyingContract)), not this machine's configuration\n".utf8))
        }
        guard let id else {
            if json { return print(pending.prettyText) }
            if pairings.isEmpty && requests.isEmpty { return print("nothing waits for approval") }
            for pairing in pairings {
                print("pairing \(pairing["id"]?.stringValue ?? "?"): player \"\(TerminalText.escape(pairing["name"]?.stringValue ?? ""))\"")
            }
            for request in requests { print(try describe(request, configuration)) }
            return
        }
        let wanted = try BridgeSocketOption.checkID(id)
        if let pairing = pairings.first(where: { $0["id"]?.stringValue == wanted }) {
            if !deny { try confirmCode(pairing) }
            let result = try client.request("POST", "/v1/admin/pairings/\(wanted)/\(deny ? "deny" : "approve")")
            guard result.status == 200 else { throw CLIError(result.errorText) }
            return print(deny ? "pairing denied" : "pairing approved")
        }
        guard let request = requests.first(where: { $0["id"]?.stringValue == wanted }) else {
            throw CLIError("nothing pending with id \(wanted) (run `paratii approve` to list)")
        }
        let kind = request["kind"]?.stringValue ?? "delegation"
        let path = "/v1/admin/\(kind == "transaction" ? "transaction" : "delegation")-requests/\(wanted)"
        if deny {
            let result = try client.request("POST", "\(path)/deny")
            guard result.status == 200 else { throw CLIError(result.errorText) }
            return print("request denied")
        }
        guard let body = request["request"] else { throw CLIError("the bridge sent a request without its body") }
        FileHandle.standardError.write(Data((try describe(request, configuration) + "\n").utf8))
        if kind == "transaction" {
            let asked: TransactionRequest
            do { asked = try TransactionRequest(json: body, configuration: configuration) } catch { throw CLIError("\(error)") }
            try confirmRecipient(asked, wallet: request["wallet"]?.stringValue)
            let what = "a top-up of \(configuration.formatAmount(asked.amount, token: asked.token)) \(configuration.tokenName(asked.token)) to \(asked.to.checksummed)"
            let (signed, counter) = try withCard(client, path, what: what) { signer in try asked.transaction(chainId: configuration.chainId).sign(with: signer) }
            try post(client, path, ["raw": .string(signed.raw.hexString)], counter)
            print("approved: transaction \(signed.hash.hexString) signed by \(signed.from.checksummed)")
        } else {
            let asked: DelegationRequest
            do { asked = try DelegationRequest(json: body, configuration: configuration) } catch { throw CLIError("\(error)") }
            let attested = try attestation.map { try Self.loadAttestation($0, configuration) }
            if let attested, let refusal = attested.message.refusal(for: asked.delegation(master: attested.message.master, now: TimeText.now)) {
                throw CLIError("refused before signing: \(refusal) (the request stays pending: deny it with --deny)")
            }
            let caps = asked.allowances.map { $0.summary(configuration) }.joined(separator: "; ")
            let what = "a spending delegation to \(asked.spender.checksummed) for \(Units.formatDuration(asked.validFor)): \(caps)"
            let (envelope, counter) = try withCard(client, path, what: what, expecting: attested?.message.master) { signer in
                try Envelope.sign(asked.delegation(master: signer.address, now: TimeText.now), domain: configuration.domain, signer: signer,
                                  parents: attested.map { [$0.envelope] } ?? [])
            }
            try post(client, path, ["envelope": envelope.json], counter)
            print("approved: delegation \(envelope.id.hexString) signed by \(signer(envelope))")
        }
    }

    private func post(_ client: BridgeClient, _ path: String, _ object: JSONObject, _ counter: Int?) throws {
        var object = object
        if let counter { object["signatureCounter"] = .number("\(counter)") }
        let result = try client.post("\(path)/approve", .object(object))
        guard result.status == 200 else { throw CLIError(result.errorText) }
    }

    /// A CardAttestation envelope for this configuration's chain and contract.
    static func loadAttestation(_ path: String, _ configuration: Configuration) throws -> (envelope: Envelope, message: CardAttestation) {
        let envelope = try Envelope(parsing: try CLIInput.bytes(path))
        guard case .attestation(let attestation) = envelope.message else { throw CLIError("--attestation must be a CardAttestation envelope") }
        guard envelope.domain == configuration.domain else { throw CLIError("the attestation is for another chain or contract than the bridge's") }
        return (envelope, attestation)
    }

    private func signer(_ envelope: Envelope) -> String {
        (envelope.message.typed as? SpendingDelegation)?.master.checksummed ?? "?"
    }

    /// One request at a time on the card (an exclusive lock next to the socket): open it, ask the PIN,
    /// sign, read the signature counter. A wrong PIN leaves the request pending; a card pulled
    /// mid-signature, blocked, or any other card fault fails the request cleanly.
    private func withCard<T>(_ client: BridgeClient, _ path: String, what: String, expecting expected: Address? = nil,
                             _ sign: (ApprovalSigner) throws -> T) throws -> (T, Int?) {
        let lockPath = Paths.directory(of: client.socketPath ?? BridgeSettings.defaultSocketPath) + "/card.lock"
        let lock = try SecureFile.openLock(lockPath)
        defer { close(lock) }
        flock(lock, LOCK_EX)

        let card = try OpenCard.open(readerOption)
        guard let key = try cliPCSC({ try card.card.publicKey() }) else { throw CLIError("the card has no signature key: run `paratii card init`") }
        if let expected, key.address != expected {
            throw CLIError("the attestation is for card key \(expected), but the card in \(card.reader) holds \(key.address)")
        }
        let pin: PIN
        if let pinentry, pinFile == nil {
            pin = try Pinentry(program: pinentry).askPIN(description: "paratii approve: the card in \(card.reader) signs \(what).")
        } else {
            pin = try PINInput.read(file: pinFile, prompt: "PIN of the card in \(card.reader): ")
        }
        let signer = ApprovalSigner(card: card.card, pin: pin, allowLastTry: lastTry.allowLastTry, address: key.address)
        let signed: T
        do {
            signed = try sign(signer)
        } catch {
            switch error as? OpenPGPCardError {
            case .wrongPIN, .invalidPIN, .lastTryProtected, .pinValidForSeveralSignatures:
                throw CLIError("\(error) (the request stays pending)")
            default:
                _ = try? client.post("\(path)/fail", .object(["reason": .string("card: \(error)")]))
                throw CLIError("\(error): the request failed")
            }
        }
        return (signed, try? card.card.signatureCounter())
    }

    /// The user types the code the player shows, so the pairing approved is the player they are looking at.
    private func confirmCode(_ pairing: JSONValue) throws {
        let name = TerminalText.escape(pairing["name"]?.stringValue ?? "")
        guard let expected = pairing["code"]?.stringValue else { throw CLIError("the bridge sent a pairing without its code") }
        var typed = code
        if typed == nil {
            guard isatty(STDIN_FILENO) == 1 else { throw CLIError("give --code CODE: the code player \"\(name)\" shows") }
            FileHandle.standardError.write(Data("player \"\(name)\" asks to pair; type the code it shows: ".utf8))
            typed = readLine(strippingNewline: true)
        }
        guard let typed, ConstantTime.equal(Array(typed.trimmingCharacters(in: .whitespaces).utf8), Array(expected.utf8)) else {
            throw CLIError("that is not the code of player \"\(name)\": the pairing stays pending (deny it with --deny)")
        }
    }

    /// A top-up goes to the requesting player's wallet; anywhere else only when the user repeats the address.
    private func confirmRecipient(_ asked: TransactionRequest, wallet: String?) throws {
        guard let walletAddress = wallet.flatMap({ try? Address($0) }), walletAddress == asked.to else {
            let known = wallet.map { "this player's wallet is \($0)" } ?? "this player has no wallet on record"
            FileHandle.standardError.write(Data("WARNING: the top-up goes to \(asked.to.checksummed), and \(known)\n".utf8))
            guard let confirmRecipient, (try? Address(confirmRecipient)) == asked.to else {
                throw CLIError("confirm the recipient with --confirm-recipient \(asked.to.checksummed), or deny it with --deny (the request stays pending)")
            }
            return
        }
    }

    func describe(_ request: JSONValue, _ configuration: Configuration) throws -> String {
        var lines = ["request \(request["id"]?.stringValue ?? "?") from player \"\(TerminalText.escape(request["player"]?.stringValue ?? "?"))\""]
        if request["kind"]?.stringValue == "transaction" {
            if let body = request["request"], let asked = try? TransactionRequest(json: body, configuration: configuration) {
                lines += asked.summary(configuration)
            }
        } else if let body = request["request"], let asked = try? DelegationRequest(json: body, configuration: configuration) {
            lines.append("  spender \(asked.spender.checksummed), valid for \(Units.formatDuration(asked.validFor)) from approval")
            for allowance in asked.allowances { lines.append("  \(allowance.summary(configuration))") }
            lines.append(asked.payees.isEmpty ? "  payees: any" : "  payees: \(asked.payees.map(\.checksummed).joined(separator: ", "))")
        }
        if case .number(let text) = request["expiresAt"], let until = UInt64(text) { lines.append("  waits until \(TimeText.format(until))") }
        return lines.joined(separator: "\n")
    }
}

/// The card's signature key for one approval; card errors pass through typed, so a wrong PIN can
/// leave the request pending while a pulled card fails it.
final class ApprovalSigner: DigestSigner {
    let card: OpenPGPCard
    let pin: PIN
    let allowLastTry: Bool
    let address: Address

    init(card: OpenPGPCard, pin: PIN, allowLastTry: Bool, address: Address) {
        self.card = card
        self.pin = pin
        self.allowLastTry = allowLastTry
        self.address = address
    }

    func sign(digest: [UInt8]) throws -> Signature { try card.sign(digest: digest, pin: pin, allowLastTry: allowLastTry) }
}
