import BigInt
import Delegation
import Ethereum

/// Fees and nonce for a transaction: given by the user (no network is needed to sign).
public struct FeeParameters: Sendable {
    public var chainId: BigUInt
    public var nonce: BigUInt
    public var gas: BigUInt
    public var maxFeePerGas: BigUInt
    public var maxPriorityFeePerGas: BigUInt

    public init(chainId: BigUInt, nonce: BigUInt, gas: BigUInt, maxFeePerGas: BigUInt, maxPriorityFeePerGas: BigUInt) {
        self.chainId = chainId; self.nonce = nonce; self.gas = gas; self.maxFeePerGas = maxFeePerGas; self.maxPriorityFeePerGas = maxPriorityFeePerGas
    }
}

/// The bigWallet ↔ smallWallet transactions: EIP-1559, ETH or ERC-20 (PTI).
public enum WalletTransactions {
    /// The gas a transfer of `token` gets unless told otherwise: a plain transfer, or room for an ERC-20 one.
    public static func defaultGas(token: Address) -> BigUInt { token == Allowance.eth ? 21000 : 100_000 }

    /// `amount` of `token` (zero address = ETH) from `from` to `to`.
    public static func transfer(token: Address, amount: BigUInt, to: Address, fees: FeeParameters) -> Transaction {
        if token == Allowance.eth {
            return Transaction(kind: .dynamicFee, chainId: fees.chainId, nonce: fees.nonce, maxPriorityFeePerGas: fees.maxPriorityFeePerGas,
                               maxFeePerGas: fees.maxFeePerGas, gas: fees.gas, to: to, value: amount, data: [])
        }
        return Transaction(kind: .dynamicFee, chainId: fees.chainId, nonce: fees.nonce, maxPriorityFeePerGas: fees.maxPriorityFeePerGas,
                           maxFeePerGas: fees.maxFeePerGas, gas: fees.gas, to: token, value: 0, data: ERC20.transfer(to: to, amount: amount))
    }

    /// ERC-20 `approve(spender, amount)` on `token`.
    public static func approve(token: Address, spender: Address, amount: BigUInt, fees: FeeParameters) -> Transaction {
        Transaction(kind: .dynamicFee, chainId: fees.chainId, nonce: fees.nonce, maxPriorityFeePerGas: fees.maxPriorityFeePerGas,
                    maxFeePerGas: fees.maxFeePerGas, gas: fees.gas, to: token, value: 0, data: ERC20.approve(spender: spender, amount: amount))
    }
}

extension Wallet {
    /// Top-up: the master (card, through `signer`) sends `amount` of `token` to this spending address.
    public func topup(token: Address, amount: BigUInt, fees: FeeParameters, master: any DigestSigner) throws -> SignedTransaction {
        let tx = WalletTransactions.transfer(token: token, amount: amount, to: address, fees: fees)
        return try tx.sign(with: master)
    }

    /// Reclaim: the spending key returns `amount` of `token` to the master address.
    public func reclaim(token: Address, amount: BigUInt, to master: Address, fees: FeeParameters) throws -> SignedTransaction {
        try WalletTransactions.transfer(token: token, amount: amount, to: master, fees: fees).sign(with: spendingKey)
    }

    /// The ERC-20 approval the Paratii contract needs to redeem vouchers drawn on this spending address.
    public func approve(token: Address, spender: Address, amount: BigUInt, fees: FeeParameters) throws -> SignedTransaction {
        try WalletTransactions.approve(token: token, spender: spender, amount: amount, fees: fees).sign(with: spendingKey)
    }
}
