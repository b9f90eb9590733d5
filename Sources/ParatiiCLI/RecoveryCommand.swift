import ArgumentParser
import BigInt
import Bridge
import ChainClient
import Delegation
import Ethereum
import Foundation

/// `paratii recovery …`: a lost card in the contract. The master names a backup card (its address) and
/// a delay; the backup card may start a takeover; the master may cancel it within the delay; after it,
/// the backup card completes it and the master's escrow becomes the backup card's. Each step is one
/// transaction the card in question signs: through the bridge (the user approves it there, a request of
/// kind recovery-set, -start, -cancel or -complete), or here with --direct.
struct RecoveryCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "recovery",
        abstract: "A lost card: a backup card that can take over the master's escrow after a delay the master can cancel within.",
        subcommands: [Set.self, Start.self, Cancel.self, Complete.self, Status.self]
    )
}

/// How a recovery transaction is signed and sent: the same options as `paratii deposit`.
struct RecoverySending: ParsableArguments {
    @Flag(help: "Sign here (the card in a reader, or --master-keystore) instead of asking the bridge.") var direct = false
    @Option(help: "The signing card's address, for its nonce (default: the card's, or the wallet's delegations' master).")
    var from: String?
    @OptionGroup var signing: ContractSigning

    /// Gas when neither --gas nor a node's estimate gives it (each call measured well under this on py-evm).
    static let fallbackGas: BigUInt = 150_000

    func send(_ call: RecoveryCall) async throws {
        let (fees, node) = (signing.fees, signing.node)
        let configuration = try signing.config.load()
        let contract = configuration.verifyingContract
        guard contract != .zero else { throw CLIError("no contract: set verifyingContract in the configuration") }
        let chain = try await node.client(configuration)
        let given = try from.map { try address($0, "--from") }
        let path = try signing.path(direct: direct, given: given, option: "--from", role: "")
        let sender = path.sender
        // The node's estimate runs the call: a takeover that would revert says why before anything is signed.
        var gas = Self.fallbackGas
        if let chain, let sender, fees.gas == nil {
            do {
                gas = try await fees.gasFor(
                    from: sender, to: contract,
                    data: TransactionRequest(
                        recovery: call, contract: contract, nonce: 0, gas: 21000,
                        maxFeePerGas: 0, maxPriorityFeePerGas: 0
                    ).transaction(chainId: configuration.chainId).data,
                    chain: chain, fallback: gas)
            } catch let error as ChainError {
                throw CLIError("the contract refuses \(call.kind.rawValue) from \(sender.checksummed): \(error)")
            }
        }
        let parameters = try await fees.parameters(configuration: configuration, sender: sender, gas: gas, chain: chain)
        let request = TransactionRequest(
            recovery: call, contract: contract, nonce: UInt64(parameters.nonce), gas: UInt64(parameters.gas),
            maxFeePerGas: parameters.maxFeePerGas, maxPriorityFeePerGas: parameters.maxPriorityFeePerGas)
        let signed = try path.sign(request, configuration)
        guard let chain else { return print(signed.raw.hexString) }
        let receipt = try await node.broadcast(signed, on: chain, what: call.kind.rawValue)
        print("\(call.kind.rawValue) \(signed.hash.hexString) signed by \(signed.from.checksummed), mined in block \(receipt.blockNumber)")
    }
}

private func address(_ text: String, _ option: String) throws -> Address {
    do { return try Address(text) } catch { throw CLIError("\(option): \(error)") }
}

