import BigInt
import Delegation
import Ethereum
import Foundation
import GRDB

/// A channel's best voucher with what the contract needs to redeem it: the delegation and the
/// master's signature, the voucher and the spender's signature (every v 27/28).
public struct RedeemableVoucher: Sendable, Equatable {
    public let delegation: SpendingDelegation
    public let delegationId: [UInt8]
    /// The domain the delegation was signed for: it must be the contract's, or redemption reverts.
    public let domain: Domain
    public let masterSignature: [UInt8]
    public let voucher: Voucher
    public let spenderSignature: [UInt8]
}

/// What the contract paid a channel so far, as the receipts' `Redeemed` events said, in the event's
/// shape: `cumulative` the highest cumulative the contract has settled (paid, or short), `paid` the sum
/// paid to the channel, `shortfall` what the last redemption could not pay (the total or the escrow
/// exhausted); with the last redemption's transaction. Its fields read as the event's (`.paid`).
@dynamicMemberLookup
public struct ChannelRedemption: Sendable, Equatable {
    public var settled: ParatiiContract.Redemption
    public var transactionHash: [UInt8]

    public init(settled: ParatiiContract.Redemption, transactionHash: [UInt8]) {
        self.settled = settled
        self.transactionHash = transactionHash
    }

    public subscript<Value>(dynamicMember field: KeyPath<ParatiiContract.Redemption, Value>) -> Value { settled[keyPath: field] }
}

extension PayeeStore {
    /// The best voucher of every channel whose cumulative is above what was last submitted and settled
    /// on chain, for `payee` (nil: every payee in the store), grouped by nothing: the caller batches.
    public func unredeemedVouchers(payee: Address? = nil) throws -> [RedeemableVoucher] {
        try database.read { db in
            try Row.fetchAll(
                db,
                sql: """
                    SELECT c.*, d.parents, r.cumulative AS settled FROM channel c JOIN delegation d ON d.id = c.delegationId
                    LEFT JOIN redemption r ON r.delegationId = c.delegationId AND r.payee = c.payee AND r.token = c.token
                    WHERE ? IS NULL OR c.payee = ?
                    ORDER BY c.delegationId, c.payee, c.token
                    """, arguments: [payee?.dbText, payee?.dbText]
            ).compactMap { row -> RedeemableVoucher? in
                let voucher = Voucher(
                    delegation: try [UInt8](hex: row["delegationId"] as String), payee: try Address(row["payee"] as String),
                    token: try Address(row["token"] as String), cumulative: BigUInt(row["cumulative"] as String, radix: 10) ?? 0,
                    sequence: UInt64(row["sequence"] as Int64), memo: try [UInt8](hex: row["memo"] as String))
                return try StoredChannel.unredeemed(
                    voucher, signature: try [UInt8](hex: row["signature"] as String), parents: row["parents"] as String,
                    settled: (row["settled"] as String?).flatMap { BigUInt($0, radix: 10) })
            }
        }
    }

    /// Records a receipt's `Redeemed` events, one durable transaction: each channel's settled
    /// cumulative only grows, its paid sum adds up what each event paid.
    public func recordRedemptions(_ events: [ParatiiContract.Redemption], transactionHash: [UInt8]) throws {
        let now = Int64(clamping: clock())
        try database.write { db in
            for event in events {
                let key: [any DatabaseValueConvertible] = [event.delegation.hexString, event.payee.dbText, event.token.dbText]
                let previous = try Row.fetchOne(
                    db, sql: "SELECT cumulative, paid FROM redemption WHERE delegationId = ? AND payee = ? AND token = ?",
                    arguments: StatementArguments(key))
                let settled = max(event.cumulative, previous.flatMap { BigUInt($0["cumulative"] as String, radix: 10) } ?? 0)
                let paid = (previous.flatMap { BigUInt($0["paid"] as String, radix: 10) } ?? 0) + event.paid
                try db.execute(
                    sql: """
                        INSERT INTO redemption (delegationId, payee, token, cumulative, paid, shortfall, transactionHash, redeemedAt)
                        VALUES (?, ?, ?, ?, ?, ?, ?, ?)
                        ON CONFLICT (delegationId, payee, token) DO UPDATE SET cumulative = excluded.cumulative, paid = excluded.paid,
                            shortfall = excluded.shortfall, transactionHash = excluded.transactionHash, redeemedAt = excluded.redeemedAt
                        """,
                    arguments: StatementArguments(
                        key + [String(settled), String(paid), String(event.shortfall), transactionHash.hexString, now]))
            }
        }
    }

    /// Every channel's redemption so far.
    public func redemptions() throws -> [ChannelRedemption] {
        try database.read { db in
            try Row.fetchAll(db, sql: "SELECT * FROM redemption ORDER BY delegationId, payee, token").map { row in
                ChannelRedemption(
                    settled: ParatiiContract.Redemption(
                        delegation: try [UInt8](hex: row["delegationId"] as String), payee: try Address(row["payee"] as String),
                        token: try Address(row["token"] as String), cumulative: BigUInt(row["cumulative"] as String, radix: 10) ?? 0,
                        paid: BigUInt(row["paid"] as String, radix: 10) ?? 0,
                        shortfall: BigUInt(row["shortfall"] as String, radix: 10) ?? 0),
                    transactionHash: try [UInt8](hex: row["transactionHash"] as String))
            }
        }
    }
}
