import ArgumentParser
import Bridge
import Delegation
import Doctor
import Ethereum
import Foundation
import Logging

/// `paratii bridge`: the daemon and its housekeeping.
struct BridgeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bridge",
        abstract: "The bridge daemon: local API for players (pairing, delegation requests), tokens, audit log.",
        subcommands: [Run.self, Tokens.self, Audit.self, Bench.self]
    )

    struct Run: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Run the bridge (Unix socket, optionally loopback TCP) until SIGTERM or SIGINT.")
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
            let app = try buildApplication(BridgeContext(settings: settings, store: store, watchTokens: true, usbWatcher: usb), logger: logger)
            try await app.runService()
            unlink(settings.socketPath)
        }
    }

    struct Tokens: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List the players' pairings (tokens) or revoke one.", subcommands: [List.self, Revoke.self])

        struct List: ParsableCommand {
            static let configuration = CommandConfiguration(abstract: "List pairings: id, player name, state.")
            @OptionGroup var bridge: BridgeSocketOption
            @Flag(help: "JSON output.") var json = false
            func run() throws {
                let response = try bridge.client().get("/v1/admin/pairings")
                guard response.status == 200, let pairings = response.json?["pairings"]?.arrayValue else { throw CLIError(response.errorText) }
                if json { return print(JSONValue.array(pairings).prettyText) }
                for pairing in pairings {
                    let delivered = pairing["tokenDelivered"] == .bool(true) ? "token delivered" : "no token yet"
                    print("\(pairing["id"]?.stringValue ?? "?")  \(pairing["state"]?.stringValue ?? "?")  \(delivered)  \(TerminalText.escape(pairing["name"]?.stringValue ?? ""))")
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

extension BridgeCommand {
    /// `paratii bridge bench`: an authenticated `GET /v1/status` under concurrent load, against a
    /// bridge started in this process on a temporary socket (or --tcp loopback), one connection per request.
    struct Bench: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Requests per second and p99 latency of an authenticated status request under load.")
        @Option(help: "Concurrent clients.") var clients: Int = 8
        @Option(help: "Seconds to run.") var seconds: Double = 5
        @Flag(help: "Go through loopback TCP instead of the Unix socket.") var tcp = false

        func run() async throws {
            // mkdtemp: a fresh 0700 directory with an unpredictable name (a pid under /tmp can be planted).
            var template = Array((NSTemporaryDirectory() + "/paratii-bench-XXXXXX").utf8CString)
            guard let made = mkdtemp(&template) else { throw CLIError("cannot create a temporary directory") }
            let directory = String(cString: made)
            defer { try? FileManager.default.removeItem(atPath: directory) }
            var settings = BridgeSettings(socketPath: directory + "/bridge.sock", databasePath: directory + "/bridge.sqlite")
            let port = Int.random(in: 40000...49999)
            if tcp { settings.tcp = (host: "127.0.0.1", port: port) }
            var logger = Logger(label: "paratii.bridge.bench")
            logger.logLevel = .critical
            let app = try buildApplication(BridgeContext(settings: settings, store: try BridgeStore(path: settings.databasePath), tokens: { [] }), logger: logger)
            let server = Task { try await app.runService(gracefulShutdownSignals: []) }
            defer { server.cancel() }
            let socket = settings.socketPath
            let clients = max(1, self.clients), seconds = self.seconds, useTCP = tcp
            let result: (count: Int, latencies: [Double], errors: Int) = try await withCheckedThrowingContinuation { continuation in
                Thread.detachNewThread {
                    continuation.resume(with: Result {
                        let admin = BridgeClient(socket)
                        var up = false
                        for _ in 0..<200 where !up {
                            up = ((try? admin.get("/v1/health"))?.status == 200) && (!useTCP || (try? BridgeClient("http://127.0.0.1:\(port)").get("/v1/health"))?.status == 200)
                            if !up { Thread.sleep(forTimeInterval: 0.05) }
                        }
                        guard up else { throw CLIError("the bridge did not come up") }
                        let secret = PairingSecret()
                        guard let id = try admin.post("/v1/pairings", .object(["name": .string("bench"), "secretHash": .string(secret.hash)])).json?["id"]?.stringValue,
                              try admin.request("POST", "/v1/admin/pairings/\(id)/approve").status == 200,
                              let token = try admin.request("GET", "/v1/pairings/\(id)", headers: [("Authorization", "Pairing \(secret.secret)")]).json?["token"]?.stringValue
                        else { throw CLIError("pairing failed") }
                        let client = BridgeClient(useTCP ? "http://127.0.0.1:\(port)" : socket, token: token)
                        let tally = Tally()
                        let end = Date().addingTimeInterval(seconds)
                        DispatchQueue.concurrentPerform(iterations: clients) { _ in
                            var mine: [Double] = []
                            var failed = 0
                            while Date() < end {
                                let start = DispatchTime.now().uptimeNanoseconds
                                if (try? client.get("/v1/status"))?.status == 200 {
                                    mine.append(Double(DispatchTime.now().uptimeNanoseconds - start) / 1e6)
                                } else { failed += 1 }
                            }
                            tally.add(mine, failed)
                        }
                        return tally.lock.withLock { (tally.latencies.count, tally.latencies.sorted(), tally.errors) }
                    })
                }
            }
            func percentile(_ p: Double) -> Double {
                result.latencies.isEmpty ? 0 : result.latencies[min(result.latencies.count - 1, Int(Double(result.latencies.count) * p))]
            }
            print(String(format: "%@: %d clients, %.0f requests/s, p50 %.2f ms, p99 %.2f ms, %d errors",
                         useTCP ? "tcp" : "unix socket", clients, Double(result.count) / seconds, percentile(0.5), percentile(0.99), result.errors))
        }
    }
}

/// Latencies gathered by the bench's client threads.
final class Tally: @unchecked Sendable {
    let lock = NSLock()
    var latencies: [Double] = []
    var errors = 0
    func add(_ more: [Double], _ failed: Int) { lock.withLock { latencies += more; errors += failed } }
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
