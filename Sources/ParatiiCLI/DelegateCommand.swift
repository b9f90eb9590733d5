import ArgumentParser
import BigInt
import Delegation
import Ethereum
import Foundation

/// `paratii delegate …`: build and sign delegations and revocations, and show them to a human.
struct DelegateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "delegate",
        abstract: "Sign spending and posting delegations and revocations; show delegations.",
        subcommands: [Spending.self, Posting.self, Revoke.self, Show.self]
    )
}

/// How long a delegation lasts: `--valid-for 30d` or `--valid-until DATE`.
struct ValidityOptions: ParsableArguments {
    @Option(help: "Lifetime from now, e.g. 12h, 30d, 2w.") var validFor: String?
    @Option(help: "End of validity (unix seconds or ISO 8601).") var validUntil: String?

    func window(defaultLifetime: UInt64, now: UInt64) throws -> (after: UInt64, until: UInt64) {
        if validFor != nil && validUntil != nil { throw CLIError("give --valid-for or --valid-until, not both") }
        let until = try validUntil.map(TimeText.parse) ?? now + (try validFor.map { try Units.parseDuration($0) } ?? defaultLifetime)
        guard until > now else { throw CLIError("the delegation would already be expired") }
        return (now, until)
    }
}

extension DelegateCommand {
    struct Spending: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Have the master key sign a SpendingDelegation for a spender.",
            discussion:
                "Amounts are decimal in the token's own decimals (18 for ETH and PTI). Example:\n  --allowance 'token=ETH,total=0.05,per-payment=0.0001,period=1d,per-period=0.01'"
        )
        @Option(help: "The spending key's address.") var spender: String
        @Option(help: "token=ETH|PTI|ADDR,total=DEC[,per-payment=DEC][,period=DUR,per-period=DEC] (repeatable).")
        var allowance: [String] = []
        @Option(help: "Allowed payee (repeatable; none means any payee).") var payee: [String] = []
        @OptionGroup var validity: ValidityOptions
        @Option(help: "Write the envelope here instead of stdout.") var out: String?
        @OptionGroup var master: MasterSignerOptions
        @OptionGroup var config: ConfigOption

        func run() throws {
            let configuration = try config.load()
            guard !allowance.isEmpty else { throw CLIError("at least one --allowance is needed") }
            // The contract redeems at most these many: a larger delegation would be signed for nothing.
            guard allowance.count <= SpendingDelegation.maxAllowances, payee.count <= SpendingDelegation.maxPayees else {
                throw CLIError(
                    "at most \(SpendingDelegation.maxAllowances) allowances and \(SpendingDelegation.maxPayees) payees (the contract's bounds)"
                )
            }
            let allowances = try allowance.map { try Allowance(spec: $0, configuration: configuration) }
            let window = try validity.window(defaultLifetime: 30 * 86400, now: TimeText.now)
            let parents = try master.attestationParents()
            // An attested card's delegation is checked against its attestation before the card is asked
            // for a PIN: a refusal signs nothing.
            var attested: CardAttestation?
            if case .attestation(let attestation)? = parents.first?.message {
                guard parents[0].domain == configuration.domain else {
                    throw CLIError("the attestation is for another chain or contract than the configuration's")
                }
                attested = attestation
            }
            var delegation = SpendingDelegation(
                master: attested?.master ?? .zero, spender: try Address(spender), allowances: allowances,
                payees: try payee.map { try Address($0) }, validAfter: window.after, validUntil: window.until,
                salt: Salt.random())
            if let attested, let refusal = attested.refusal(for: delegation) { throw CLIError("refused before signing: \(refusal)") }
            let signer = try master.signer()
            delegation.master = signer.address
            if let attested, let refusal = attested.refusal(for: delegation) { throw CLIError("refused before signing: \(refusal)") }
            let envelope = try Envelope.sign(delegation, domain: configuration.domain, signer: signer, parents: parents)
            try CLIOutput.write(envelope.json, to: out)
        }
    }

    struct Posting: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Have a spending key sign a PostingDelegation for a poster.")
        @OptionGroup var keystore: KeystoreOptions
        @Option(help: "The SpendingDelegation envelope this posting key hangs under.") var parent: String
        @Option(help: "The posting key's address.") var poster: String
        @Option(help: "Comma-separated: rate, flag, moderate.") var scopes: String
        @OptionGroup var validity: ValidityOptions
        @Option(help: "Write the envelope here instead of stdout.") var out: String?

        func run() throws {
            let parentEnvelope = try Envelope(parsing: try CLIInput.bytes(parent))
            guard case .spending(let spending) = parentEnvelope.message else {
                throw CLIError("--parent must be a SpendingDelegation envelope")
            }
            let granted = try Scopes(parsing: scopes)
            let now = max(TimeText.now, spending.validAfter)
            let window = try validity.window(defaultLifetime: 30 * 86400, now: now)
            let posting = PostingDelegation(
                parent: parentEnvelope.id, spender: spending.spender, poster: try Address(poster), scopes: granted,
                validAfter: window.after, validUntil: min(window.until, spending.validUntil), salt: Salt.random())
            let key = try keystore.open()
            let parents = [parentEnvelope] + parentEnvelope.parents
            let envelope = try Envelope.sign(posting, domain: parentEnvelope.domain, signer: key, parents: parents)
            try CLIOutput.write(envelope.json, to: out)
        }
    }

    struct Revoke: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Sign a Revocation of an id (a delegation, an attestation…) with the master key or a spending keystore.")
        @Argument(help: "The 0x id (EIP-712 digest) to revoke.") var id: String
        @Option(help: "Sign with this keystore (a spending key revoking its posting delegations).") var keystore: String?
        @Option(help: "Password file for --keystore.") var passwordFile: String?
        @OptionGroup var master: MasterSignerOptions
        @Option(help: "Append the revocation to this list file (created if missing).") var list: String?
        @Option(help: "Write the envelope here instead of stdout.") var out: String?
        @OptionGroup var config: ConfigOption

        func run() throws {
            let target = try [UInt8](hex: id)
            guard target.count == 32 else { throw CLIError("an id is 32 bytes of hex") }
            let signer: any DigestSigner
            if let keystore {
                signer = try KeystoreOptions.parse(["--keystore", keystore] + (passwordFile.map { ["--password-file", $0] } ?? [])).open()
            } else {
                signer = try master.signer()
            }
            let revocation = Revocation(issuer: signer.address, target: target, issuedAt: TimeText.now)
            let envelope = try Envelope.sign(revocation, domain: try config.load().domain, signer: signer)
            if let list {
                var current = FileManager.default.fileExists(atPath: list) ? try RevocationList.load(list).list : RevocationList()
                if let refusal = current.add(envelope) { throw CLIError(refusal) }
                try current.save(list)
            }
            try CLIOutput.write(envelope.json, to: out)
        }
    }

    struct Show: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Describe an envelope for a human: who, what caps, until when.")
        @Argument(help: "Envelope JSON file, or - for standard input.") var file: String
        @OptionGroup var config: ConfigOption

        func run() throws {
            let envelope = try Envelope(parsing: try CLIInput.bytes(file))
            print(EnvelopeDescription(envelope, configuration: try config.load()).text)
        }
    }
}
