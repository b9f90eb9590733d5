import BigInt
import Delegation
import Ethereum

/// One payment the player asks for. `memo` binds it to what was bought (e.g. keccak of content id
/// and segment); `idempotencyKey` makes a retry return the identical voucher instead of paying twice.
public struct PaymentRequest: Sendable, Equatable {
    public var payee: Address
    public var token: Address
    public var amount: BigUInt
    public var memo: [UInt8]
    public var idempotencyKey: String?

    public init(
        payee: Address, token: Address, amount: BigUInt, memo: [UInt8] = [UInt8](repeating: 0, count: 32), idempotencyKey: String? = nil
    ) {
        self.payee = payee; self.token = token; self.amount = amount; self.memo = memo; self.idempotencyKey = idempotencyKey
    }

    /// A memo from free text: keccak256 of its UTF-8, or the bytes themselves if it is 0x + 32 bytes.
    public static func memo(_ text: String) -> [UInt8] {
        if text.hasPrefix("0x"), let bytes = try? [UInt8](hex: text), bytes.count == 32 { return bytes }
        return Keccak256.hash(text)
    }
}

/// What is left to spend under one allowance of one delegation.
public struct Budget: Sendable, Equatable {
    public var delegation: [UInt8]
    public var token: Address
    public var total: BigUInt
    public var spent: BigUInt
    public var perPayment: BigUInt
    public var period: UInt64
    public var perPeriod: BigUInt
    /// Left in the current period (nil without a per-period limit).
    public var periodRemaining: BigUInt?
    public var validUntil: UInt64
    public var live: Bool

    public var remaining: BigUInt { total - spent }
}

/// A voucher as the ledger recorded it.
public struct VoucherRecord: Sendable, Equatable {
    public var voucher: Voucher
    public var amount: BigUInt
    public var createdAt: UInt64
    public var idempotencyKey: String?
}

extension Address {
    /// How addresses are stored in the ledgers: lower-case 0x-hex (canonical and cheap; EIP-55 is for people).
    var dbText: String { bytes.hexString }
}
