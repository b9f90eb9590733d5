import ArgumentParser
import BigInt
import ChainClient
import Delegation
import Ethereum
import Foundation
import PlayerCore

extension PayeeCommand {
    /// `paratii payee redeem`: the best unredeemed voucher of each of this payee's channels, one
    /// `redeemBatch` per delegation (at most 64 vouchers each), signed by the payee's own key. With a
    /// node each batch is simulated (an invalid voucher would revert the whole call), sent, and its
    /// receipt's `Redeemed` events recorded in the store; with `--out` the raw transactions are written
    /// instead, one per line, and the store is left as it was.
    struct Redeem: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Redeem the best unredeemed voucher of each channel on chain, batched per delegation.")
        @OptionGroup var options: PayeeOptions
        @Option(help: "The payee's keystore: it signs and pays the gas, and only its channels are redeemed.") var keystore: String
        @Option(help: "File whose first line is the keystore password (else a no-echo prompt).") var passwordFile: String?
        @Option(help: "Write the raw transactions here (one per line) instead of sending them.") var out: String?
        @OptionGroup var fees: FeeOptions
        @OptionGroup var node: RPCOption

        func run() async throws {
            let configuration = try options.config.load()
            guard configuration.verifyingContract != .zero else { throw CLIError("no contract to redeem at: set verifyingContract") }
            try await options.withStore { try await redeem($0, configuration) }
        }

        private func redeem(_ store: any PayeeStoring, _ configuration: Configuration) async throws {
            var keyOptions = ["--keystore", keystore]
            if let passwordFile { keyOptions += ["--password-file", passwordFile] }
            let key = try KeystoreOptions.parse(keyOptions).open()
            let chain = try await node.client(configuration)
            if out == nil, chain == nil { throw CLIError("give a node (--rpc URL or \"rpc\" in the configuration) or --out FILE") }

            let pending = try await store.unredeemedVouchers(payee: key.address)
            // Signed for another contract or chain, a delegation would revert the whole batch: say so, leave it.
            let foreign = pending.filter { $0.domain != configuration.domain }
            for item in foreign {
                TerminalOutput.warn("skipped: delegation \(item.delegationId.hexString) was signed for another chain or contract")
            }
            let ours = pending.filter { $0.domain == configuration.domain }
            let open = try await notYetPaid(ours, store: store, chain: chain, contract: configuration.verifyingContract)
            var batches: [[RedeemableVoucher]] = []
            for item in open {
                if let last = batches.last, last[0].delegationId == item.delegationId, last.count < ParatiiContract.batchLimit {
                    batches[batches.count - 1].append(item)
                } else {
                    batches.append([item])
                }
            }
            guard !batches.isEmpty else { return print("nothing to redeem") }

            var raws: [String] = []
            var nonce: BigUInt? = nil
            var failed = 0
            var takenOver: [Address: Address] = [:]
            for batch in batches {
                // After a takeover completes the master's escrow is elsewhere: a batch would pay 0 and cost gas.
                let master = batch[0].delegation.master
                if let chain, takenOver[master] == nil,
                    case .takenOver(let by) = try await RecoveryReminder.state(
                        master: master, contract: configuration.verifyingContract, chain: chain)
                {
                    takenOver[master] = by
                }
                if let by = takenOver[master] {
                    TerminalOutput.warn(
                        "not sent: delegation \(batch[0].delegationId.hexString): its master \(master.checksummed) was taken over by \(by.checksummed), the escrow moved: nothing is left to pay it"
                    )
                    failed += 1
                    continue
                }
                let data = try ParatiiContract.redeemBatch(
                    delegation: batch[0].delegation, masterSignature: batch[0].masterSignature,
                    vouchers: batch.map { ($0.voucher, $0.spenderSignature) })
                let contract = configuration.verifyingContract
                let gas: BigUInt
                do {
                    gas = try await fees.gasFor(
                        from: key.address, to: contract, data: data, chain: chain, fallback: 120_000 + 60_000 * BigUInt(batch.count))
                } catch let error as ChainError {
                    // The simulation reverted: one voucher is invalid on chain (revoked, expired…); the rest still go.
                    TerminalOutput.warn("not sent: delegation \(batch[0].delegationId.hexString): \(error)")
                    failed += 1
                    continue
                }
                var parameters = try await fees.parameters(configuration: configuration, sender: key.address, gas: gas, chain: chain)
                if let nonce { parameters.nonce = max(parameters.nonce, nonce) }
                nonce = parameters.nonce + 1
                let signed = try Transaction(
                    kind: .dynamicFee, chainId: parameters.chainId, nonce: parameters.nonce,
                    maxPriorityFeePerGas: parameters.maxPriorityFeePerGas, maxFeePerGas: parameters.maxFeePerGas, gas: parameters.gas,
                    to: contract, value: 0, data: data
                ).sign(with: key)
                if out != nil {
                    raws.append(signed.raw.hexString)
                    continue
                }
                guard let chain else { continue }
                let receipt = try await node.broadcast(signed, on: chain, what: "redeemBatch")
                let events = receipt.logs.compactMap {
                    ParatiiContract.redemption(topics: $0.topics, data: $0.data, emitter: $0.address, contract: contract)
                }
                try await store.recordRedemptions(events, transactionHash: signed.hash)
                for event in events {
                    let amount = { (value: BigUInt) in configuration.formatAmount(value, token: event.token) }
                    var line =
                        "redeemed \(amount(event.paid)) \(configuration.tokenName(event.token)) to \(event.payee.checksummed) under \(event.delegation.hexString.prefix(10))…"
                    if event.shortfall > 0 { line += ", \(amount(event.shortfall)) short (total or escrow exhausted)" }
                    print(line)
                }
                print("transaction \(signed.hash.hexString): \(batch.count) voucher(s), gas used \(receipt.gasUsed)")
            }
            if let out { try CLIOutput.write(raws.joined(separator: "\n"), to: out) }
            if failed > 0 {
                throw CLIError("\(failed) batch(es) not sent: their simulation reverted or their master was taken over (see above)")
            }
        }

