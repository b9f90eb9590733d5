import ArgumentParser
import Delegation
import Ethereum
import Foundation
import Institution
import OpenPGPCard
import Storage

/// `paratii institution …`: an institution's own card attests its staff's cards, keeps the roster
/// and revokes lost cards. Enrollment is in InstitutionEnroll.swift, the roster views in InstitutionRoster.swift.
struct InstitutionCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "institution",
        abstract: "Enroll staff cards under an institution's card: attestations, roster, revocation.",
        subcommands: [Init.self, Enroll.self, Revoke.self, Publish.self, RosterCommand.self]
    )
}

/// `--roster FILE`: the institution's roster database.
struct RosterOption: ParsableArguments {
    @Option(help: "Roster database (default $XDG_DATA_HOME/paratii/institution/roster.sqlite).") var roster: String?

    var path: String {
        roster ?? Paths.data + "/institution/roster.sqlite"
    }

    func open() throws -> Roster { try Roster.open(path: path) }
}

/// The institution's own card: which reader holds it (always explicit) and its PIN.
struct InstitutionCardOptions: ParsableArguments {
    @Option(help: "Reader holding the institution's card (its name, or a unique part of it).") var institutionReader: String
    @Option(help: "File whose first line is the institution card's user PIN (else a no-echo prompt).") var institutionPinFile: String?
    @OptionGroup var lastTry: LastTryFlag

    func open() throws -> OpenCard { try OpenCard.open(ReaderOption.parse(["--reader", institutionReader])) }

    /// The institution card as a signer, once it is shown to be the roster's institution and its PIN
    /// verified: a wrong PIN stops the command before any staff card is touched.
    func signer(for policy: Policy) throws -> CardDigestSigner {
        let card = try open()
        let pin = try PINInput.read(file: institutionPinFile, prompt: "User PIN of the institution card in \(card.reader): ")
        let signer = try CardDigestSigner(open: card, pin: pin, allowLastTry: lastTry.allowLastTry)
        guard signer.address == policy.institution else {
            throw InstitutionError.notTheInstitution(expected: policy.institution, actual: signer.address)
        }
        do { try cliPCSC { try card.card.verify(.userSign, pin: pin, allowLastTry: lastTry.allowLastTry) } } catch {
            throw CLIError("institution card: \(error)")
        }
        return signer
    }
}

extension InstitutionCommand {
    struct Init: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Create the roster: the institution card's address, the default ceiling and the attestation lifetime.",
            discussion:
                "Example:\n  paratii institution init --institution-reader 'PCD 00 01' --ceiling 'token=ETH,total=0.5,per-payment=0.01' --attestation-lifetime 365d"
        )
        @OptionGroup var roster: RosterOption
        @Option(help: "Reader holding the institution's card (no PIN needed: only its address is read).") var institutionReader: String
        @Option(help: "Default ceiling: token=ETH|PTI|ADDR,total=DEC[,per-payment=DEC][,period=DUR,per-period=DEC] (repeatable).")
        var ceiling: [String] = []
        @Option(help: "How long an attestation lasts, e.g. 365d.") var attestationLifetime = "365d"
        @OptionGroup var config: ConfigOption

        func run() throws {
            let configuration = try config.load()
            let ceilings = try ceiling.map { try Allowance(spec: $0, configuration: configuration) }
            let lifetime = try Units.parseDuration(attestationLifetime)
            let card = try OpenCard.open(ReaderOption.parse(["--reader", institutionReader]))
            guard let key = try cliPCSC({ try card.card.publicKey() }) else {
                throw CLIError("the institution card has no key: initialise it first with `paratii card init --reader '\(card.reader)'`")
            }
            let policy = try Policy(institution: key.address, ceiling: ceilings, attestationLifetime: lifetime)
            let path = roster.path
            try PrivateDirectory.createParent(of: path)
            _ = try Roster.create(path: path, policy: policy, now: TimeText.now)
            print(
                """
                roster:              \(path)
                institution:         \(key.address.checksummed) (card in \(card.reader))
                default ceiling:     \(ceilings.map { $0.summary(configuration) }.joined(separator: "; "))
                attestations last:   \(Units.formatDuration(lifetime))
                """)
        }
    }

    struct Revoke: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Revoke a card's attestation with the institution card (a lost card, a leaver); then run `publish`.")
        @OptionGroup var roster: RosterOption
        @OptionGroup var institution: InstitutionCardOptions
        @Option(help: "The card's serial.") var card: String?
        @Option(help: "Every unrevoked card of this holder.") var holder: String?
        @OptionGroup var config: ConfigOption

        func run() throws {
            guard (card == nil) != (holder == nil) else { throw CLIError("give --card SERIAL or --holder NAME") }
            let opened = try roster.open()
            let targets =
                try card.map { serial in try opened.liveCard(serial: serial.uppercased()).map { [$0] } ?? [] }
                ?? (try opened.liveCards(holder: holder!))
            guard !targets.isEmpty else { throw InstitutionError.noSuchCard(card.map { "card \($0)" } ?? "holder \(holder!)") }
            let enrollment = Enrollment(
                roster: opened, institution: try institution.signer(for: opened.policy), domain: try config.load().domain)
            for target in targets {
                let revocation = try enrollment.revocation(of: target, now: TimeText.now)
                try opened.revoke(target, with: revocation)
                print(
                    "revoked card \(TerminalText.escape(target.serial)) (\(TerminalText.escape(target.holder))): attestation \(target.attestationId.hexString)"
                )
            }
            print("payees see it once you run `paratii institution publish --out FILE` and hand them the file")
        }
    }

    struct Publish: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Write every revocation the institution signed, as the list payees load (`payee accept --revocations`).")
        @OptionGroup var roster: RosterOption
        @Option(help: "Revocation list file to write (replaced atomically).") var out: String

        func run() throws {
            let list = try roster.open().revocationList()
            try list.save(out)
            print("\(list.count) revocation\(list.count == 1 ? "" : "s") written to \(out)")
        }
    }
}
