import ArgumentParser
import Bridge
import Delegation
import Doctor
import Ethereum
import Foundation
import Logging
import TokenHub

/// `paratii bridge`: the daemon and its housekeeping.
struct BridgeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bridge",
        abstract: "The bridge daemon: local API for players (pairing, delegation requests), tokens, audit log.",
        subcommands: [Run.self, Tokens.self, Audit.self]
    )

    struct Run: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Run the bridge (Unix socket, optionally loopback TCP) until SIGTERM or SIGINT.")
        @Option(help: "Configuration file (chain settings and a \"bridge\" object).") var config: String?
        @Option(help: "Unix socket path (default $XDG_RUNTIME_DIR/paratii/bridge.sock).") var socket: String?
        @Option(help: "Also listen on loopback TCP, e.g. 127.0.0.1:8547 (for browser players).") var tcp: String?
        @Option(help: "SQLite state (default $XDG_DATA_HOME/paratii/bridge.sqlite).") var database: String?

        func run() async throws {
            var settings = try BridgeSettings.load(config)
            if let socket { settings.socketPath = socket }
            if let database { settings.databasePath = database }
            if let tcp { settings.tcp = try BridgeSettings.parseLoopback(tcp) }
            umask(0o077)
            ProcessHardening.disableCoreDumps()
            let store = try BridgeStore(path: settings.databasePath)
            var logger = Logger(label: "paratii.bridge")
            logger.logLevel = .info
            // USB arrivals come from libusb hotplug where the bus is reachable; without it the bridge says so once.
            let usb = try? TokenWatcher(table: TokenTable.bundled())
            let app = try buildApplication(
                BridgeContext(settings: settings, store: store, watchTokens: true, usbWatcher: usb), logger: logger)
            try await app.runService()
            unlink(settings.socketPath)
        }
    }

    struct Tokens: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "List the players' pairings (tokens) or revoke one.", subcommands: [List.self, Revoke.self])

        struct List: ParsableCommand {
            static let configuration = CommandConfiguration(abstract: "List pairings: id, player name, state.")
            @OptionGroup var bridge: BridgeSocketOption
            @Flag(help: "JSON output.") var json = false
            func run() throws {
                let response = try bridge.client().get("/v1/admin/pairings")
                guard response.status == 200, let pairings = response.json?["pairings"]?.arrayValue else {
                    throw CLIError(response.errorText)
                }
                if json { return print(JSONValue.array(pairings).prettyText) }
                for pairing in pairings {
                    let delivered = pairing["tokenDelivered"] == .bool(true) ? "token delivered" : "no token yet"
                    print(
                        "\(pairing["id"]?.stringValue ?? "?")  \(pairing["state"]?.stringValue ?? "?")  \(delivered)  \(TerminalText.escape(pairing["name"]?.stringValue ?? ""))"
                    )
                }
            }
        }

        struct Revoke: ParsableCommand {
            static let configuration = CommandConfiguration(abstract: "Revoke a pairing: its token stops working at once.")
            @OptionGroup var bridge: BridgeSocketOption
            @Argument(help: "The pairing id (see `paratii bridge tokens list`).") var id: String
            func run() throws {
                let response = try bridge.client().request("POST", "/v1/admin/pairings/\(try BridgeSocketOption.checkID(id))/revoke")
                guard response.status == 200 else { throw CLIError(response.errorText) }
                print("revoked \(id)")
            }
        }
    }

    struct Audit: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Verify the audit log's hash chain and report signature-counter gaps.")
        @Option(help: "SQLite state (default $XDG_DATA_HOME/paratii/bridge.sqlite).") var database: String?
        func run() async throws {
            let path = database ?? BridgeSettings.defaultDatabasePath
            guard FileManager.default.fileExists(atPath: path) else { throw CLIError("no bridge database at \(path)") }
            let report = try await BridgeStore(path: path).verifyAudit()
            print("\(report.entries) entries, \(report.signatures) signatures")
            for line in report.broken { print("BROKEN: \(line)") }
            for line in report.counterGaps { print("GAP: \(line)") }
            if report.broken.isEmpty && report.counterGaps.isEmpty { print("chain intact, no counter gaps") }
            if !report.broken.isEmpty { throw CLIError("the audit chain is broken") }
            if !report.counterGaps.isEmpty { throw ExitCode(2) }
        }
    }
}

/// `--socket PATH`: where the bridge listens (default `$XDG_RUNTIME_DIR/paratii/bridge.sock`).
struct BridgeSocketOption: ParsableArguments {
    @Option(name: .customLong("socket"), help: "The bridge's Unix socket (default $XDG_RUNTIME_DIR/paratii/bridge.sock).")
    var socket: String?

    func client() -> BridgeClient { BridgeClient(socket ?? BridgeSettings.defaultSocketPath) }

    static func checkID(_ id: String) throws -> String {
        guard id.count == 32, id.allSatisfy(\.isHexDigit) else { throw CLIError("not a bridge id: \(id)") }
        return id
    }
}
