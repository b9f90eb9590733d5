import ArgumentParser
import Ethereum
import Foundation
import OpenPGPCard
import PCSC

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

/// An open OpenPGP card: the context, the connection and the driver over it.
struct OpenCard {
    let context: PCSCContext
    let channel: PCSCCard
    let card: OpenPGPCard
    var reader: String { channel.reader }

    /// Finds the card: the reader named by --reader, or the only reader holding an OpenPGP card.
    static func open(_ option: ReaderOption) throws -> OpenCard {
        let context = try Self.context()
        let states = try cliPCSC { try context.readerStates() }
        guard !states.isEmpty else { throw CLIError("no smartcard readers") }
        if let wanted = option.reader {
            let state = try Self.reader(wanted, among: states)
            guard state.cardPresent else { throw CLIError("no card in reader '\(state.name)'") }
            return try connect(context, state.name)
        }
        var found: [OpenCard] = []
        for state in states where state.cardPresent {
            guard let candidate = try? connect(context, state.name), (try? candidate.card.applicationData()) != nil else { continue }
            found.append(candidate)
        }
        guard let first = found.first else { throw CLIError("no OpenPGP card found (readers: \(states.map(\.name).joined(separator: ", ")))") }
        guard found.count == 1 else {
            throw CLIError("several OpenPGP cards present: pick one with --reader (\(found.map(\.reader).joined(separator: ", ")))")
        }
        return first
    }

    static func context() throws -> PCSCContext {
        do { return try PCSCContext() } catch {
            throw CLIError("\(error) (start it with scripts/pcscd-up, or `sudo systemctl start pcscd`)")
        }
    }

    /// The one reader called `wanted`, or whose name contains it.
    static func reader(_ wanted: String, among states: [ReaderState]) throws -> ReaderState {
        let exact = states.filter { $0.name == wanted }
        let matches = exact.isEmpty ? states.filter { $0.name.contains(wanted) } : exact
        guard matches.count == 1, let state = matches.first else {
            throw CLIError(matches.isEmpty ? "no reader matches '\(wanted)'" : "'\(wanted)' matches several readers: \(matches.map(\.name).joined(separator: ", "))")
        }
        return state
    }

    private static func connect(_ context: PCSCContext, _ reader: String) throws -> OpenCard {
        let channel = try cliPCSC { try context.connect(reader: reader) }
        return OpenCard(context: context, channel: channel, card: OpenPGPCard(channel: channel))
    }
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
        guard let key = try cliPCSC({ try open.card.publicKey() }) else { throw CLIError("the card has no signature key: run `paratii card init`") }
        address = key.address
    }

    func sign(digest: [UInt8]) throws -> Signature {
        try cliPCSC { try open.card.sign(digest: digest, pin: pin, allowLastTry: allowLastTry) }
    }
}
