import ArgumentParser
import Bridge
import Delegation
import Ethereum
import Foundation
import PlayerCore
import Storage

extension WalletCommand {
    /// `paratii wallet request-delegation`: the player's bridge client. Pairs when the wallet has no
    /// token for this bridge yet (the token is kept in the wallet directory, 0600), sends the request,
    /// waits for the user's approval on the bridge side, and imports the signed delegation.
    struct RequestDelegation: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "request-delegation",
            abstract: "Ask the bridge for a SpendingDelegation (pairing first if needed), wait for approval, import it."
        )
        @OptionGroup var wallet: WalletOptions
        @OptionGroup var link: BridgeLink
        @Option(help: "An allowance: token=ETH,total=0.05[,per-payment=…][,period=1d,per-period=…] (repeatable).")
        var allowance: [String] = []
        @Option(help: "A payee the delegation is limited to (repeatable; none means any).") var payee: [String] = []
        @Option(help: "How long the delegation is valid from approval (e.g. 30d).") var validFor: String = "30d"
        @OptionGroup var config: ConfigOption

        func run() throws {
            guard !allowance.isEmpty else { throw CLIError("give at least one --allowance") }
            let configuration = try config.load()
            let opened = try wallet.open()
            // Parsed here, once, by the same rules the bridge applies: a mistake is caught before pairing.
            let asked = DelegationRequest(
                spender: opened.address,
                allowances: try allowance.map { try Allowance(spec: $0, configuration: configuration) },
                payees: try payee.map { try Address($0) }, validFor: try Units.parseDuration(validFor))
            let body = asked.json(configuration)
            let approved = try link.submit("/v1/delegation-requests", body, wallet: wallet, address: opened.address)
            guard let value = approved["envelope"] else { throw CLIError("approved without an envelope") }
            let envelope = try Envelope(json: value)
            let delegation = try opened.importDelegation(envelope)
            print(
                "imported \(envelope.id.hexString) from master \(delegation.master), valid until \(TimeText.format(delegation.validUntil))")
        }
    }
}

extension WalletCommand {
    /// `paratii wallet request-topup`: asks the bridge for a master-signed top-up (the card sends ETH or
    /// PTI to this wallet's spending address), waits for the user's approval, prints the signed raw
    /// transaction for broadcasting. Nonce and fees come from the user: no network is needed to sign.
    struct RequestTopup: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "request-topup",
            abstract: "Ask the bridge for a master-signed top-up to this wallet, wait for approval, print the raw transaction."
        )
        @OptionGroup var wallet: WalletOptions
        @OptionGroup var link: BridgeLink
        @Option(help: "ETH, PTI or a token address.") var token: String
        @Option(help: "Decimal amount, e.g. 0.5.") var amount: String
        @Option(help: "The master address's nonce.") var nonce: String
        @Option(help: "Gas limit (default 21000 for ETH, 100000 for tokens).") var gas: String?
        @Option(help: "maxFeePerGas in wei.") var maxFee: String
        @Option(help: "maxPriorityFeePerGas in wei.") var priorityFee: String
        @OptionGroup var config: ConfigOption

        func run() throws {
            let opened = try wallet.open()
            let configuration = try config.load()
            let tokenAddress = try configuration.token(token)
            let body: JSONValue = .object([
                "kind": .string("topup"), "to": .string(opened.address.checksummed), "token": .string(token), "amount": .string(amount),
                "nonce": .string(nonce), "gas": .string(gas ?? "\(TokenTransfer.defaultGas(token: tokenAddress))"),
                "maxFeePerGas": .string(maxFee), "maxPriorityFeePerGas": .string(priorityFee),
            ])
            let approved = try link.submit("/v1/transaction-requests", body, wallet: wallet, address: opened.address)
            guard let raw = approved["transaction"]?["raw"]?.stringValue, let bytes = try? [UInt8](hex: raw) else {
                throw CLIError("approved without a transaction")
            }
            // Check what came back before anyone broadcasts it: exactly the top-up asked for, to this wallet.
            let signed = try SignedTransaction.decode(bytes)
            let asked: TransactionRequest
            do { asked = try TransactionRequest(json: body, configuration: configuration) } catch { throw CLIError("\(error)") }
            guard signed.transaction == asked.transaction(chainId: signed.transaction.chainId ?? 0) else {
                throw CLIError("the bridge returned a transaction that is not this wallet's top-up")
            }
            FileHandle.standardError.write(Data("top-up \(signed.hash.hexString) signed by \(signed.from.checksummed)\n".utf8))
            print(raw)
        }
    }
}

/// How a wallet reaches the bridge: pairs when the wallet has no token for this bridge yet (the token is
/// kept in the wallet directory, 0600), submits a request, and waits for the user's decision.
struct BridgeLink: ParsableArguments {
    @Option(help: "The bridge: its Unix socket path or http://127.0.0.1:PORT (default $XDG_RUNTIME_DIR/paratii/bridge.sock).")
    var bridge: String?
    @Option(help: "Player name shown to the user when pairing.") var name: String = "paratii wallet"
    @Option(help: "Give up waiting after this many seconds.") var timeout: Int = 600

    /// The player's side of the protocol (`BridgePlayer`) for this wallet; says what the user must do on stderr.
    func submit(_ path: String, _ body: JSONValue, wallet: WalletOptions, address spender: Address) throws -> JSONValue {
        let player = BridgePlayer(
            address: bridge ?? BridgeSettings.defaultSocketPath, name: name, tokenFile: wallet.directory + "/bridge-token.json",
            wallet: spender, timeout: timeout, notice: { TerminalOutput.warn($0) })
        return try player.submit(path, body)
    }
}
