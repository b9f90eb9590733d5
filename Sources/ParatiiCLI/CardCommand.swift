import ArgumentParser
import Delegation
import Ethereum
import Foundation
import OpenPGPCard
import PCSC
import TokenHub

/// `paratii card …`: the master key on an OpenPGP card (YubiKey 5, Nitrokey, Gnuk, or the soft card).
struct CardCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "card",
        abstract: "The master key on an OpenPGP smartcard: status, init, PINs, signing.",
        subcommands: [
            List.self, Status.self, Init.self, Restore.self, ShowAddress.self, ChangePIN.self, Unblock.self, Reset.self,
            SetSignaturePIN.self, SignTypedData.self, SignMessage.self,
        ]
    )
}

extension CardCommand {
    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "list", abstract: "Readers, and the OpenPGP card in each.")
        @Flag(help: "JSON output.") var json = false

        func run() throws {
            guard case .readers(let readers) = TokenHub.readers() else { _ = try OpenCard.context(); return }
            var rows: [JSONValue] = []
            var lines: [String] = []
            for reader in readers {
                var members: [(key: String, value: JSONValue)] = [
                    ("reader", .string(reader.name)), ("cardPresent", .bool(reader.card != nil)),
                ]
                var line = "\(reader.name): "
                switch reader.card {
                case nil:
                    line += "no card"
                case .openPGP(let facts)?:
                    members += [
                        ("atr", .string(reader.atr.hexString)), ("openpgp", .bool(true)), ("serial", .string(facts.serial)),
                        ("version", .string(facts.version)), ("manufacturer", .string(facts.manufacturer)),
                    ]
                    line += "OpenPGP card \(facts.version), serial \(facts.serial) (\(facts.manufacturer))"
                case .some:
                    members += [("atr", .string(reader.atr.hexString)), ("openpgp", .bool(false))]
                    line += "card (not OpenPGP)"
                }
                rows.append(.object(JSONObject(members)))
                lines.append(line)
            }
            if json {
                print(JSONValue.array(rows).terminalPrettyText)
            } else {
                print(lines.isEmpty ? "no readers" : lines.map(TerminalText.escape).joined(separator: "\n"))
            }
        }
    }

    struct Status: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "status",
            abstract: "Serial, version, master address, PIN tries left, signature counter; with a node, the recovery address.")
        @OptionGroup var reader: ReaderOption
        @Flag(help: "JSON output.") var json = false
        @Option(help: "JSON-RPC endpoint to read the recovery setting from (default: \"rpc\" in the configuration).") var rpc: String?
        @OptionGroup var config: ConfigOption

        func run() async throws {
            let open = try OpenCard.open(reader)
            let status = try cliPCSC { try open.card.status() }
            let app = status.application
            let address = try status.publicKey.map { try PublicKey(bytes: $0).address }
            let pins = app.pinStatus
            var recovery: (line: String, fix: String)?
            if let address, let result = await RecoveryReminder.check(master: address, configuration: try config.load(), rpc: rpc) {
                switch result {
                case .success(let state): recovery = RecoveryReminder.describe(state, master: address)
                case .failure(let error): recovery = ("cannot read the recovery setting: \(error)", "")
                }
            }
            if json {
                var members: [(key: String, value: JSONValue)] = [
                    ("reader", .string(open.reader)),
                    ("serial", .string(app.aid.serialHex)),
                    ("version", .string(app.aid.version)),
                    ("manufacturer", .string(app.aid.manufacturerName)),
                    ("manufacturerId", .string(String(format: "0x%04X", app.aid.manufacturer))),
                    ("address", address.map { .string($0.checksummed) } ?? .null),
                    ("signatureAlgorithm", .string(app.signatureAlgorithm?.name ?? "none")),
                    ("pinTriesLeft", .number(String(pins.pw1TriesLeft))),
                    ("adminPinTriesLeft", .number(String(pins.pw3TriesLeft))),
                    ("resettingCodeTriesLeft", .number(String(pins.resettingCodeTriesLeft))),
                    ("pinValidForSeveralSignatures", .bool(pins.pw1ValidForSeveralSignatures)),
                    ("signatureCounter", .number(String(status.signatureCounter))),
                    ("fingerprint", app.signatureFingerprint.map { .string($0.hexDigits.uppercased()) } ?? .null),
                ]
                if let recovery { members.append(("recovery", .string(recovery.line))) }
                let object = JSONObject(members)
                print(JSONValue.object(object).terminalPrettyText)
            } else {
                print(
                    """
                    reader:             \(TerminalText.escape(open.reader))
                    serial:             \(app.aid.serialHex) (\(app.aid.manufacturerName))
                    version:            OpenPGP card \(app.aid.version)
                    signature key:      \(app.signatureAlgorithm?.name ?? "none")\(status.publicKey == nil ? ", no key (run `paratii card init`)" : "")
                    master address:     \(address?.checksummed ?? "-")
                    PIN tries left:     \(pins.pw1TriesLeft) (admin PIN: \(pins.pw3TriesLeft))
                    signature PIN:      \(pins.pw1ValidForSeveralSignatures ? "valid for several signatures (unsafe: run `paratii card set-signature-pin once`)" : "once per signature")
                    signature counter:  \(status.signatureCounter)
                    """)
                if let recovery {
                    print(
                        "recovery:           \(TerminalText.escape(recovery.line))"
                            + (recovery.fix.isEmpty ? "" : "\n                    \(recovery.fix)"))
                }
            }
        }
    }

    struct Init: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "init",
            abstract: "Set secp256k1, generate the master key on the card, set new PINs; prints the address.",
            discussion:
                "Starts from a factory-fresh card (PIN 123456, admin PIN 12345678). A card that already holds a key is refused unless --wipe, which factory-resets it first. The PIN is set valid for one signature per entry (DO C4 byte 1 = 00). With --backup the key is born off the card instead: generated in memory, shown once as 24 BIP-39 words (m/44'/60'/0'/0/0, as any Ethereum wallet derives), imported, then wiped; `paratii card restore` puts the same key on another card."
        )
        @OptionGroup var options: InitOptions
        @Flag(help: "Generate the key off the card and show its 24-word backup once (the key exists outside the card for a moment).")
        var backup = false

        func run() throws {
            let words = backup ? Mnemonic.generate() : nil
            let imported = try words.map { try ExtendedPrivateKey.from($0).privateKey() }
            let key = try options.initialize(importing: imported)
            if let words { try BackupWords.show(words, address: key.address) }
            print(key.address.checksummed)
        }
    }

    struct ShowAddress: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "address", abstract: "Print the master address (no PIN needed).")
        @OptionGroup var reader: ReaderOption
        func run() throws {
            let open = try OpenCard.open(reader)
            guard let key = try cliPCSC({ try open.card.publicKey() }) else {
                throw CLIError("the card has no signature key: run `paratii card init`")
            }
            print(key.address.checksummed)
        }
    }

    struct ChangePIN: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "change-pin", abstract: "Change the user PIN (or, with --admin, the admin PIN).")
        @OptionGroup var reader: ReaderOption
        @OptionGroup var lastTry: LastTryFlag
        @Flag(help: "Change the admin PIN instead.") var admin = false
        @Option(help: "File with the current PIN; else asked.") var pinFile: String?
        @Option(help: "File with the new PIN; else asked twice.") var newPinFile: String?
        func run() throws {
            let what = admin ? "admin PIN" : "PIN"
            let old = try PINInput.read(file: pinFile, prompt: "Current \(what): ")
            let new = try PINInput.new(file: newPinFile, what: what)
            let open = try OpenCard.open(reader)
            try cliPCSC { try open.card.changePIN(admin ? .admin : .userSign, old: old, new: new, allowLastTry: lastTry.allowLastTry) }
            print("\(what) changed")
        }
    }

    struct Unblock: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "unblock",
            abstract: "Reset the user PIN's retry counter with the admin PIN (or a resetting code), setting a new PIN.")
        @OptionGroup var reader: ReaderOption
        @OptionGroup var lastTry: LastTryFlag
        @Option(help: "File with the admin PIN; else asked.") var adminPinFile: String?
        @Option(help: "Use the resetting code in this file instead of the admin PIN.") var resettingCodeFile: String?
        @Option(help: "File with the new user PIN; else asked twice.") var newPinFile: String?
        func run() throws {
            let open = try OpenCard.open(reader)
            if let resettingCodeFile {
                let code = PIN(try CLIInput.secret(file: resettingCodeFile))
                let new = try PINInput.new(file: newPinFile, what: "PIN")
                try cliPCSC { try open.card.unblockUserPIN(resettingCode: code, newPIN: new, allowLastTry: lastTry.allowLastTry) }
            } else {
                let admin = try PINInput.read(file: adminPinFile, prompt: "Admin PIN: ")
                let new = try PINInput.new(file: newPinFile, what: "PIN")
                try cliPCSC { try open.card.unblockUserPIN(adminPIN: admin, newPIN: new, allowLastTry: lastTry.allowLastTry) }
            }
            print("PIN unblocked: \(try cliPCSC { try open.card.pinStatus() }.pw1TriesLeft) tries")
        }
    }

    struct Reset: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "reset", abstract: "Factory-reset the card: destroys the master key; PINs back to 123456 / 12345678.",
            discussion:
                "Without --admin-pin-file the admin PIN is blocked on purpose first (the card only terminates after PW3 is verified or blocked), as `gpg --card-edit factory-reset` does."
        )
        @OptionGroup var reader: ReaderOption
        @Option(help: "File with the admin PIN (optional).") var adminPinFile: String?
        @Flag(help: "Confirm: the master key is destroyed.") var yes = false
        func run() throws {
            guard yes else { throw CLIError("this destroys the card's master key: pass --yes to confirm") }
            let admin = try adminPinFile.map { PIN(try CLIInput.secret(file: $0)) }
            let open = try OpenCard.open(reader)
            try cliPCSC { try open.card.factoryReset(adminPIN: admin) }
            print("card reset to factory state")
        }
    }

    struct SetSignaturePIN: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "set-signature-pin",
            abstract: "Whether the PIN is valid for one signature (once) or several (DO C4); needs the admin PIN.",
            discussion:
                "`once` is what paratii needs: with `several` the card stays unlocked after a signature and any other program using the card can sign without the PIN. paratii refuses to sign on such a card. Beware the words: `once` here is ykman's `set-signature-policy always` (GnuPG: forcesig on); ykman's `once` is `several` here."
        )
        enum Policy: String, ExpressibleByArgument, CaseIterable { case once, several }
        @OptionGroup var reader: ReaderOption
        @OptionGroup var lastTry: LastTryFlag
        @Option(help: "File with the admin PIN; else asked.") var adminPinFile: String?
        @Argument(help: "once (one signature per PIN entry) or several.") var policy: Policy
        func run() throws {
            let admin = try PINInput.read(file: adminPinFile, prompt: "Admin PIN: ")
            let open = try OpenCard.open(reader)
            try cliPCSC {
                try open.card.setSignaturePINPolicy(policy == .once ? .once : .several, adminPIN: admin, allowLastTry: lastTry.allowLastTry)
            }
            print(
                policy == .once
                    ? "signature PIN: once per signature"
                    : "signature PIN: valid for several signatures (paratii will refuse to sign with this card)")
        }
    }

    struct SignTypedData: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "sign-typed-data", abstract: "EIP-712 with the master key; prints the 65-byte signature.")
        @OptionGroup var reader: ReaderOption
        @OptionGroup var lastTry: LastTryFlag
        @Option(help: "File with the user PIN; else asked.") var pinFile: String?
        @Argument(help: "Typed data JSON file (eth_signTypedData_v4), or - for standard input.") var file: String
        func run() throws {
            let digest = try TypedData(parsing: try CLIInput.bytes(file)).digest()
            let pin = try PINInput.read(file: pinFile, prompt: "PIN: ")
            let open = try OpenCard.open(reader)
            print(try cliPCSC { try open.card.sign(digest: digest, pin: pin, allowLastTry: lastTry.allowLastTry) }.bytes.hexString)
        }
    }

    struct SignMessage: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "sign-message", abstract: "EIP-191 personal_sign with the master key; prints the 65-byte signature.")
        @OptionGroup var reader: ReaderOption
        @OptionGroup var lastTry: LastTryFlag
        @Option(help: "File with the user PIN; else asked.") var pinFile: String?
        @OptionGroup var message: MessageArgument
        func run() throws {
            let digest = PersonalMessage.hash(try message.bytes())
            let pin = try PINInput.read(file: pinFile, prompt: "PIN: ")
            let open = try OpenCard.open(reader)
            print(try cliPCSC { try open.card.sign(digest: digest, pin: pin, allowLastTry: lastTry.allowLastTry) }.bytes.hexString)
        }
    }
}
