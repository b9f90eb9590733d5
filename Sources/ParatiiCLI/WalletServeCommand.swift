import ArgumentParser
import BigInt
import Bridge
import Delegation
import Ethereum
import Foundation
import Logging
import PlayerCore
import WalletService

extension WalletCommand {
    /// `paratii wallet serve`: the wallet as a local service for web pages (loopback TCP) and local tools
    /// (the Unix socket). The key is in memory only while unlocked.
    struct Serve: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Serve the wallet to paired web pages on loopback (pay, budget, vote, history, events) until SIGTERM or SIGINT.")
        @OptionGroup var wallet: WalletOptions
        @Option(help: "Loopback address for pages, e.g. 127.0.0.1:8548 (port 0 picks one; printed).") var listen = "127.0.0.1:0"
        @OptionGroup var socket: WalletSocketOption
        @Option(help: "Lock (forget the key) after this many seconds without a payment; 0 never.") var idleLock: UInt64 = 900
        @OptionGroup var delegation: ServeDelegationOptions
        @OptionGroup var config: ConfigOption

        func run() async throws {
            let tcp = try BridgeSettings.parseLoopback(listen)
            let configuration = try config.load()
            var settings = WalletServiceSettings(
                socketPath: socket.path, tcp: tcp, idleLock: idleLock == 0 ? nil : idleLock, configuration: configuration)
            settings.delegationSource = try delegation.source(configuration)
            settings.notice = { TerminalOutput.warn($0) }
            ProcessHardening.disableCoreDumps()
            let vault = Vault(directory: wallet.directory, settings: settings)
            do { try await vault.unlock(password: try wallet.password()) } catch { throw CLIError("\(error)") }
            var logger = Logger(label: "paratii.wallet")
            logger.logLevel = .warning
            let path = settings.socketPath
            let app = try buildApplication(vault, logger: logger) { port in
                // Written straight to the descriptor: scripts wait for this line.
                FileHandle.standardOutput.write(
                    Data("wallet service listening on http://localhost:\(port) (local tools: \(path))\n".utf8))
            }
            try await app.runService()
            unlink(path)
        }
    }

    /// `paratii wallet renew-delegation`: the running service asks the bridge now (also after a denial).
    struct RenewDelegation: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "renew-delegation",
            abstract: "Have the wallet service ask its bridge for a new delegation now (also after a denial), and say where it stands.")
        @OptionGroup var socket: WalletSocketOption
        @Flag(help: "Only say where the service's delegation stands; ask nothing.") var status = false
        func run() throws {
            let answer = try status ? socket.call("GET", "/v1/admin/delegation") : socket.call("POST", "/v1/admin/delegation/request")
            let message = answer["message"]?.stringValue ?? ""
            print("\(answer["state"]?.stringValue ?? "?")\(message.isEmpty ? "" : ": \(TerminalText.escape(message))")")
        }
    }

    struct Lock: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Lock the wallet service: the key leaves its memory at once.")
        @OptionGroup var socket: WalletSocketOption
        func run() throws {
            _ = try socket.call("POST", "/v1/admin/lock")
            print("locked")
        }
    }

    struct Unlock: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Unlock the wallet service with the wallet password.")
        @OptionGroup var socket: WalletSocketOption
        @Option(help: "File whose first line is the wallet password (else a no-echo prompt).") var passwordFile: String?
        func run() throws {
            let password = try CLIInput.secret(file: passwordFile, prompt: "Wallet password: ", confirming: false)
            _ = try socket.call("POST", "/v1/admin/unlock", .object(["password": .string(password)]))
            print("unlocked")
        }
    }

    /// `paratii wallet sites`: pairings waiting for approval and the paired sites, origins escaped.
    struct Sites: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List web sites waiting to pair and the paired ones.")
        @OptionGroup var socket: WalletSocketOption
        @Flag(help: "JSON output.") var json = false
        func run() throws {
            let answer = try socket.call("GET", "/v1/admin/pairings")
            if json { return print(answer.terminalPrettyText) }
            for pending in answer["pending"]?.arrayValue ?? [] {
                print(
                    "pending \(pending["id"]?.stringValue ?? "?")  \(TerminalText.escape(pending["origin"]?.stringValue ?? ""))  \(TerminalText.escape(pending["name"]?.stringValue ?? ""))"
                )
            }
            for site in answer["sites"]?.arrayValue ?? [] {
                print(
                    "paired  \(TerminalText.escape(site["origin"]?.stringValue ?? ""))  \(TerminalText.escape(site["name"]?.stringValue ?? ""))"
                )
            }
        }
    }

    /// `paratii wallet approve-site ID --code CODE --budget 0.01ETH/day`. (`wallet approve` is the ERC-20 approval.)
    struct ApproveSite: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "approve-site", abstract: "Approve a web site's pairing with the code its page shows, and give it a budget.")
        @OptionGroup var socket: WalletSocketOption
        @Argument(help: "The pairing id (see `paratii wallet sites`).") var id: String
        @Option(help: "The 6-digit code the page shows.") var code: String
        @Option(help: "The site's budget: AMOUNT TOKEN[/PERIOD], e.g. 0.01ETH/day, 5PTI/1w, 0.002ETH (repeatable).")
        var budget: [String] = []
        @OptionGroup var config: ConfigOption
        func run() throws {
            guard !budget.isEmpty else { throw CLIError("give the site a --budget, e.g. 0.01ETH/day") }
            let configuration = try config.load()
            let limits = try budget.map { try SiteBudgetSpec.parse($0, configuration: configuration) }
            let listed = try socket.call("GET", "/v1/admin/pairings")
            guard let pending = listed["pending"]?.arrayValue?.first(where: { $0["id"]?.stringValue == id }) else {
                throw CLIError("no pairing \(id) waits for approval (see `paratii wallet sites`)")
            }
            let origin = TerminalText.escape(pending["origin"]?.stringValue ?? "")
            let body: JSONValue = .object([
                "code": .string(code),
                "budgets": .array(
                    limits.map {
                        .object([
                            "token": .string($0.token.checksummed), "limit": .string(String($0.limit)), "period": .number("\($0.period)"),
                        ])
                    }),
            ])
            _ = try socket.call("POST", "/v1/admin/pairings/\(try BridgeSocketOption.checkID(id))/approve", body)
            let shown = limits.map { limit in
                let amount = "\(configuration.formatAmount(limit.limit, token: limit.token)) \(configuration.tokenName(limit.token))"
                return limit.period == 0 ? amount : "\(amount) per \(Units.formatDuration(limit.period))"
            }
            print(
                "approved \(origin) (\(TerminalText.escape(pending["name"]?.stringValue ?? ""))) with code \(TerminalText.escape(code)); budget \(shown.joined(separator: ", "))"
            )
        }
    }

    struct RevokeSite: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "revoke-site", abstract: "Forget a site's pairing: its page can pay no more.")
        @OptionGroup var socket: WalletSocketOption
        @Argument(help: "The site's origin, e.g. https://video.example.") var origin: String
        func run() throws {
            _ = try socket.call("POST", "/v1/admin/sites/revoke", .object(["origin": .string(origin)]))
            print("revoked \(TerminalText.escape(origin))")
        }
    }
}

