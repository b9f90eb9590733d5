import ArgumentParser
import BigInt
import ChainClient
import Delegation
import Ethereum
import Foundation

/// `--rpc URL`: the node to ask for nonces and fees and to send to (default: `rpc` in config.json).
struct RPCOption: ParsableArguments {
    @Option(help: "JSON-RPC endpoint of a node (default: \"rpc\" in the configuration; none: offline).") var rpc: String?
    @Option(help: "Seconds to wait for a receipt.") var receiptTimeout: Int = 120

    /// The client, or nil when no endpoint is given or configured. A node on another chain than the
    /// configuration's is refused: what would be signed would be for a chain it cannot reach.
    func client(_ configuration: Configuration) async throws -> RPCClient? {
        guard let url = rpc ?? configuration.rpc else { return nil }
        let client = try RPCClient(url: url)
        let id = try await client.chainId()
        guard id == configuration.chainId else {
            throw CLIError("the node at --rpc is on chain \(id), the configuration says \(configuration.chainId)")
        }
        return client
    }

    /// Sends and waits for the receipt; a reverted transaction is an error naming its hash.
    func broadcast(_ signed: SignedTransaction, on client: RPCClient, what: String) async throws -> Receipt {
        _ = try await client.send(signed)
        let receipt = try await client.waitForReceipt(signed.hash, timeout: .seconds(receiptTimeout))
        guard receipt.succeeded else { throw CLIError("\(what) \(signed.hash.hexString) reverted (gas used \(receipt.gasUsed))") }
        return receipt
    }
}

/// Nonce, gas and fees for a transaction: given by the user (signing needs no network), or asked of
/// the node when an RPC endpoint is configured; what the user gives wins.
struct FeeOptions: ParsableArguments {
    @Option(help: "Chain id (default: the configuration's).") var chainId: String?
    @Option(help: "The sender's nonce (default: the node's pending count).") var nonce: String?
    @Option(help: "Gas limit (default 21000 for ETH, 100000 for tokens, or the node's estimate).") var gas: String?
    @Option(help: "maxFeePerGas in wei (default: from the node's fee history).") var maxFee: String?
    @Option(help: "maxPriorityFeePerGas in wei (default: from the node's fee history).") var priorityFee: String?

    static func integer(_ text: String, _ name: String) throws -> BigUInt {
        guard let value = IntegerText.parseUnsigned(.string(text)) else { throw CLIError("--\(name) must be a non-negative integer") }
        return value
    }

    /// The parameters for a transaction from `sender`; `gas` is the default when neither the user nor
    /// an estimate gives one.
    func parameters(
        configuration: Configuration, sender: Address?, gas defaultGas: BigUInt, chain: RPCClient?
    ) async throws
        -> FeeParameters
    {
        let chainId = try chainId.map { try Self.integer($0, "chain-id") } ?? configuration.chainId
        let gas = try self.gas.map { try Self.integer($0, "gas") } ?? defaultGas
        let given = (
            nonce: try nonce.map { try Self.integer($0, "nonce") }, maxFee: try maxFee.map { try Self.integer($0, "max-fee") },
            priority: try priorityFee.map { try Self.integer($0, "priority-fee") }
        )
        if let nonce = given.nonce, let maxFee = given.maxFee, let priority = given.priority {
            return FeeParameters(chainId: chainId, nonce: nonce, gas: gas, maxFeePerGas: maxFee, maxPriorityFeePerGas: priority)
        }
        guard let chain else {
            throw CLIError("give --nonce, --max-fee and --priority-fee, or a node with --rpc URL (or \"rpc\" in the configuration)")
        }
        let nonce: BigUInt
        if let given = given.nonce {
            nonce = given
        } else {
            guard let sender else { throw CLIError("give --nonce: the sender is not known before signing") }
            nonce = try await chain.nonce(of: sender)
        }
        let suggested = try await chain.suggestFees()
        let priority = given.priority ?? suggested.maxPriorityFeePerGas
        let maxFee = given.maxFee ?? max(suggested.maxFeePerGas, priority)
        guard priority <= maxFee else { throw CLIError("--priority-fee is above the max fee \(maxFee)") }
        return FeeParameters(chainId: chainId, nonce: nonce, gas: gas, maxFeePerGas: maxFee, maxPriorityFeePerGas: priority)
    }

    /// The gas a call needs: the user's `--gas`, else the node's estimate plus a fifth (state may move
    /// between estimate and inclusion), else `fallback`.
    func gasFor(from: Address, to: Address, value: BigUInt = 0, data: [UInt8], chain: RPCClient?, fallback: BigUInt) async throws -> BigUInt
    {
        if let gas { return try Self.integer(gas, "gas") }
        guard let chain else { return fallback }
        let estimate = try await chain.estimateGas(from: from, to: to, value: value, data: data)
        return estimate + estimate / 5
    }
}

/// What the wallet's token transactions (top-up, reclaim, approval, a top-up asked of the bridge) take
/// besides their own arguments: the token, fees and nonce, the node, `--send`, the configuration.
struct TokenTransactionOptions: ParsableArguments {
    @OptionGroup var fees: FeeOptions
    @OptionGroup var node: RPCOption
    @Flag(help: "Broadcast through the node and wait for the receipt.") var send = false
    @OptionGroup var config: ConfigOption

    /// The configuration and `token` (a symbol or an address) resolved in it.
    func resolve(_ token: String) throws -> (configuration: Configuration, token: Address) {
        let configuration = try config.load()
        return (configuration, try configuration.token(token))
    }

    /// Nonce and fees for moving `token` from `sender`, with the token's default gas unless `--gas` is given.
    func parameters(_ configuration: Configuration, token: Address, sender: Address?, chain: RPCClient?) async throws -> FeeParameters {
        try await fees.parameters(configuration: configuration, sender: sender, gas: TokenTransfer.defaultGas(token: token), chain: chain)
    }

    func printOrSend(_ signed: SignedTransaction, chain: RPCClient?, what: String) async throws {
        try await Broadcast.printOrSend(signed, send: send, chain: chain, node: node, what: what)
    }
}

/// What a signing command does with its transaction: prints the raw bytes (offline, or without
/// `--send`), or sends it and prints the hash once the receipt says it succeeded.
enum Broadcast {
    static func printOrSend(_ signed: SignedTransaction, send: Bool, chain: RPCClient?, node: RPCOption, what: String) async throws {
        guard send else { return print(signed.raw.hexString) }
        guard let chain else { throw CLIError("--send needs a node: --rpc URL or \"rpc\" in the configuration") }
        let receipt = try await node.broadcast(signed, on: chain, what: what)
        print("\(what) \(signed.hash.hexString) mined in block \(receipt.blockNumber), gas used \(receipt.gasUsed)")
    }
}
