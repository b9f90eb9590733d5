import ArgumentParser
import BigInt
import Delegation
import Ethereum
import Foundation
import PlayerCore

/// `paratii wallet …`: the player's spending wallet.
struct WalletCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "wallet",
        abstract: "The player's spending wallet: delegations, bounded vouchers, votes, top-ups.",
        subcommands: [
            Init.self, ShowAddress.self, ImportDelegation.self, Pay.self, ShowBudget.self, History.self,
            NewPostingKey.self, CastVote.self, RevokePostingKey.self, Topup.self, Reclaim.self, Approve.self,
            RequestDelegation.self, RequestTopup.self, StopPaying.self,
            Serve.self, RenewDelegation.self, Lock.self, Unlock.self, Sites.self, ApproveSite.self, RevokeSite.self,
        ]
    )
}

/// `--dir` and `--password-file`, shared by every wallet subcommand.
struct WalletOptions: ParsableArguments {
    @Option(help: "Wallet directory (default $XDG_DATA_HOME/paratii/wallet).") var dir: String?
    @Option(help: "File whose first line is the wallet password (else a no-echo prompt).") var passwordFile: String?

    var directory: String { dir ?? Wallet.defaultDirectory }

    func password(confirming: Bool = false) throws -> String {
        try CLIInput.secret(file: passwordFile, prompt: "Wallet password: ", confirming: confirming)
    }

    func open() throws -> Wallet { try Wallet.open(directory: directory, password: try password()) }
}

