import Ethereum
import OpenPGPCard
import PCSC

/// The one place that finds tokens, as go-ethereum's scwallet Hub is: the readers pcscd shows and,
/// for each card, its OpenPGP facts read without a PIN; the card a command should use; USB tokens from
/// the known-token table (`TokenTable`, `LibUSBEnumerator`, `TokenWatcher` for hotplug). The bridge,
/// `paratii doctor` and the CLI all look through here.
public enum TokenHub {
    /// Every reader and the card in it; cards of readers `examine` refuses are listed, not read.
    public static func readers(examine: (String) -> Bool = { _ in true }) -> PCSCProbe {
        let context: PCSCContext
        let states: [ReaderState]
        do {
            context = try PCSCContext()
            states = try context.readerStates()
        } catch {
            return .unreachable(error)
        }
        return .readers(
            states.map { state in
                guard state.cardPresent else { return ReaderProbe(name: state.name, card: nil) }
                return ReaderProbe(
                    name: state.name, card: examine(state.name) ? Self.examine(context, reader: state.name) : .skipped, atr: state.atr)
            })
    }

    /// Reads without a PIN: application data, PW status, the signature key.
    public static func examine(_ context: PCSCContext, reader: String) -> CardProbe {
        do {
            let channel = try context.connect(reader: reader)
            defer { channel.disconnect() }
            let card = OpenPGPCard(channel: channel)
            let app = try card.applicationData()
            let pins = try card.pinStatus()
            let key = try card.publicKey()
            let counter = try? card.signatureCounter()
            return .openPGP(
                CardFacts(
                    version: app.aid.version, manufacturer: app.aid.manufacturerName, serial: app.aid.serialHex,
                    signatureAlgorithm: app.signatureAlgorithm, address: key.map { $0.address.checksummed },
                    userPINTries: pins.pw1TriesLeft, adminPINTries: pins.pw3TriesLeft, signaturePINPolicy: pins.signaturePINPolicy,
                    signatureCounter: counter))
        } catch OpenPGPCardError.notOpenPGP {
            return .notOpenPGP
        } catch let error as PCSCError {
            return .unreadable(error.description, held: error == .sharingViolation)
        } catch {
            return .unreadable("\(error)", held: false)
        }
    }

    /// The PC/SC context, or a refusal that says how to start pcscd.
    public static func context() throws(TokenHubError) -> PCSCContext {
        do { return try PCSCContext() } catch {
            throw .noService("\(error) (start it with scripts/pcscd-up, or `sudo systemctl start pcscd`)")
        }
    }

    /// The card a command uses: the one in the reader named `wanted` (its name or a unique part of
    /// it), or else the only reader holding an OpenPGP card. Several candidates is a refusal, never a guess.
    public static func open(reader wanted: String?) throws(TokenHubError) -> OpenedCard {
        let context = try context()
        let states: [ReaderState]
        do { states = try context.readerStates() } catch { throw .noService("\(error)") }
        guard !states.isEmpty else { throw .noReader("no smartcard readers") }
        if let wanted {
            let state = try reader(wanted, among: states)
            guard state.cardPresent else { throw .noCard("no card in reader '\(state.name)'") }
            do { return try OpenedCard(context, state.name) } catch { throw .noCard("\(error)") }
        }
        var found: [OpenedCard] = []
        for state in states where state.cardPresent {
            guard let candidate = try? OpenedCard(context, state.name), (try? candidate.card.applicationData()) != nil else { continue }
            found.append(candidate)
        }
        guard let first = found.first else {
            throw .noCard("no OpenPGP card found (readers: \(states.map(\.name).joined(separator: ", ")))")
        }
        guard found.count == 1 else {
            throw .ambiguous("several OpenPGP cards present: pick one with --reader (\(found.map(\.reader).joined(separator: ", ")))")
        }
        return first
    }

    /// The one reader called `wanted`, or whose name contains it.
    public static func reader(_ wanted: String, among states: [ReaderState]) throws(TokenHubError) -> ReaderState {
        let exact = states.filter { $0.name == wanted }
        let matches = exact.isEmpty ? states.filter { $0.name.contains(wanted) } : exact
        guard matches.count == 1, let state = matches.first else {
            throw matches.isEmpty
                ? .noReader("no reader matches '\(wanted)'")
                : .ambiguous("'\(wanted)' matches several readers: \(matches.map(\.name).joined(separator: ", "))")
        }
        return state
    }
}

/// An open OpenPGP card: the context, the connection and the driver over it.
public struct OpenedCard {
    public let context: PCSCContext
    public let channel: PCSCCard
    public let card: OpenPGPCard
    public var reader: String { channel.reader }

    init(_ context: PCSCContext, _ reader: String) throws {
        self.context = context
        channel = try context.connect(reader: reader)
        card = OpenPGPCard(channel: channel)
    }
}
