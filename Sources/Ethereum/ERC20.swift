import BigInt

/// ERC-20 calldata: the 4-byte selector followed by ABI-encoded static arguments.
public enum ERC20 {
    public static let transferSelector = selector("transfer(address,uint256)")
    public static let approveSelector = selector("approve(address,uint256)")

    public static func selector(_ signature: String) -> [UInt8] { Array(Keccak256.hash(signature).prefix(4)) }

    public static func transfer(to: Address, amount: BigUInt) -> [UInt8] {
        transferSelector + word(to) + amount.word256
    }

    public static func approve(spender: Address, amount: BigUInt) -> [UInt8] {
        approveSelector + word(spender) + amount.word256
    }

    static func word(_ address: Address) -> [UInt8] { [UInt8](repeating: 0, count: 12) + address.bytes }
}