extension RecoveryCommand {
    struct Set: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "set",
            abstract: "The master names its backup card's address and the delay a takeover waits (signed by the master's card).",
            discussion:
                "The delay is the time you have to notice and cancel a takeover you did not start (`paratii recovery cancel`); the contract wants at least its withdrawal delay. --remove takes the recovery address away."
        )
        @Option(help: "The backup card's address (`paratii card address` with that card in the reader).") var account: String?
        @Option(help: "How long a takeover waits, e.g. 30d (at least the contract's withdrawal delay).") var delay: String = "30d"
        @Flag(help: "Remove the recovery address instead.") var remove = false
        @OptionGroup var sending: RecoverySending

        func run() async throws {
            let call: RecoveryCall
            if remove {
                guard account == nil else { throw CLIError("--remove takes no --account") }
                call = RecoveryCall(kind: .recoverySet, account: .zero, delay: 0)
            } else {
                guard let account else { throw CLIError("give --account (the backup card's address), or --remove") }
                let seconds: UInt64
                do { seconds = try Units.parseDuration(delay) } catch { throw CLIError("--delay: \(error)") }
                guard seconds > 0, seconds <= ParatiiContract.maximumRecoveryDelay else {
                    throw CLIError("--delay must be between 1s and 365d")
                }
                call = RecoveryCall(kind: .recoverySet, account: try address(account, "--account"), delay: seconds)
            }
            try await sending.send(call)
        }
    }

    struct Start: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "start", abstract: "The backup card starts taking over a lost master (signed by the backup card).")
        @Option(help: "The lost card's (the master's) address.") var master: String
        @OptionGroup var sending: RecoverySending
        func run() async throws { try await sending.send(RecoveryCall(kind: .recoveryStart, master: try address(master, "--master"))) }
    }

    struct Cancel: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "cancel", abstract: "The master cancels a takeover of itself (signed by the master's card).")
        @OptionGroup var sending: RecoverySending
        func run() async throws { try await sending.send(RecoveryCall(kind: .recoveryCancel)) }
    }

    struct Complete: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "complete",
            abstract:
                "After the delay, the backup card completes the takeover: the master's escrow becomes its own (signed by the backup card).")
        @Option(help: "The lost card's (the master's) address.") var master: String
        @Option(help: "A token to move besides ETH (default: PTI when configured; ETH only: --token ETH).") var token: String?
        @OptionGroup var sending: RecoverySending
        func run() async throws {
            let configuration = try sending.signing.config.load()
            let moved: Address?
            if let token {
                let value = try configuration.token(token)
                moved = value == Allowance.eth ? nil : value
            } else {
                moved = configuration.ptiToken == .zero ? nil : configuration.ptiToken
            }
            try await sending.send(RecoveryCall(kind: .recoveryComplete, master: try address(master, "--master"), token: moved))
        }
    }

    struct Status: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "status", abstract: "A master's recovery address, delay, pending takeover, and whether it was taken over.")
        @Option(help: "The master's address.") var master: String
        @OptionGroup var node: RPCOption
        @OptionGroup var config: ConfigOption
        func run() async throws {
            let configuration = try config.load()
            guard let chain = try await node.client(configuration) else {
                throw CLIError("recovery status needs a node: --rpc URL or \"rpc\" in the configuration")
            }
            let master = try address(master, "--master")
            guard let lines = try await RecoveryReminder.describe(master: master, configuration: configuration, chain: chain) else {
                throw CLIError("no contract: set verifyingContract in the configuration")
            }
            print(lines.joined(separator: "\n"))
        }
    }
}

/// What `recovery status`, `card status` and `doctor` say about a master's recovery on chain.
enum RecoveryReminder {
    enum State: Equatable {
        case notSet
        case set(account: Address, delay: UInt64)
        case pending(account: Address, readyAt: UInt64)
        case takenOver(by: Address)
    }

    static func state(master: Address, contract: Address, chain: RPCClient) async throws -> State {
        let taken = try ParatiiContract.address(try await chain.call(to: contract, data: ParatiiContract.recoveredTo(master: master)))
        if taken != .zero { return .takenOver(by: taken) }
        let setting = try ParatiiContract.recoverySetting(
            try await chain.call(to: contract, data: ParatiiContract.recovery(master: master)))
        if setting.account == .zero { return .notSet }
        if setting.readyAt != 0 { return .pending(account: setting.account, readyAt: UInt64(setting.readyAt)) }
        return .set(account: setting.account, delay: UInt64(setting.delay))
    }

    /// One line for the state, and the command that acts on it ("" when nothing needs doing).
    static func describe(_ state: State, master: Address) -> (line: String, fix: String) {
        switch state {
        case .notSet:
            (
                "no recovery address set: if this card is lost, its escrow is lost with it",
                "paratii recovery set --account <the backup card's address> --delay 30d"
            )
        case .set(let account, let delay):
            ("recovery address \(account.checksummed), takeover delay \(Units.formatDuration(delay))", "")
        case .pending(let account, let readyAt):
            (
                "A TAKEOVER BY \(account.checksummed) IS PENDING: it can complete at \(TimeText.format(readyAt))",
                "if you did not start it: paratii recovery cancel (with this card), now"
            )
        case .takenOver(let by): ("\(master.checksummed) was taken over by \(by.checksummed); its escrow is there now", "")
        }
    }

    static func describe(master: Address, configuration: Configuration, chain: RPCClient) async throws -> [String]? {
        guard configuration.verifyingContract != .zero else { return nil }
        let (line, fix) = describe(try await state(master: master, contract: configuration.verifyingContract, chain: chain), master: master)
        return ["recovery: " + line] + (fix.isEmpty ? [] : ["  " + fix])
    }

    /// For `card status` and `doctor`: the state when the configuration (or --rpc) names a node and a
    /// contract; nil offline. A node that does not answer is a result too, not a failure of the command.
    static func check(master: Address, configuration: Configuration, rpc: String?) async -> Result<State, Error>? {
        guard let url = rpc ?? configuration.rpc, configuration.verifyingContract != .zero else { return nil }
        do {
            let chain = try RPCClient(url: url)
            return .success(try await state(master: master, contract: configuration.verifyingContract, chain: chain))
        } catch {
            return .failure(error)
        }
    }
}
