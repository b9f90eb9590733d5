import BigInt
import Delegation
import Ethereum
import Foundation
import GRDB

/// Why the payee refused a voucher: a verifier reason, or a channel rule.
public enum VoucherRejection: Error, Equatable, Sendable, CustomStringConvertible {
    case invalid(Reason, String)
    case notAVoucher(String)
    case wrongPayee(Address)
    /// Lower than the best voucher already held for the channel.
    case decreasing(held: BigUInt, offered: BigUInt)
    /// A sequence number already seen with another amount, or a sequence that goes back.
    case sequenceConflict(String)
    case storage(String)

    public var description: String {
        switch self {
        case .invalid(let reason, let detail): "\(reason.rawValue): \(detail)"
        case .notAVoucher(let kind): "notAVoucher: got a \(kind)"
        case .wrongPayee(let payee): "wrongPayee: the voucher pays \(payee), not this store"
        case .decreasing(let held, let offered): "decreasing: holding cumulative \(held), offered \(offered)"
        case .sequenceConflict(let detail): "sequenceConflict: \(detail)"
        case .storage(let detail): "storage: \(detail)"
        }
    }

    public var code: String {
        switch self {
        case .invalid(let reason, _): reason.rawValue
        case .notAVoucher: "notAVoucher"
        case .wrongPayee: "wrongPayee"
        case .decreasing: "decreasing"
        case .sequenceConflict: "sequenceConflict"
        case .storage: "storage"
        }
    }
}

/// One payment channel as the payee sees it: what a payer's delegation owes it in one token.
public struct ChannelState: Sendable, Equatable {
    public var delegation: [UInt8]
    public var master: Address
    public var spender: Address
    public var payee: Address
    public var token: Address
    public var cumulative: BigUInt
    public var sequence: UInt64
}

/// The payee's side: verifies vouchers, keeps the best one per channel, refuses anything that
/// decreases, conflicts, exceeds its delegation or arrives after a revocation. Same durability rules as the wallet.
public final class PayeeStore: @unchecked Sendable {
    let database: DatabasePool
    let verifier: Verifier
    let payees: Set<Address>
    let clock: @Sendable () -> UInt64

    /// `payees` empty accepts vouchers to any payee (a store shared by several addresses).
    public init(path: String, verifier: Verifier, payees: Set<Address> = [], clock: @escaping @Sendable () -> UInt64 = Wallet.systemClock) throws {
        do { database = try PayeeDatabase.open(path) } catch { throw WalletError.corrupted("\(path): \(error)") }
        self.verifier = verifier
        self.payees = payees
        self.clock = clock
    }

    public enum Outcome: Sendable, Equatable {
        /// The new best voucher for its channel; `increase` is what it adds over the previous best.
        case accepted(ChannelState, increase: BigUInt)
        /// Exactly this voucher was already held.
        case duplicate(ChannelState)
    }

