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
    /// transaction (or sends it with `--send`). Nonce and fees come from the user, or from the node
    /// when one is configured (the master's nonce: `--master`, or the master of the imported delegations).
    struct RequestTopup: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "request-topup",
            abstract: "Ask the bridge for a master-signed top-up to this wallet, wait for approval, print the raw transaction."
        )
        @OptionGroup var wallet: WalletOptions
        @OptionGroup var link: BridgeLink
        @Option(help: "ETH, PTI or a token address.") var token: String
        @Option(help: "Decimal amount, e.g. 0.5.") var amount: String
        @Option(help: "The master address whose nonce the node is asked (default: the imported delegations' master).")
        var master: String?
        @OptionGroup var transaction: TokenTransactionOptions

        func run() async throws {
            let opened = try wallet.open()
            let (configuration, tokenAddress) = try transaction.resolve(token)
            let chain = try await transaction.node.client(configuration)
            let sender = try masterAddress(opened, needed: chain != nil && transaction.fees.nonce == nil)
            let parameters = try await transaction.parameters(configuration, token: tokenAddress, sender: sender, chain: chain)
            let body: JSONValue = .object([
                "kind": .string("topup"), "to": .string(opened.address.checksummed), "token": .string(token), "amount": .string(amount),
                "nonce": .string("\(parameters.nonce)"), "gas": .string("\(parameters.gas)"),
                "maxFeePerGas": .string("\(parameters.maxFeePerGas)"),
                "maxPriorityFeePerGas": .string("\(parameters.maxPriorityFeePerGas)"),
            ])
            let signed = try link.requestTransaction(body, configuration: configuration, wallet: wallet, address: opened.address)
            FileHandle.standardError.write(Data("top-up \(signed.hash.hexString) signed by \(signed.from.checksummed)\n".utf8))
            try await transaction.printOrSend(signed, chain: chain, what: "top-up")
        }

        private func masterAddress(_ opened: Wallet, needed: Bool) throws -> Address? {
            if let master { return try Address(master) }
            guard needed else { return nil }
            let masters = try opened.masters()
            guard masters.count == 1 else {
                throw CLIError("give --master ADDRESS (or --nonce): the wallet has \(masters.count) masters on record")
            }
            return masters[0]
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

    /// Submits a transaction request and checks what comes back before anyone broadcasts it: exactly
    /// the transaction asked for (same recipient, amount, nonce, gas and fees).
    func requestTransaction(
        _ body: JSONValue, configuration: Configuration, wallet: WalletOptions, address: Address
    ) throws
        -> SignedTransaction
    {
        let approved = try submit("/v1/transaction-requests", body, wallet: wallet, address: address)
        guard let raw = approved["transaction"]?["raw"]?.stringValue, let bytes = try? [UInt8](hex: raw) else {
            throw CLIError("approved without a transaction")
        }
        let signed = try SignedTransaction.decode(bytes)
        let asked: TransactionRequest
        do { asked = try TransactionRequest(json: body, configuration: configuration) } catch { throw CLIError("\(error)") }
        guard signed.transaction == asked.transaction(chainId: signed.transaction.chainId ?? 0) else {
            throw CLIError("the bridge returned a transaction that is not the one asked for")
        }
        return signed
    }
}
