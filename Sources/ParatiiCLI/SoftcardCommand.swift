import ArgumentParser
import Ethereum
import Foundation
import SoftToken
import Storage

/// `paratii softcard …`: a software OpenPGP card plugged into the real pcscd through vsmartcard's vpcd,
/// for development, demos and tests. Not a place for real money: the key lives in a file.
struct SoftcardCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "softcard",
        abstract: "A software OpenPGP card on pcscd's vpcd reader (development and tests).",
        subcommands: [Create.self, Run.self]
    )
}

extension SoftcardCommand {
    struct Create: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "create",
            abstract: "Make a factory-fresh card state file (no key; PIN 123456, admin PIN 12345678).",
            discussion:
                "The key the card later generates is stored encrypted under the passphrase given to `softcard run`. --insecure-state stores it in plain instead: throwaway test cards only."
        )
        @Option(help: "State file to create (refuses to overwrite).") var state: String
        @Option(help: "File whose first line is the passphrase that will protect the card's key (checked now, used by `run`).")
        var passphraseFile: String?
        @Flag(help: "Keep the card's private key in plain in the state file (throwaway test cards only).") var insecureState = false
        @Option(help: "Card serial, 8 hex digits (default random).") var serial: String?

        func run() throws {
            guard passphraseFile == nil || !insecureState else {
                throw CLIError("--passphrase-file and --insecure-state exclude each other")
            }
            if let passphraseFile {
                guard !(try CLIInput.secret(file: passphraseFile)).isEmpty else { throw CLIError("the passphrase is empty") }
            }
            var serialBytes = SoftCardState.randomSerial()
            if let serial {
                guard let bytes = try? [UInt8](hex: serial), bytes.count == 4 else { throw CLIError("--serial must be 8 hex digits") }
                serialBytes = bytes
            }
            guard !FileManager.default.fileExists(atPath: state) else { throw CLIError("\(state) exists: refusing to overwrite a card") }
            let fresh = SoftCardState.factoryFresh(serial: serialBytes, insecure: insecureState)
            do {
                try SecureFile.write(Array(fresh.json.prettyText.utf8), to: state, replacing: false)
            } catch {
                throw CLIError("cannot write \(state): \(error)")
            }
            print(serialBytes.hexDigits.uppercased())
        }
    }

    struct Run: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "run",
            abstract: "Insert the card into vpcd's reader and serve it until SIGINT/SIGTERM."
        )
        @Option(help: "State file (from `softcard create`).") var state: String
        @Option(help: "File whose first line is the passphrase of the card's key; else asked (unless the state is insecure).")
        var passphraseFile: String?
        @Option(help: "vpcd address (default 127.0.0.1:35963, the first virtual reader; :35964 is the second).") var vpcd =
            "127.0.0.1:35963"
        @Option(name: .customLong("kdf-n"), help: .hidden) var kdfN: Int?

        func run() async throws {
            let loaded: SoftCardState
            do { loaded = try SoftCardState.load(path: state) } catch { throw CLIError("\(error)") }
            var passphrase: String?
            if !loaded.insecure {
                passphrase = try passphraseFile.map { try CLIInput.secret(file: $0) } ?? CLIInput.secret(prompt: "Softcard passphrase: ")
            }
            guard let colon = vpcd.lastIndex(of: ":"), let port = UInt16(vpcd[vpcd.index(after: colon)...]) else {
                throw CLIError("--vpcd must be HOST:PORT")
            }
            let host = String(vpcd[..<colon])
            let card: SoftCard
            do {
                card = try SoftCard(
                    state: loaded, statePath: state, passphrase: passphrase, kdf: kdfN.map { ScryptParameters(n: $0) } ?? .standard)
            } catch {
                throw CLIError("\(error)")
            }
            let connection = VPCDConnection(card: card, host: host, port: port)
            connection.start()
            let serial = loaded.serial.hexDigits.uppercased()
            if connection.waitUntilConnected(timeout: 5) {
                FileHandle.standardError.write(Data("softcard \(serial) inserted into vpcd at \(host):\(port)\n".utf8))
            } else {
                FileHandle.standardError.write(
                    Data("softcard \(serial): waiting for vpcd at \(host):\(port) (is pcscd running? scripts/pcscd-up)\n".utf8))
            }
            await Self.waitForTermination()
            connection.stop()
            FileHandle.standardError.write(Data("softcard \(serial) removed\n".utf8))
        }

        /// Suspends until SIGINT or SIGTERM arrives.
        static func waitForTermination() async {
            signal(SIGINT, SIG_IGN)
            signal(SIGTERM, SIG_IGN)
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                let queue = DispatchQueue(label: "paratii.softcard.signals")
                let box = SignalSources(continuation)
                for number in [SIGINT, SIGTERM] {
                    let source = DispatchSource.makeSignalSource(signal: number, queue: queue)
                    source.setEventHandler { box.fire() }
                    source.resume()
                    box.sources.append(source)
                }
            }
        }
    }
}

private final class SignalSources: @unchecked Sendable {
    var sources: [DispatchSourceSignal] = []
    private var continuation: CheckedContinuation<Void, Never>?
    private let lock = NSLock()
    init(_ continuation: CheckedContinuation<Void, Never>) { self.continuation = continuation }
    func fire() {
        lock.lock()
        let c = continuation
        continuation = nil
        lock.unlock()
        c?.resume()
        // Keep the sources alive until the first signal.
        _ = sources
    }
}
