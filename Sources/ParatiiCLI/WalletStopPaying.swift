import ArgumentParser
import Ethereum
import PlayerCore

extension WalletCommand {
    /// `paratii wallet stop-paying`: the wallet's own stop, without the card. After a takeover of the
    /// master completes (`paratii recovery status` says "taken over"), its delegations have no escrow
    /// behind them: the wallet would otherwise keep paying under the oldest of them first.
    struct StopPaying: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "stop-paying",
            abstract: "Stop paying under a master's delegations (e.g. a master taken over); other delegations go on.")
        @OptionGroup var wallet: WalletOptions
        @Option(help: "The master whose delegations stop.") var master: String
        func run() throws {
            let address = try Address(master)
            let count = try wallet.open().stopPaying(master: address)
            print("stopped paying under \(count) delegation(s) from master \(address)")
        }
    }
}
