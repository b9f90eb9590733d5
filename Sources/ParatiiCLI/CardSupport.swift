import ArgumentParser
import Ethereum
import Foundation
import OpenPGPCard
import PCSC
import TokenHub

/// `--reader NAME`: which card, when several are present.
struct ReaderOption: ParsableArguments {
    @Option(help: "Reader to use (its name, or a unique part of it) when several cards are present.")
    var reader: String?
}

/// `--allow-last-pin-try`: the only way to let a command spend a PIN's last try.
struct LastTryFlag: ParsableArguments {
    @Flag(name: .customLong("allow-last-pin-try"), help: "Allow spending the last PIN try (a wrong PIN then blocks it).")
    var allowLastTry = false
}

/// The card a command uses, found by the token hub (`--reader`, or the only OpenPGP card present).
typealias OpenCard = OpenedCard

extension OpenedCard {
    static func open(_ option: ReaderOption) throws -> OpenedCard { try TokenHub.open(reader: option.reader) }
    static func context() throws -> PCSCContext { try TokenHub.context() }
    static func reader(_ wanted: String, among states: [ReaderState]) throws -> ReaderState { try TokenHub.reader(wanted, among: states) }
}

/// Card errors as one CLI line.
func cliPCSC<T>(_ body: () throws -> T) throws -> T {
    do { return try body() } catch let error as OpenPGPCardError {
        throw CLIError(error.description)
    } catch let error as PCSCError {
        throw CLIError(error.description)
    }
}

/// PINs: from a file (first line) or a no-echo prompt; never from the command line.
enum PINInput {
    static func read(file: String?, prompt: String) throws -> PIN {
        if let file { return PIN(try CLIInput.secret(file: file)) }
        return PIN(try CLIInput.secret(prompt: prompt))
    }

    /// A new PIN: from a file, or asked twice.
    static func new(file: String?, what: String) throws -> PIN {
        if let file { return PIN(try CLIInput.secret(file: file)) }
        let first = try CLIInput.secret(prompt: "New \(what): ")
        let again = try CLIInput.secret(prompt: "Repeat the new \(what): ")
        guard first == again else { throw CLIError("the two entries of the new \(what) differ") }
        return PIN(first)
    }
}

/// The card's signature key as a `DigestSigner`, for commands that sign as the master.
final class CardDigestSigner: DigestSigner {
    let open: OpenCard
    let pin: PIN
    let allowLastTry: Bool
    let address: Address

    init(open: OpenCard, pin: PIN, allowLastTry: Bool) throws {
        self.open = open
        self.pin = pin
        self.allowLastTry = allowLastTry
        guard let key = try cliPCSC({ try open.card.publicKey() }) else {
            throw CLIError("the card has no signature key: run `paratii card init`")
        }
        address = key.address
    }

    func sign(digest: [UInt8]) throws -> Signature {
        try cliPCSC { try open.card.sign(digest: digest, pin: pin, allowLastTry: allowLastTry) }
    }
}
