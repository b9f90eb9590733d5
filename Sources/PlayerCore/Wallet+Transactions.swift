import BigInt
import Delegation
import Ethereum

extension Wallet {
    /// Top-up: the master (card, through `signer`) sends `amount` of `token` to this spending address.
    public func topup(token: Address, amount: BigUInt, fees: FeeParameters, master: any DigestSigner) throws -> SignedTransaction {
        let tx = TokenTransfer.transfer(token: token, amount: amount, to: address, fees: fees)
        return try tx.sign(with: master)
    }

    /// Reclaim: the spending key returns `amount` of `token` to the master address.
    public func reclaim(token: Address, amount: BigUInt, to master: Address, fees: FeeParameters) throws -> SignedTransaction {
        try TokenTransfer.transfer(token: token, amount: amount, to: master, fees: fees).sign(with: spendingKey)
    }

    /// The ERC-20 approval the Paratii contract needs to redeem vouchers drawn on this spending address.
    public func approve(token: Address, spender: Address, amount: BigUInt, fees: FeeParameters) throws -> SignedTransaction {
        try TokenTransfer.approve(token: token, spender: spender, amount: amount, fees: fees).sign(with: spendingKey)
    }
}
