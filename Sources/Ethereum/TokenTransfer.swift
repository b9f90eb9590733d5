import BigInt

/// Fees and nonce for a transaction: given by the user (no network is needed to sign).
public struct FeeParameters: Sendable {
    public var chainId: BigUInt
    public var nonce: BigUInt
    public var gas: BigUInt
    public var maxFeePerGas: BigUInt
    public var maxPriorityFeePerGas: BigUInt

    public init(chainId: BigUInt, nonce: BigUInt, gas: BigUInt, maxFeePerGas: BigUInt, maxPriorityFeePerGas: BigUInt) {
        self.chainId = chainId; self.nonce = nonce; self.gas = gas; self.maxFeePerGas = maxFeePerGas;
        self.maxPriorityFeePerGas = maxPriorityFeePerGas
    }
}

/// Moving ETH or an ERC-20 token (PTI) in one EIP-1559 transaction: top-ups (the master to the spending
/// address), reclaims and approvals. The zero address stands for ETH, as in the typed messages.
public enum TokenTransfer {
    /// The gas a transfer of `token` gets unless told otherwise: a plain transfer, or room for an ERC-20 one.
    public static func defaultGas(token: Address) -> BigUInt { token == Address.zero ? 21000 : 100_000 }

    /// `amount` of `token` (zero address = ETH) from `from` to `to`.
    public static func transfer(token: Address, amount: BigUInt, to: Address, fees: FeeParameters) -> Transaction {
        if token == Address.zero {
            return Transaction(
                kind: .dynamicFee, chainId: fees.chainId, nonce: fees.nonce, maxPriorityFeePerGas: fees.maxPriorityFeePerGas,
                maxFeePerGas: fees.maxFeePerGas, gas: fees.gas, to: to, value: amount, data: [])
        }
        return Transaction(
            kind: .dynamicFee, chainId: fees.chainId, nonce: fees.nonce, maxPriorityFeePerGas: fees.maxPriorityFeePerGas,
            maxFeePerGas: fees.maxFeePerGas, gas: fees.gas, to: token, value: 0, data: ERC20.transfer(to: to, amount: amount))
    }

    /// ERC-20 `approve(spender, amount)` on `token`.
    public static func approve(token: Address, spender: Address, amount: BigUInt, fees: FeeParameters) -> Transaction {
        Transaction(
            kind: .dynamicFee, chainId: fees.chainId, nonce: fees.nonce, maxPriorityFeePerGas: fees.maxPriorityFeePerGas,
            maxFeePerGas: fees.maxFeePerGas, gas: fees.gas, to: token, value: 0, data: ERC20.approve(spender: spender, amount: amount))
    }
}
