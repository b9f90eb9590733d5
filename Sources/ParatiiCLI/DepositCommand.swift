import ArgumentParser
import BigInt
import Bridge
import ChainClient
import Delegation
import Ethereum
import Foundation
import PlayerCore

/// `paratii deposit`: the master escrows ETH or PTI in the Paratii contract (the configuration's
/// `verifyingContract`) for its delegations. The card signs through the bridge (transaction requests of
/// kind `deposit`, and `deposit-approval` first for a token), or here with `--direct` (the card in a
/// reader, or `--master-keystore` in tests). With a node the transactions are sent and their receipts
/// awaited; offline they are printed as raw transactions, one per line, in the order to broadcast.
struct DepositCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "deposit",
        abstract: "Escrow ETH or PTI in the Paratii contract for the master's delegations (signed by the card)."
    )
    @Option(help: "ETH, PTI, or a configured token's symbol or address.") var token: String
    @Option(help: "Decimal amount in the token's units.") var amount: String
    @Flag(help: "Sign here (the card in a reader, or --master-keystore) instead of asking the bridge.") var direct = false
    @Option(help: "The master address (default: the card's, or the wallet's delegations' master when asking the bridge).")
    var master: String?
    @OptionGroup var sending: ContractSigning

    /// Gas when neither --gas nor a node's estimate gives it: deposit() and depositToken measured on
    /// py-evm at about 47,000 and 75,000 (a first deposit writes fresh storage), with room.
    static let fallbackGas: (eth: BigUInt, token: BigUInt, approval: BigUInt) = (80_000, 120_000, 80_000)

    func run() async throws {
        let (fees, node) = (sending.fees, sending.node)
        let configuration = try sending.config.load()
        guard configuration.verifyingContract != .zero else {
            throw CLIError("no contract to deposit into: set verifyingContract in the configuration")
        }
        let tokenAddress = try configuration.token(token)
        let value = try configuration.parseAmount(amount, token: tokenAddress)
        guard value > 0 else { throw CLIError("--amount must be positive") }
        let chain = try await node.client(configuration)
        let sign = try sending.path(direct: direct, given: try master.map { try Address($0) }, option: "--master", role: "the master ")
        let contract = configuration.verifyingContract
        var signedAll: [SignedTransaction] = []
        var nextNonce: BigUInt? = nil

        // A token deposit is two transactions: the ERC-20 approval, then depositToken pulling it.
        var steps: [TransactionRequest.Kind] = [.deposit]
        if tokenAddress != Allowance.eth { steps.insert(.depositApproval, at: 0) }
        for step in steps {
            let data: [UInt8]
            let to: Address
            var fallback: BigUInt
            switch step {
            case .depositApproval:
                (to, data, fallback) = (tokenAddress, ERC20.approve(spender: contract, amount: value), Self.fallbackGas.approval)
            case .deposit where tokenAddress == Allowance.eth:
                (to, data, fallback) = (contract, ParatiiContract.deposit, Self.fallbackGas.eth)
            default:
                (to, data, fallback) = (contract, ParatiiContract.depositToken(tokenAddress, amount: value), Self.fallbackGas.token)
            }
            // The estimate needs the approval mined first, so each step is estimated when its turn comes.
            if let chain, let from = sign.sender, fees.gas == nil {
                fallback = try await fees.gasFor(
                    from: from, to: to, value: step == .deposit && tokenAddress == Allowance.eth ? value : 0, data: data, chain: chain,
                    fallback: fallback)
            }
            var parameters = try await fees.parameters(configuration: configuration, sender: sign.sender, gas: fallback, chain: chain)
            if let nextNonce { parameters.nonce = max(parameters.nonce, nextNonce) }
            let request = TransactionRequest(
                to: contract, token: tokenAddress, amount: value,
                nonce: UInt64(parameters.nonce), gas: UInt64(parameters.gas), maxFeePerGas: parameters.maxFeePerGas,
                maxPriorityFeePerGas: parameters.maxPriorityFeePerGas, kind: step)
            let signed = try sign.sign(request, configuration)
            nextNonce = parameters.nonce + 1
            if let chain {
                let receipt = try await node.broadcast(signed, on: chain, what: step.rawValue)
                FileHandle.standardError.write(
                    Data(
                        "\(step.rawValue) \(signed.hash.hexString) mined in block \(receipt.blockNumber), gas used \(receipt.gasUsed)\n"
                            .utf8))
            }
            signedAll.append(signed)
        }
        guard let chain else { return signedAll.forEach { print($0.raw.hexString) } }
        let from = signedAll[0].from
        let escrow = try ParatiiContract.uint(
            try await chain.call(to: contract, data: ParatiiContract.escrow(master: from, token: tokenAddress)))
        print(
            "deposited \(configuration.formatAmount(value, token: tokenAddress)) \(configuration.tokenName(tokenAddress)) for \(from.checksummed); escrow now \(configuration.formatAmount(escrow, token: tokenAddress))"
        )
    }
}