extension WalletCommand {
    struct Init: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Create a wallet with a fresh spending key; prints its address last.")
        @OptionGroup var wallet: WalletOptions
        @Option(help: "scrypt cost n for the keystores (default 262144).") var scryptN: Int = ScryptParameters.standard.n
        func run() throws {
            let created = try Wallet.create(
                directory: wallet.directory, password: try wallet.password(confirming: true), kdf: ScryptParameters(n: scryptN))
            print("wallet created in \(created.directory); spending address \(created.address.checksummed)")
        }
    }

    struct ShowAddress: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "address", abstract: "Print the spending address.")
        @OptionGroup var wallet: WalletOptions
        func run() throws { print(try wallet.open().address.checksummed) }
    }

    struct ImportDelegation: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "import-delegation", abstract: "Store a SpendingDelegation envelope for this wallet.")
        @OptionGroup var wallet: WalletOptions
        @Argument(help: "Envelope JSON file, or - for standard input.") var file: String
        func run() throws {
            let envelope = try Envelope(parsing: try CLIInput.bytes(file))
            let delegation = try wallet.open().importDelegation(envelope)
            print(
                "imported \(envelope.id.hexString) from master \(delegation.master), valid until \(TimeText.format(delegation.validUntil))")
            // Vouchers carry the delegation's own parents, so an attested card's attestation travels with every payment.
            if case .attestation(let attestation)? = envelope.parents.first?.message {
                print(
                    "the card (\(TerminalText.escape(attestation.holder)), serial \(TerminalText.escape(attestation.cardSerial))) is attested by institution \(attestation.institution) until \(TimeText.format(attestation.validUntil))"
                )
            }
        }
    }

    struct Pay: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Pay within the delegations; prints the voucher envelope JSON.")
        @OptionGroup var wallet: WalletOptions
        @Option(help: "Who is paid.") var payee: String
        @Option(help: "ETH, PTI, or a configured token's symbol or address.") var token: String
        @Option(help: "Decimal amount in the token's units.") var amount: String
        @Option(help: "What was bought: text (hashed) or 0x + 32 bytes.") var memo: String?
        @Option(help: "Idempotency key: asking again returns the identical voucher.") var key: String?
        @Option(help: "Pay this many times, one compact voucher per line (load tests).") var `repeat`: Int = 1
        @OptionGroup var config: ConfigOption

        func run() throws {
            let configuration = try config.load()
            let opened = try wallet.open()
            let tokenAddress = try configuration.token(token)
            var request = PaymentRequest(
                payee: try Address(payee), token: tokenAddress,
                amount: try configuration.parseAmount(amount, token: tokenAddress), memo: PaymentRequest.memo(memo ?? ""),
                idempotencyKey: key)
            for i in 0..<max(1, `repeat`) {
                if let key, `repeat` > 1 { request.idempotencyKey = "\(key)-\(i)" }
                let envelope: Envelope
                do { envelope = try opened.pay(request) } catch let error as WalletError {
                    // A refusal is the delegation's bound; anything else (a full disk, a read-only directory) is an error.
                    let label = if case .refused = error { "refused" } else { "error" }
                    TerminalOutput.warn("\(label): \(error)")
                    throw ExitCode(1)
                }
                // Written straight to the descriptor: a voucher is out only once it is recorded, and never lost in a buffer.
                let text = `repeat` > 1 ? envelope.json.compactText : envelope.json.prettyText
                FileHandle.standardOutput.write(Data((TerminalOutput.document(text) + "\n").utf8))
            }
        }
    }

    struct ShowBudget: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "budget", abstract: "What is left to spend, per delegation and token.")
        @OptionGroup var wallet: WalletOptions
        @Flag(help: "JSON output.") var json = false
        @Option(help: "A web site's own budget (an origin paired with `paratii wallet serve`).") var site: String?
        @OptionGroup var config: ConfigOption
        func run() throws {
            let configuration = try config.load()
            if let site { return try SiteBudgetSpec.show(try wallet.open().siteBudgets(site), json: json, configuration: configuration) }
            let budgets = try wallet.open().budget()
            if json {
                print(
                    JSONValue.array(
                        budgets.map { b in
                            .object([
                                "delegation": .string(b.delegation.hexString), "token": .string(b.token.checksummed),
                                "total": .string(String(b.total)), "spent": .string(String(b.spent)),
                                "remaining": .string(String(b.remaining)),
                                "perPayment": .string(String(b.perPayment)), "period": .number(String(b.period)),
                                "periodRemaining": b.periodRemaining.map { .string(String($0)) } ?? .null,
                                "validUntil": .number(String(b.validUntil)), "live": .bool(b.live),
                            ])
                        }
                    ).terminalPrettyText)
                return
            }
            if budgets.isEmpty { print("no delegations yet: import one with `paratii wallet import-delegation`") }
            for b in budgets {
                let token = configuration.tokenName(b.token)
                let amount = { (value: BigUInt) in configuration.formatAmount(value, token: b.token) }
                var line =
                    "\(b.live ? "live" : "dead") \(b.delegation.hexString.prefix(10))… \(token): spent \(amount(b.spent)) of \(amount(b.total)), remaining \(amount(b.remaining))"
                if let left = b.periodRemaining { line += ", \(amount(left)) left this \(Units.formatDuration(b.period))" }
                print(line + ", until \(TimeText.format(b.validUntil))")
            }
        }
    }

    struct History: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Vouchers recorded, newest first.")
        @OptionGroup var wallet: WalletOptions
        @Option(help: "How many.") var limit = 50
        @Flag(help: "JSON output.") var json = false
        @OptionGroup var config: ConfigOption
        func run() throws {
            let configuration = try config.load()
            let records = try wallet.open().history(limit: limit)
            if json {
                print(
                    JSONValue.array(
                        records.map { r in
                            .object([
                                "delegation": .string(r.voucher.delegation.hexString), "payee": .string(r.voucher.payee.checksummed),
                                "token": .string(r.voucher.token.checksummed), "amount": .string(String(r.amount)),
                                "cumulative": .string(String(r.voucher.cumulative)), "sequence": .number(String(r.voucher.sequence)),
                                "memo": .string(r.voucher.memo.hexString), "createdAt": .number(String(r.createdAt)),
                                "key": r.idempotencyKey.map { .string($0) } ?? .null,
                            ])
                        }
                    ).terminalPrettyText)
                return
            }
            for r in records {
                let amount = { (value: BigUInt) in configuration.formatAmount(value, token: r.voucher.token) }
                print(
                    "\(TimeText.format(r.createdAt)) \(amount(r.amount)) \(configuration.tokenName(r.voucher.token)) → \(r.voucher.payee) (#\(r.voucher.sequence), cumulative \(amount(r.voucher.cumulative)))"
                )
            }
        }
    }

    struct NewPostingKey: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "new-posting-key", abstract: "Create a posting key for votes; prints its PostingDelegation.")
        @OptionGroup var wallet: WalletOptions
        @Option(help: "Comma-separated: rate, flag, moderate.") var scopes: String
        @Option(help: "Lifetime, e.g. 30d.") var validFor = "30d"
        @Option(help: "scrypt cost n for the posting keystore.") var scryptN: Int = ScryptParameters.standard.n
        func run() throws {
            let granted = try Scopes(parsing: scopes)
            let envelope = try wallet.open().newPostingKey(
                scopes: granted, validFor: try Units.parseDuration(validFor), kdf: ScryptParameters(n: scryptN))
            print(envelope.json.terminalPrettyText)
        }
    }

    struct CastVote: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "vote", abstract: "Sign a vote with a posting key; prints the vote envelope.")
        @OptionGroup var wallet: WalletOptions
        @Option(help: "Content id: 0x + 32 bytes, or text (hashed).") var content: String
        @Option(help: "Rate 1…5.") var rate: Int16?
        @Option(help: "Raise a flag with this reason.") var flag: String?
        @Flag(help: "Withdraw a flag.") var unflag = false
        @Option(help: "Moderation action code.") var moderate: Int16?
        @Option(help: "Reason for a moderation action.") var reason = ""
        func run() throws {
            let ballots: [Ballot?] = [
                rate.map { .rate($0) }, flag.map { .flag($0) }, unflag ? .unflag : nil, moderate.map { .moderate($0, reason) },
            ]
            let chosen = ballots.compactMap { $0 }
            guard chosen.count == 1 else { throw CLIError("give exactly one of --rate, --flag, --unflag, --moderate") }
            print(try wallet.open().vote(content: PaymentRequest.memo(content), chosen[0]).json.terminalPrettyText)
        }
    }

    struct RevokePostingKey: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "revoke-posting-key", abstract: "Revoke a posting key; prints the signed Revocation.")
        @OptionGroup var wallet: WalletOptions
        @Argument(help: "The posting key's address.") var poster: String
        func run() throws { print(try wallet.open().revokePostingKey(try Address(poster)).json.terminalPrettyText) }
    }

    struct Topup: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Master → spending address transfer, signed by the master; prints the raw transaction (or sends it with --send).")
        @OptionGroup var wallet: WalletOptions
        @Option(help: "ETH, PTI, or a configured token's symbol or address.") var token: String
        @Option(help: "Decimal amount.") var amount: String
        @OptionGroup var transaction: TokenTransactionOptions
        @OptionGroup var master: MasterSignerOptions
        func run() async throws {
            let (configuration, tokenAddress) = try transaction.resolve(token)
            let opened = try wallet.open()
            let chain = try await transaction.node.client(configuration)
            let signer = try master.signer()
            let parameters = try await transaction.parameters(configuration, token: tokenAddress, sender: signer.address, chain: chain)
            let signed = try opened.topup(
                token: tokenAddress, amount: try configuration.parseAmount(amount, token: tokenAddress), fees: parameters, master: signer)
            try await transaction.printOrSend(signed, chain: chain, what: "top-up")
        }
    }

    struct Reclaim: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Spending → master transfer, signed by the spending key; prints the raw transaction.")
        @OptionGroup var wallet: WalletOptions
        @Option(help: "ETH, PTI, or a configured token's symbol or address.") var token: String
        @Option(help: "Decimal amount.") var amount: String
        @Option(help: "The master address to return it to.") var to: String
        @OptionGroup var transaction: TokenTransactionOptions
        func run() async throws {
            let (configuration, tokenAddress) = try transaction.resolve(token)
            let opened = try wallet.open()
            let chain = try await transaction.node.client(configuration)
            let parameters = try await transaction.parameters(configuration, token: tokenAddress, sender: opened.address, chain: chain)
            let signed = try opened.reclaim(
                token: tokenAddress, amount: try configuration.parseAmount(amount, token: tokenAddress), to: try Address(to),
                fees: parameters)
            try await transaction.printOrSend(signed, chain: chain, what: "reclaim")
        }
    }

    struct Approve: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "ERC-20 approval for the Paratii contract to redeem vouchers; prints the raw transaction.")
        @OptionGroup var wallet: WalletOptions
        @Option(help: "PTI or a token address.") var token = "PTI"
        @Option(help: "Decimal amount.") var amount: String
        @Option(help: "Who may spend (default: the configured verifying contract).") var spender: String?
        @OptionGroup var transaction: TokenTransactionOptions
        func run() async throws {
            let (configuration, tokenAddress) = try transaction.resolve(token)
            guard tokenAddress != Allowance.eth else { throw CLIError("ETH needs no approval") }
            let opened = try wallet.open()
            let chain = try await transaction.node.client(configuration)
            let parameters = try await transaction.parameters(configuration, token: tokenAddress, sender: opened.address, chain: chain)
            let signed = try opened.approve(
                token: tokenAddress, spender: try spender.map { try Address($0) } ?? configuration.verifyingContract,
                amount: try configuration.parseAmount(amount, token: tokenAddress), fees: parameters)
            try await transaction.printOrSend(signed, chain: chain, what: "approval")
        }
    }
}
