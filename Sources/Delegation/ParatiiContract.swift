import BigInt
import Ethereum

/// The Paratii contract's functions and events as the chain client calls and reads them: the typed
/// messages as ABI tuples, in the field order of their EIP-712 types (contracts/Paratii.vy takes
/// exactly these), and `Redeemed` logs decoded back.
public enum ParatiiContract {
    static let allowanceTuple = "(address,uint256,uint256,uint64,uint256)"
    static let delegationTuple = "(address,address,\(allowanceTuple)[],address[],uint64,uint64,uint256)"
    static let voucherTuple = "(bytes32,address,address,uint256,uint64,bytes32)"

    /// At most this many vouchers per `redeemBatch` (the contract's bound).
    public static let batchLimit = 64

    /// `deposit()`, with the ETH as the transaction's value.
    public static var deposit: [UInt8] { ABI.selector("deposit()") }

    /// `depositToken(token, amount)`, after an ERC-20 `approve` of at least `amount` to the contract.
    public static func depositToken(_ token: Address, amount: BigUInt) -> [UInt8] {
        // Static arguments always encode.
        (try? ABI.call("depositToken(address,uint256)", [.address(token), .uint(amount)])) ?? []
    }

    /// `redeemBatch(delegation, masterSignature, vouchers, spenderSignatures)`: vouchers of one delegation.
    public static func redeemBatch(
        delegation: SpendingDelegation, masterSignature: [UInt8], vouchers: [(Voucher, [UInt8])]
    ) throws(DelegationError) -> [UInt8] {
        guard (1...batchLimit).contains(vouchers.count) else { throw .malformed("a batch holds 1 to \(batchLimit) vouchers") }
        do {
            return try ABI.call(
                "redeemBatch(\(delegationTuple),bytes,\(voucherTuple)[],bytes[])",
                [
                    tuple(delegation), .bytes(masterSignature), .array(vouchers.map { tuple($0.0) }),
                    .array(vouchers.map { .bytes($0.1) }),
                ])
        } catch { throw .malformed("redeemBatch calldata: \(error)") }
    }

    /// `escrow(master, token)`: what the master has deposited and not yet paid out or withdrawn.
    public static func escrow(master: Address, token: Address) -> [UInt8] {
        (try? ABI.call("escrow(address,address)", [.address(master), .address(token)])) ?? []
    }

    /// `redeemed(delegationId, token)`: the sum paid under a delegation in a token, across payees.
    public static func redeemed(delegation: [UInt8], token: Address) -> [UInt8] {
        (try? ABI.call("redeemed(bytes32,address)", [.bytes(delegation), .address(token)])) ?? []
    }

    /// `channelPaid(delegationId, payee, token)`: what one channel was paid.
    public static func channelPaid(delegation: [UInt8], payee: Address, token: Address) -> [UInt8] {
        (try? ABI.call("channelPaid(bytes32,address,address)", [.bytes(delegation), .address(payee), .address(token)])) ?? []
    }

    /// A view's single uint256 result.
    public static func uint(_ returned: [UInt8]) throws(DelegationError) -> BigUInt {
        guard case .uint(let value)? = try? ABI.decode(returned, as: [.uint(bits: 256)]).first else {
            throw .malformed("the contract returned \(returned.count) bytes, not a uint256")
        }
        return value
    }

    /// `Redeemed(bytes32 indexed delegation, address indexed payee, address indexed token, uint256 cumulative,
    /// uint256 paid, uint256 shortfall)`.
    public struct Redemption: Sendable, Equatable {
        public var delegation: [UInt8]
        public var payee: Address
        public var token: Address
        public var cumulative: BigUInt
        public var paid: BigUInt
        public var shortfall: BigUInt

        public init(delegation: [UInt8], payee: Address, token: Address, cumulative: BigUInt, paid: BigUInt, shortfall: BigUInt) {
            self.delegation = delegation; self.payee = payee; self.token = token
            self.cumulative = cumulative; self.paid = paid; self.shortfall = shortfall
        }
    }

    public static let redeemedTopic = Keccak256.hash("Redeemed(bytes32,address,address,uint256,uint256,uint256)")

    /// The `Redeemed` event of one log, or nil for any other log; `contract` must be the log's emitter.
    public static func redemption(topics: [[UInt8]], data: [UInt8], emitter: Address, contract: Address) -> Redemption? {
        guard emitter == contract, topics.count == 4, topics[0] == redeemedTopic,
            let payee = try? Address(bytes: Array(topics[2].suffix(20))), topics[2].prefix(12).allSatisfy({ $0 == 0 }),
            let token = try? Address(bytes: Array(topics[3].suffix(20))), topics[3].prefix(12).allSatisfy({ $0 == 0 }),
            let values = try? ABI.decode(data, as: [.uint(bits: 256), .uint(bits: 256), .uint(bits: 256)]),
            case .uint(let cumulative) = values[0], case .uint(let paid) = values[1], case .uint(let shortfall) = values[2]
        else { return nil }
        return Redemption(delegation: topics[1], payee: payee, token: token, cumulative: cumulative, paid: paid, shortfall: shortfall)
    }

    static func tuple(_ d: SpendingDelegation) -> ABIValue {
        .tuple([
            .address(d.master), .address(d.spender),
            .array(
                d.allowances.map {
                    .tuple([.address($0.token), .uint($0.total), .uint($0.perPayment), .uint(BigUInt($0.period)), .uint($0.perPeriod)])
                }),
            .array(d.payees.map { .address($0) }), .uint(BigUInt(d.validAfter)), .uint(BigUInt(d.validUntil)), .uint(d.salt),
        ])
    }

    static func tuple(_ v: Voucher) -> ABIValue {
        .tuple([
            .bytes(v.delegation), .address(v.payee), .address(v.token), .uint(v.cumulative), .uint(BigUInt(v.sequence)), .bytes(v.memo),
        ])
    }
}