        /// Channels the contract already paid up to the voucher (a run that sent but died before recording
        /// its receipt) are recorded from `channelPaid` instead of being paid for again in gas; the
        /// transaction is then unknown (recorded as the zero hash).
        private func notYetPaid(
            _ items: [RedeemableVoucher], store: any PayeeStoring, chain: RPCClient?, contract: Address
        ) async throws
            -> [RedeemableVoucher]
        {
            guard let chain else { return items }
            let recorded = try await store.redemptions()
            var open: [RedeemableVoucher] = []
            for item in items {
                let voucher = item.voucher
                let onChain = try ParatiiContract.uint(
                    try await chain.call(
                        to: contract,
                        data: ParatiiContract.channelPaid(delegation: voucher.delegation, payee: voucher.payee, token: voucher.token)
                    ))
                guard onChain >= voucher.cumulative else {
                    open.append(item)
                    continue
                }
                let stored =
                    recorded.first { $0.delegation == voucher.delegation && $0.payee == voucher.payee && $0.token == voucher.token }?.paid
                    ?? 0
                let event = ParatiiContract.Redemption(
                    delegation: voucher.delegation, payee: voucher.payee, token: voucher.token, cumulative: voucher.cumulative,
                    paid: onChain > stored ? onChain - stored : 0, shortfall: 0)
                try await store.recordRedemptions([event], transactionHash: [UInt8](repeating: 0, count: 32))
                print("already paid on chain: \(voucher.payee.checksummed) under \(voucher.delegation.hexString.prefix(10))…, recorded")
            }
            return open
        }
    }

    /// `paratii payee exposure`: per delegation and token, what the escrow still holds on chain, what the
    /// contract has paid under the delegation (to all payees, and to this store's), and what this store
    /// accepted but has not redeemed: whether what the payee holds is covered right now.
    struct ShowExposure: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "exposure", abstract: "Per delegation: escrow left on chain, redeemed, accepted but unredeemed, covered or not.")
        @OptionGroup var options: PayeeOptions
        @OptionGroup var node: RPCOption
        @Flag(help: "JSON output.") var json = false

        func run() async throws {
            let configuration = try options.config.load()
            try await options.withStore { try await show($0, configuration) }
        }

        private func show(_ store: any PayeeStoring, _ configuration: Configuration) async throws {
            guard let chain = try await node.client(configuration) else {
                throw CLIError("exposure reads the chain: give --rpc URL or \"rpc\" in the configuration")
            }
            let contract = configuration.verifyingContract
            guard contract != .zero else { throw CLIError("no contract: set verifyingContract") }
            let redemptions = try await store.redemptions()
            struct Key: Hashable {
                let delegation: [UInt8]
                let token: Address
            }
            var groups: [Key: [ChannelState]] = [:]
            var order: [Key] = []
            for channel in try await store.channels() {
                let key = Key(delegation: channel.delegation, token: channel.token)
                if groups[key] == nil { order.append(key) }
                groups[key, default: []].append(channel)
            }
            var rows: [JSONValue] = []
            // A master taken over has no escrow left behind its delegations; one pending is payable until it completes.
            var takeovers: [Address: RecoveryReminder.State] = [:]
            for key in order {
                let channels = groups[key] ?? []
                let master = channels[0].master
                if takeovers[master] == nil {
                    takeovers[master] = try await RecoveryReminder.state(master: master, contract: contract, chain: chain)
                }
                let takeover = Self.takeover(takeovers[master]!)
                let total = channels[0].total ?? 0
                let escrow = try ParatiiContract.uint(
                    try await chain.call(to: contract, data: ParatiiContract.escrow(master: master, token: key.token)))
                let redeemedAll = try ParatiiContract.uint(
                    try await chain.call(to: contract, data: ParatiiContract.redeemed(delegation: key.delegation, token: key.token)))
                var paidHere: BigUInt = 0
                var unredeemed: BigUInt = 0
                for channel in channels {
                    let settled = redemptions.first {
                        $0.delegation == key.delegation && $0.payee == channel.payee && $0.token == key.token
                    }
                    paidHere += settled?.paid ?? 0
                    let claimed = settled.map { max($0.cumulative, $0.paid) } ?? 0
                    if channel.cumulative > claimed { unredeemed += channel.cumulative - claimed }
                }
                // What the contract can still pay under this delegation: the total left, and no more than the escrow.
                let left = min(total > redeemedAll ? total - redeemedAll : 0, escrow)
                let covered = unredeemed <= left
                let amount = { (value: BigUInt) in configuration.formatAmount(value, token: key.token) }
                if json {
                    rows.append(
                        .object([
                            "delegation": .string(key.delegation.hexString), "master": .string(master.checksummed),
                            "token": .string(key.token.checksummed), "total": .string(String(total)), "escrow": .string(String(escrow)),
                            "redeemed": .string(String(redeemedAll)), "redeemedHere": .string(String(paidHere)),
                            "unredeemed": .string(String(unredeemed)), "payable": .string(String(left)), "covered": .bool(covered),
                            "takeover": takeover?.json ?? .null,
                        ]))
                } else {
                    print(
                        "\(key.delegation.hexString.prefix(10))… \(configuration.tokenName(key.token)) (master \(master.checksummed)): escrow \(amount(escrow)), redeemed \(amount(redeemedAll)) of \(amount(total)) (\(amount(paidHere)) to this store), accepted but unredeemed \(amount(unredeemed)): \(covered ? "covered" : "NOT covered, the contract can pay \(amount(left)) now")\(takeover.map { "; " + $0.sentence } ?? "")"
                    )
                }
            }
            if json { print(JSONValue.array(rows).terminalPrettyText) } else if order.isEmpty { print("no channels") }
        }

        /// What a takeover of the master means for the payee: nothing (none started), redeem before it can
        /// complete, or nothing more to redeem (the escrow moved with the completion: "escrow empty").
        static func takeover(_ state: RecoveryReminder.State) -> (json: JSONValue, sentence: String)? {
            switch state {
            case .notSet, .set: nil
            case .pending(let account, let readyAt):
                (
                    .object(["state": .string("pending"), "by": .string(account.checksummed), "readyAt": .number(String(readyAt))]),
                    "a takeover by \(account.checksummed) can complete at \(TimeText.format(readyAt)): redeem before, nothing pays after"
                )
            case .takenOver(let by):
                (
                    .object(["state": .string("completed"), "by": .string(by.checksummed)]),
                    "the master was taken over by \(by.checksummed): its escrow moved, this delegation pays nothing more"
                )
            }
        }
    }
}
