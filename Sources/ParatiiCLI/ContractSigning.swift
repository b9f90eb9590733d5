import ArgumentParser
import Bridge
import Delegation
import Ethereum
import Foundation

/// How a transaction to the contract is signed and sent, the options `paratii deposit` and `paratii
/// recovery` share: the card or keystore here (the command's --direct, or --master-keystore), or the
/// bridge after the user's approval; a node to send it, else the raw transaction is printed.
struct ContractSigning: ParsableArguments {
    @OptionGroup var signer: MasterSignerOptions
    @OptionGroup var wallet: WalletOptions
    @OptionGroup var link: BridgeLink
    @OptionGroup var fees: FeeOptions
    @OptionGroup var node: RPCOption
    @OptionGroup var config: ConfigOption

    /// Who signs, and the sender when known (for its nonce and the node's gas estimate).
    struct Path {
        let sender: Address?
        let sign: (TransactionRequest, Configuration) throws -> SignedTransaction
    }

    /// `given` is the sender the command's `option` named: a signing key or a bridge card other than it is
    /// refused (the bridge's error names it as `role` and the address). Without it: the key's address, or
    /// the wallet's delegations' master when there is one.
    func path(direct: Bool, given: Address?, option: String, role: String) throws -> Path {
        if direct || signer.masterKeystore != nil {
            let key = try signer.signer()
            if let given, given != key.address { throw CLIError("\(option) is not the signing key's address") }
            return Path(sender: key.address) { request, configuration in
                try request.transaction(chainId: configuration.chainId).sign(with: key)
            }
        }
        let opened = try wallet.open()
        let sender: Address?
        if let given {
            sender = given
        } else {
            let masters = try opened.masters()
            sender = masters.count == 1 ? masters[0] : nil
        }
        return Path(sender: sender) { request, configuration in
            let signed = try link.requestTransaction(
                request.json(configuration), configuration: configuration, wallet: wallet, address: opened.address)
            if let sender, signed.from != sender {
                throw CLIError("the bridge's card is \(signed.from.checksummed), not \(role)\(sender.checksummed)")
            }
            FileHandle.standardError.write(
                Data("\(request.kind.rawValue) \(signed.hash.hexString) signed by \(signed.from.checksummed)\n".utf8))
            return signed
        }
    }
}
