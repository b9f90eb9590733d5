import ArgumentParser
import Ethereum
import Foundation
import OpenPGPCard

/// What `card init` and `card restore` share: the reader, the new PINs, and the factory reset.
struct InitOptions: ParsableArguments {
    @OptionGroup var reader: ReaderOption
    @Option(help: "File with the new user PIN (6+ characters); else asked.") var pinFile: String?
    @Option(help: "File with the new admin PIN (8+ characters); else asked.") var adminPinFile: String?
    @Flag(help: "Factory-reset the card first, destroying its key (the master address changes).") var wipe = false
    @Option(help: "With --wipe: the card's current admin PIN; without it the reset blocks the admin PIN on purpose first.")
    var currentAdminPinFile: String?

    /// Makes a factory-fresh card (or, with --wipe, any card) a master-key card: the key generated on
    /// the card, or `importing` when given.
    func initialize(importing imported: PrivateKey?) throws -> PublicKey {
        let userPIN = try PINInput.new(file: pinFile, what: "PIN")
        let adminPIN = try PINInput.new(file: adminPinFile, what: "admin PIN")
        guard userPIN.count >= OpenPGPCard.minimumUserPINLength else { throw CLIError("the PIN must have at least 6 characters") }
        guard adminPIN.count >= OpenPGPCard.minimumAdminPINLength else {
            throw CLIError("the admin PIN must have at least 8 characters")
        }
        let open = try OpenCard.open(reader)
        return try cliPCSC {
            if try open.card.publicKey() != nil {
                guard wipe else {
                    throw CLIError("the card already holds a key: refusing to replace it (pass --wipe to factory-reset it first)")
                }
            }
            if wipe {
                let current = try currentAdminPinFile.map { PIN(try CLIInput.secret(file: $0)) }
                try open.card.factoryReset(adminPIN: current)
            }
            let status = try open.card.pinStatus()
            guard status.pw3TriesLeft == 3, status.pw1TriesLeft == 3 else {
                throw CLIError(
                    "the card's PIN counters are not fresh (PIN \(status.pw1TriesLeft), admin \(status.pw3TriesLeft)): init starts from a factory-fresh card; use --wipe"
                )
            }
            do {
                return try open.card.initialize(userPIN: userPIN, adminPIN: adminPIN, importing: imported)
            } catch OpenPGPCardError.wrongPIN {
                throw CLIError("the admin PIN is not the factory default 12345678: init starts from a factory-fresh card; use --wipe")
            }
        }
    }
}

extension CardCommand {
    struct Restore: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "restore",
            abstract: "Import the key of a 24-word backup (from `card init --backup`) into a card; prints the address.",
            discussion:
                "The words are read from --words-file or asked without echo. The key is derived at m/44'/60'/0'/0/0, imported into the card's signature slot (OpenPGP card key import) and wiped from memory. The card must be factory-fresh, or pass --wipe."
        )
        @OptionGroup var options: InitOptions
        @Option(help: "File with the words (white space between them); else asked without echo.") var wordsFile: String?
        @Option(help: "Refuse, before touching the card, unless the words give this master address.") var expectAddress: String?

        func run() throws {
            let words = try BackupWords.read(file: wordsFile)
            let imported = try ExtendedPrivateKey.from(words).privateKey()
            if let expectAddress {
                let expected: Address
                do { expected = try Address(expectAddress) } catch { throw CLIError("--expect-address: \(error)") }
                guard imported.address == expected else {
                    throw CLIError(
                        "these words give \(imported.address.checksummed), not \(expected.checksummed): nothing was written to the card")
                }
            }
            let key = try options.initialize(importing: imported)
            print(key.address.checksummed)
        }
    }
}

extension EthCommand {
    struct MnemonicAddress: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "mnemonic-address",
            abstract: "Print the address of BIP-39 words (a written backup) without any card: check the words before a restore.")
        @Option(help: "File with the words; else asked without echo.") var wordsFile: String?
        @Option(help: "BIP-32 derivation path.") var path = DerivationPath.ethereum.description
        func run() throws {
            let words = try BackupWords.read(file: wordsFile)
            let derivation: DerivationPath
            do { derivation = try DerivationPath(path) } catch { throw CLIError("--path: \(error)") }
            print(try ExtendedPrivateKey.from(words, path: derivation).privateKey().address.checksummed)
        }
    }
}

/// The backup words: read back (`card restore`, `eth mnemonic-address`) and shown once (`card init --backup`).
enum BackupWords {
    /// From a file (the words on any number of lines, as they were shown) or one no-echo line. The
    /// numbers `init --backup` printed before each word may be kept: they are not words.
    static func read(file: String?) throws -> Mnemonic {
        let phrase = try file.map { try CLIInput.text($0) } ?? CLIInput.secret(prompt: "Backup words (one line, spaces between): ")
        let bare = phrase.split(whereSeparator: { $0.isWhitespace }).filter { !$0.allSatisfy(\.isNumber) }.joined(separator: " ")
        do { return try Mnemonic(phrase: bare) } catch { throw CLIError("\(error)") }
    }

    /// Shows the words once, numbered, on standard output, with what they are worth.
    static func show(_ words: Mnemonic, address: Address) throws {
        var text: [UInt8] = []
        text.reserveCapacity(4096)
        defer { secureZero(&text) }
        text += Array(
            """
            Your backup: \(words.wordCount) words (BIP-39, English). Write them on paper, in order, now; they are shown
            only this once. Anyone who reads them controls \(address.checksummed),
            with or without the card. `paratii card restore` puts the same key on another card; any Ethereum
            wallet restores it too (derivation path m/44'/60'/0'/0/0).

            """.utf8)
        words.forEachWord { position, word in
            let number = Array(String(position).utf8)
            text += [UInt8](repeating: 0x20, count: 3 - number.count) + number + [0x20]
            text.append(contentsOf: word.utf8)
            text += position % 4 == 0 ? [0x0A] : [UInt8](repeating: 0x20, count: 10 - word.utf8.count)
        }
        text.append(0x0A)
        fflush(nil)  // all streams: what print() buffered comes before the words
        let written = text.withUnsafeBytes { write(STDOUT_FILENO, $0.baseAddress, $0.count) }
        guard written == text.count else {
            throw CLIError("could not show the backup words: the card holds the key, but no backup was made")
        }
    }
}