/// `wallet serve --allowance …`: the service asks the bridge for its delegation itself, as `wallet
/// request-delegation` does (same options, same pairing token in the wallet directory).
struct ServeDelegationOptions: ParsableArguments {
    @Option(
        help:
            "The bridge to ask for delegations: its Unix socket path or http://127.0.0.1:PORT (default $XDG_RUNTIME_DIR/paratii/bridge.sock)."
    )
    var bridge: String?
    @Option(
        help:
            "Ask the bridge for a delegation with this allowance whenever none is usable (none, expiring, spent): token=ETH,total=0.05[,per-payment=…][,period=1d,per-period=…] (repeatable)."
    )
    var allowance: [String] = []
    @Option(help: "A payee the requested delegation is limited to (repeatable; none means any).") var payee: [String] = []
    @Option(help: "How long a requested delegation is valid from approval.") var validFor: String = "30d"
    @Option(help: "Ask for the next delegation this long before the current one expires.") var renewBefore: String = "1d"

    func source(_ configuration: Configuration) throws -> DelegationSource? {
        guard !allowance.isEmpty else {
            if bridge != nil { throw CLIError("--bridge needs --allowance: what to ask the bridge for") }
            return nil
        }
        var source = DelegationSource(
            bridge: bridge ?? BridgeSettings.defaultSocketPath,
            allowances: try allowance.map { try Allowance(spec: $0, configuration: configuration) },
            payees: try payee.map { try Address($0) }, validFor: try Units.parseDuration(validFor))
        source.renewBefore = try Units.parseDuration(renewBefore)
        return source
    }
}

