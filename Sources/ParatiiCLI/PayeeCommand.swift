import ArgumentParser
import Delegation
import Ethereum
import Foundation
import PayeeStorePostgres
import PlayerCore
import Storage

/// `paratii payee …`: the receiving side of vouchers.
struct PayeeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "payee",
        abstract: "Accept vouchers, keep the best per channel, export and redeem them, sell segments over HTTP.",
        subcommands: [Accept.self, Channels.self, Export.self, Redeem.self, ShowExposure.self, Serve.self]
    )
}

struct PayeeOptions: ParsableArguments {
    @Option(
        help: """
            Payee store: a SQLite file (default $XDG_DATA_HOME/paratii/payee.sqlite, or payeeStore in the configuration) \
            or postgres://USER@HOST:PORT/DATABASE[?sslmode=verify-full&sslrootcert=CA.pem&passfile=FILE] (password from passfile \
            or $PGPASSFILE; sslmode as libpq's: disable, prefer, require, verify-ca, verify-full).
            """) var store: String?
    @Option(help: "Revocation list to honour (repeatable: your own, an institution's published list…).") var revocations: [String] = []
    @Option(help: "Require chains attested by this institution.") var institution: String?
    @Option(help: "Only accept vouchers paying this address (repeatable).") var payee: [String] = []
    @OptionGroup var config: ConfigOption

    /// The store `--store` or the configuration names, SQLite or PostgreSQL (PayeeStores.open chooses).
    func openStore() async throws -> any PayeeStoring {
        try await PayeeStores.open(try store ?? config.load().payeeStore, verifier: try verifier(), payees: try payees())
    }

    /// Opens the store, runs `body` with it, and closes it (its connections) whatever happens.
    func withStore<T>(_ body: (any PayeeStoring) async throws -> T) async throws -> T {
        let store = try await openStore()
        do {
            let result = try await body(store)
            await store.close()
            return result
        } catch {
            await store.close()
            throw error
        }
    }

    func payees() throws -> Set<Address> { Set(try payee.map { try Address($0) }) }

    func verifier() throws -> Verifier {
        var list = RevocationList()
        for file in revocations {
            let loaded = try RevocationList.load(file)
            for note in loaded.notes + list.merge(loaded.list) { TerminalOutput.warn("note: \(note)") }
        }
        return Verifier(domain: try config.load().domain, revocations: list, institution: try institution.map { try Address($0) })
    }
}

extension PayeeCommand {
    struct Accept: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Verify a voucher and keep it if it is the channel's best; exit 1 when refused.")
        @OptionGroup var options: PayeeOptions
        @Argument(help: "Voucher envelope JSON file, or - for standard input (one envelope, or one per line).") var file: String
        func run() async throws {
            let text = try CLIInput.text(file)
            let trimmed = text.trimmingCharacters(in: .whitespacesAndNewlines)
            // One pretty envelope, or JSON lines of compact ones.
            let documents =
                trimmed.contains("\n{") && !trimmed.hasPrefix("{\n") ? trimmed.split(separator: "\n").map(String.init) : [trimmed]
            var refused = 0
            var envelopes: [Envelope] = []
            var results: [Result<PayeeStore.Outcome, VoucherRejection>?] = []
            for document in documents where !document.isEmpty {
                do {
                    envelopes.append(try Envelope(parsing: Array(document.utf8)))
                    results.append(nil)
                } catch {
                    results.append(.failure(.invalid(.malformed, "\(error)")))
                }
            }
            let batch = try await options.withStore { try await $0.acceptBatch(envelopes) }
            var accepted = batch.makeIterator()
            for result in results.map({ $0 ?? accepted.next()! }) {
                switch result {
                case .success(.accepted(let channel, let increase)):
                    print(
                        JSONValue.object([
                            "accepted": .bool(true), "cumulative": .string(String(channel.cumulative)),
                            "increase": .string(String(increase)), "sequence": .number(String(channel.sequence)),
                        ]).terminalCompactText)
                case .success(.duplicate(let channel)):
                    print(
                        JSONValue.object([
                            "accepted": .bool(true), "duplicate": .bool(true), "cumulative": .string(String(channel.cumulative)),
                        ]).terminalCompactText)
                case .failure(let rejection):
                    refused += 1
                    print(JSONValue.object(["accepted": .bool(false), "reason": .string(rejection.code)]).terminalCompactText)
                    TerminalOutput.warn("refused: \(rejection)")
                }
            }
            if refused > 0 { throw ExitCode(1) }
        }
    }

    struct Channels: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "What each payer owes, per channel.")
        @OptionGroup var options: PayeeOptions
        @Flag(help: "JSON output.") var json = false
        func run() async throws {
            let configuration = try options.config.load()
            let channels = try await options.withStore { try await $0.channels() }
            if json {
                print(
                    JSONValue.array(
                        channels.map { c in
                            var object: JSONObject = [
                                "delegation": .string(c.delegation.hexString), "master": .string(c.master.checksummed),
                                "spender": .string(c.spender.checksummed), "payee": .string(c.payee.checksummed),
                                "token": .string(c.token.checksummed), "cumulative": .string(String(c.cumulative)),
                                "sequence": .number(String(c.sequence)),
                            ]
                            for (key, value) in exposure(c, configuration)?.json ?? [] { object[key] = value }
                            return .object(object)
                        }
                    ).terminalPrettyText)
                return
            }
            for c in channels {
                var line =
                    "\(c.spender) (master \(c.master)) owes \(c.payee) \(configuration.formatAmount(c.cumulative, token: c.token)) \(configuration.tokenName(c.token)) after \(c.sequence) vouchers"
                if let exposure = exposure(c, configuration) { line += "; the channel \(exposure.sentence)" }
                print(TerminalText.escape(line))
            }
        }

        private func exposure(_ channel: ChannelState, _ configuration: Configuration) -> Exposure? {
            channel.total.map { Exposure(cumulative: channel.cumulative, total: $0, token: channel.token, configuration: configuration) }
        }
    }

    struct Export: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Write the best voucher of every channel, to redeem.")
        @OptionGroup var options: PayeeOptions
        @Option(help: "Write here instead of stdout.") var out: String?
        func run() async throws {
            let exported = try await options.withStore { try await $0.export() }
            try CLIOutput.write(JSONValue.array(exported), to: out)
        }
    }
}