    public func accept(_ envelope: Envelope) throws(VoucherRejection) -> Outcome {
        guard case .voucher(let voucher) = envelope.message else { throw .notAVoucher(envelope.kind) }
        guard payees.isEmpty || payees.contains(voucher.payee) else { throw .wrongPayee(voucher.payee) }
        let verdict = verifier.verify(envelope, at: clock())
        if let reason = verdict.reason { throw .invalid(reason, verdict.detail) }
        guard case .spending(let delegation) = envelope.parents.first?.message else { throw .invalid(.brokenChain, "no delegation") }
        let channel = ChannelState(delegation: voucher.delegation, master: delegation.master, spender: delegation.spender,
                                   payee: voucher.payee, token: voucher.token, cumulative: voucher.cumulative, sequence: voucher.sequence)
        let key: [DatabaseValueConvertible] = [voucher.delegation.hexString, voucher.payee.checksummed, voucher.token.checksummed]
        do {
            return try database.writeWithoutTransaction { db in
                var outcome: Outcome?
                try db.inTransaction(.immediate) {
                    if let seen = try String.fetchOne(db, sql: "SELECT cumulative FROM receipt WHERE delegationId = ? AND payee = ? AND token = ? AND sequence = ?",
                                                      arguments: StatementArguments(key + [Int64(clamping: voucher.sequence)])) {
                        guard seen == String(voucher.cumulative) else {
                            throw VoucherRejection.sequenceConflict("sequence \(voucher.sequence) was \(seen), now \(voucher.cumulative)")
                        }
                        outcome = .duplicate(channel)
                        return .rollback
                    }
                    var increase = voucher.cumulative
                    if let best = try Row.fetchOne(db, sql: "SELECT cumulative, sequence FROM channel WHERE delegationId = ? AND payee = ? AND token = ?",
                                                   arguments: StatementArguments(key)) {
                        guard let held = BigUInt(best["cumulative"] as String, radix: 10) else { throw VoucherRejection.storage("corrupted channel") }
                        let heldSequence = UInt64(best["sequence"] as Int64)
                        guard voucher.cumulative > held else { throw VoucherRejection.decreasing(held: held, offered: voucher.cumulative) }
                        guard voucher.sequence > heldSequence else {
                            throw VoucherRejection.sequenceConflict("sequence \(voucher.sequence) after \(heldSequence) with a higher amount")
                        }
                        increase = voucher.cumulative - held
                    }
                    try db.execute(sql: """
                        INSERT INTO channel (delegationId, payee, token, master, spender, cumulative, sequence, voucher, updatedAt)
                        VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
                        ON CONFLICT (delegationId, payee, token) DO UPDATE SET cumulative = excluded.cumulative,
                            sequence = excluded.sequence, voucher = excluded.voucher, updatedAt = excluded.updatedAt
                        """, arguments: StatementArguments(key + [delegation.master.checksummed, delegation.spender.checksummed,
                                                                  String(voucher.cumulative), Int64(clamping: voucher.sequence),
                                                                  envelope.json.compactText, Int64(clamping: clock())]))
                    try db.execute(sql: "INSERT INTO receipt (delegationId, payee, token, sequence, cumulative, voucherId) VALUES (?, ?, ?, ?, ?, ?)",
                                   arguments: StatementArguments(key + [Int64(clamping: voucher.sequence), String(voucher.cumulative), envelope.id.hexString]))
                    outcome = .accepted(channel, increase: increase)
                    return .commit
                }
                return outcome!
            }
        } catch let rejection as VoucherRejection {
            throw rejection
        } catch {
            throw .storage("\(error)")
        }
    }

    public func channels() throws -> [ChannelState] {
        try database.read { db in
            try Row.fetchAll(db, sql: "SELECT * FROM channel ORDER BY master, delegationId, payee, token").map { row in
                ChannelState(delegation: try [UInt8](hex: row["delegationId"] as String), master: try Address(row["master"] as String),
                             spender: try Address(row["spender"] as String), payee: try Address(row["payee"] as String),
                             token: try Address(row["token"] as String), cumulative: BigUInt(row["cumulative"] as String, radix: 10) ?? 0,
                             sequence: UInt64(row["sequence"] as Int64))
            }
        }
    }

    /// The best voucher of every channel: what to redeem.
    public func export() throws -> [JSONValue] {
        try database.read { db in
            try String.fetchAll(db, sql: "SELECT voucher FROM channel ORDER BY master, delegationId, payee, token").map { try JSONValue.parse($0) }
        }
    }
}

enum PayeeDatabase {
    static func open(_ path: String) throws -> DatabasePool {
        var configuration = Configuration()
        configuration.busyMode = .timeout(30)
        configuration.prepareDatabase { db in try db.execute(sql: "PRAGMA synchronous = FULL") }
        let pool = try DatabasePool(path: path, configuration: configuration)
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1-payee") { db in
            try db.execute(sql: """
                CREATE TABLE channel (
                    delegationId TEXT NOT NULL CHECK (length(delegationId) = 66),
                    payee TEXT NOT NULL,
                    token TEXT NOT NULL,
                    master TEXT NOT NULL,
                    spender TEXT NOT NULL,
                    cumulative TEXT NOT NULL \(WalletDatabase.amountCheck("cumulative")),
                    sequence INTEGER NOT NULL CHECK (sequence > 0),
                    voucher TEXT NOT NULL,
                    updatedAt INTEGER NOT NULL,
                    PRIMARY KEY (delegationId, payee, token)
                );
                CREATE TABLE receipt (
                    delegationId TEXT NOT NULL,
                    payee TEXT NOT NULL,
                    token TEXT NOT NULL,
                    sequence INTEGER NOT NULL,
                    cumulative TEXT NOT NULL \(WalletDatabase.amountCheck("cumulative")),
                    voucherId TEXT NOT NULL,
                    PRIMARY KEY (delegationId, payee, token, sequence)
                );
                """)
        }
        try migrator.migrate(pool)
        return pool
    }
}