/// `--socket PATH`: the wallet service's Unix socket (default `$XDG_RUNTIME_DIR/paratii/wallet.sock`).
struct WalletSocketOption: ParsableArguments {
    @Option(name: .customLong("socket"), help: "The wallet service's Unix socket (default $XDG_RUNTIME_DIR/paratii/wallet.sock).")
    var socket: String?

    var path: String { socket ?? WalletServiceSettings.defaultSocketPath }

    /// One call on the socket; a refusal becomes the CLI's one-line error.
    func call(_ method: String, _ route: String, _ body: JSONValue? = nil) throws -> JSONValue {
        let response: BridgeClient.Response
        do { response = try BridgeClient(path).request(method, route, body: body.map { Array($0.compactText.utf8) }) } catch {
            throw CLIError("cannot reach the wallet service at \(path): \(error)")
        }
        guard response.status == 200, let json = response.json else { throw CLIError(response.errorText) }
        return json
    }
}

/// `0.01ETH/day`: an amount, a token (symbol or address), and an optional period (day, hour, week, or 12h, 1d…).
enum SiteBudgetSpec {
    static func parse(_ text: String, configuration: Configuration) throws -> SiteLimit {
        let parts = text.split(separator: "/", maxSplits: 1).map(String.init)
        guard let head = parts.first?.trimmingCharacters(in: .whitespaces), !head.isEmpty else {
            throw CLIError("a budget is AMOUNT TOKEN[/PERIOD], e.g. 0.01ETH/day: got \(text)")
        }
        let digits = head.prefix { $0.isNumber || $0 == "." }
        let tokenName = head.dropFirst(digits.count).trimmingCharacters(in: .whitespaces)
        guard !digits.isEmpty, !tokenName.isEmpty else {
            throw CLIError("a budget is AMOUNT TOKEN[/PERIOD], e.g. 0.01ETH/day: got \(text)")
        }
        let token = try configuration.token(tokenName)
        let amount = try configuration.parseAmount(String(digits), token: token)
        guard amount > 0 else { throw CLIError("a budget must be positive: \(text)") }
        var period: UInt64 = 0
        if parts.count == 2 {
            let words: [String: UInt64] = ["hour": 3600, "day": 86400, "week": 604_800]
            period = try words[parts[1].lowercased()] ?? Units.parseDuration(parts[1])
            guard period > 0 else { throw CLIError("a budget's period must be positive: \(text)") }
        }
        return SiteLimit(token: token, limit: amount, period: period)
    }
}

extension SiteBudgetSpec {
    /// `paratii wallet budget --site ORIGIN`: what the site may still spend, as its page shows it.
    static func show(_ budgets: [SiteBudget], json: Bool, configuration: Configuration) throws {
        if json {
            return print(
                JSONValue.array(
                    budgets.map { b in
                        .object([
                            "origin": .string(b.origin), "token": .string(b.limit.token.checksummed),
                            "limit": .string(String(b.limit.limit)),
                            "period": .number("\(b.limit.period)"), "spentThisPeriod": .string(String(b.spentThisPeriod)),
                            "spent": .string(String(b.spent)), "remaining": .string(String(b.remaining)),
                            "remainingText": .string(configuration.formatAmount(b.remaining, token: b.limit.token)),
                        ])
                    }
                ).terminalPrettyText)
        }
        if budgets.isEmpty { print("no budget: the site is not paired") }
        for b in budgets {
            let amount = { (value: BigUInt) in
                "\(configuration.formatAmount(value, token: b.limit.token)) \(configuration.tokenName(b.limit.token))"
            }
            let period = b.limit.period == 0 ? "" : " per \(Units.formatDuration(b.limit.period))"
            print(
                "\(TerminalText.escape(b.origin)): spent \(amount(b.spent)), \(amount(b.remaining)) left of \(amount(b.limit.limit))\(period)"
            )
        }
    }
}
