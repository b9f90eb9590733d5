import ArgumentParser
import Ethereum

/// `paratii eth …`: the stable Ethereum interface other tools and our own checks use.
struct EthCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "eth",
        abstract: "Ethereum keys, signatures, typed data, transactions and keystores."
    )
}
