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
    /// A field the store (and the contract's channel) cannot hold: sequence 0 or beyond 2^63 - 1.
    case outOfRange(String)
    case storage(String)

    public var description: String {
        switch self {
        case .invalid(let reason, let detail): "\(reason.rawValue): \(detail)"
        case .notAVoucher(let kind): "notAVoucher: got a \(kind)"
        case .wrongPayee(let payee): "wrongPayee: the voucher pays \(payee), not this store"
        case .decreasing(let held, let offered): "decreasing: holding cumulative \(held), offered \(offered)"
        case .sequenceConflict(let detail): "sequenceConflict: \(detail)"
        case .outOfRange(let detail): "outOfRange: \(detail)"
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
        case .outOfRange: "outOfRange"
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
    /// The delegation's total for this token: the most this channel can claim. Other payees may
    /// hold claims on the same total (see `channels()`); nil when not known.
    public var total: BigUInt? = nil

    public init(
        delegation: [UInt8], master: Address, spender: Address, payee: Address, token: Address, cumulative: BigUInt, sequence: UInt64,
        total: BigUInt? = nil
    ) {
        self.delegation = delegation
        self.master = master
        self.spender = spender
        self.payee = payee
        self.token = token
        self.cumulative = cumulative
        self.sequence = sequence
        self.total = total
    }
}

/// The payee's side: verifies vouchers, keeps the best one per channel, refuses anything that
/// decreases, conflicts, exceeds its delegation or arrives after a revocation. Same durability rules as the wallet.
public final class PayeeStore: PayeeStoring, @unchecked Sendable {
    let database: DatabasePool
    let checks: VoucherCheck
    let clock: @Sendable () -> UInt64
    /// Delegation chains already stored (written under the database's write lock only).
    private var knownChains = Set<[UInt8]>()

    /// `payees` empty accepts vouchers to any payee (a store shared by several addresses).
    public init(
        path: String, verifier: Verifier, payees: Set<Address> = [], clock: @escaping @Sendable () -> UInt64 = Wallet.systemClock
    ) throws {
        try PrivateFile.prepare(path)
        do { database = try PayeeDatabase.open(path) } catch { throw WalletError.corrupted("\(path): \(error)") }
        checks = VoucherCheck(verifier: verifier, payees: payees)
        self.clock = clock
    }

    public enum Outcome: Sendable, Equatable {
        /// The new best voucher for its channel; `increase` is what it adds over the previous best.
        case accepted(ChannelState, increase: BigUInt)
        /// Exactly this voucher was already held.
        case duplicate(ChannelState)
    }

    public func accept(_ envelope: Envelope) throws(VoucherRejection) -> Outcome {
        try acceptBatch([envelope])[0].get()
    }

    /// Verifies every voucher (in parallel: signatures are the cost) and applies the channel rules in
    /// order inside one IMMEDIATE transaction, one commit for the lot; a chunk's rules and writes run
    /// while the next chunk verifies. Each voucher gets its own outcome.
    public func acceptBatch(_ envelopes: [Envelope]) throws(VoucherRejection) -> [Result<Outcome, VoucherRejection>] {
        let now = clock()
        // Verification starts before the write lock is taken; each chunk is written while the next verifies.
        return try write(envelopes, checks.start(envelopes, now: now), now: now)
    }

    /// `acceptBatch` for each batch in turn, each its own transaction and commit, `each` given a batch's
    /// outcomes once that batch is committed (and before the next one is applied). The next batch
    /// verifies while the previous one's last chunk is written and committed, so the cores do not idle
    /// through every commit. Throws (storage) at the first batch that could not be committed: the
    /// batches before it were committed and reported, it and the ones after were not kept.
    public func acceptBatches(
        _ batches: [[Envelope]], each: ([Result<Outcome, VoucherRejection>]) throws -> Void
    ) throws {
        guard !batches.isEmpty else { return }
        var now = clock()
        var verifying = checks.start(batches[0], now: now)
        for k in batches.indices {
            let (current, currentNow) = (verifying, now)
            if k + 1 < batches.count {
                now = clock()
                verifying = checks.start(batches[k + 1], now: now, after: current)
            }
            try each(try write(batches[k], current, now: currentNow))
        }
    }

    /// One batch's rules and writes, chunk by chunk as `verifying` delivers them, in one IMMEDIATE
    /// transaction; returns once committed.
    private func write(
        _ envelopes: [Envelope], _ verifying: VerifyingBatch, now: UInt64
    ) throws(VoucherRejection) -> [Result<Outcome, VoucherRejection>] {
        do {
            return try database.writeWithoutTransaction { db in
                var outcomes: [Result<Outcome, VoucherRejection>] = []
                outcomes.reserveCapacity(envelopes.count)
                var batch = PayeeBatch()
                try db.inTransaction(.immediate) {
                    let statements = try PayeeBatch.Statements(db)
                    for k in verifying.ranges.indices {
                        let offset = verifying.ranges[k].lowerBound
                        for (j, result) in verifying.chunk(k).enumerated() {
                            let outcome = result.flatMap { voucher, delegation in
                                Result { () throws(VoucherRejection) in
                                    try self.apply(voucher, delegation, envelopes[offset + j], statements, batch: &batch)
                                }
                            }
                            // A storage failure may have left half a voucher's writes: roll the whole batch back.
                            if case .failure(.storage(let why)) = outcome { throw VoucherRejection.storage(why) }
                            outcomes.append(outcome)
                        }
                    }
                    try batch.writeChannels(db, now: now)
                    return .commit
                }
                // Only once committed do the chains count as stored.
                knownChains.formUnion(batch.chains)
                return outcomes
            }
        } catch let rejection as VoucherRejection {
            throw rejection
        } catch {
            throw .storage("\(error)")
        }
    }

    /// The channel rules, inside the caller's transaction: the best voucher again is a duplicate; an
    /// older sequence must match what was accepted for it; a new one must raise the amount.
    private func apply(
        _ voucher: Voucher, _ delegation: SpendingDelegation, _ envelope: Envelope, _ statements: PayeeBatch.Statements,
        batch: inout PayeeBatch
    ) throws(VoucherRejection) -> Outcome {
        let channel = ChannelState(
            delegation: voucher.delegation, master: delegation.master, spender: delegation.spender,
            payee: voucher.payee, token: voucher.token, cumulative: voucher.cumulative, sequence: voucher.sequence)
        do {
            let (slot, best) = try batch.channel(voucher, statements)
            let key = batch.text(slot)
            let verdict = try ChannelRules.judge(voucher, held: best) { sequence in
                try String.fetchOne(
                    statements.seen,
                    arguments: [Data(voucher.delegation), Data(voucher.payee.bytes), Data(voucher.token.bytes), Int64(sequence)]
                ).flatMap { BigUInt($0, radix: 10) }
            }
            guard case .accepted(let increase) = verdict else { return .duplicate(channel) }
            // The delegation chain is stored once; each channel keeps only its best voucher's own fields and signature.
            if batch.newChain(voucher.delegation, known: knownChains) {
                try statements.chain.execute(arguments: [key.delegation, JSONValue.array(envelope.parents.map(\.json)).compactText])
            }
            try statements.insertReceipt(voucher, cumulative: StoredChannel.decimal(voucher.cumulative), id: envelope.id)
            batch.accept(slot, voucher: voucher, delegation: delegation, signature: envelope.signature)
            return .accepted(channel, increase: increase)
        } catch let rejection as VoucherRejection {
            throw rejection
        } catch {
            throw .storage("\(error)")
        }
    }

    /// Every channel with its delegation's total for the token: a payee sees how much of the total
    /// each voucher claims. It cannot see other payees' claims on the same total; only the contract
    /// bounds those.
    public func channels() throws -> [ChannelState] {
        try database.read { db in
            var delegations: [String: SpendingDelegation?] = [:]
            return try Row.fetchAll(
                db,
                sql: """
                    SELECT c.*, d.parents FROM channel c LEFT JOIN delegation d ON d.id = c.delegationId
                    ORDER BY c.master, c.delegationId, c.payee, c.token
                    """
            ).map { row in
                let id: String = row["delegationId"]
                if delegations[id] == nil { delegations[id] = .some(StoredChannel.spending(parents: row["parents"])) }
                var channel = ChannelState(
                    delegation: try [UInt8](hex: id), master: try Address(row["master"] as String),
                    spender: try Address(row["spender"] as String), payee: try Address(row["payee"] as String),
                    token: try Address(row["token"] as String), cumulative: BigUInt(row["cumulative"] as String, radix: 10) ?? 0,
                    sequence: UInt64(row["sequence"] as Int64))
                channel.total = delegations[id]??.allowance(for: channel.token)?.total
                return channel
            }
        }
    }

    /// The best voucher of every channel, as full envelopes: what to redeem.
    public func export() throws -> [JSONValue] {
        try database.read { db in
            try Row.fetchAll(
                db,
                sql: """
                    SELECT c.*, d.parents FROM channel c JOIN delegation d ON d.id = c.delegationId ORDER BY c.master, c.delegationId, c.payee, c.token
                    """
            ).map { row in
                let voucher = Voucher(
                    delegation: try [UInt8](hex: row["delegationId"] as String), payee: try Address(row["payee"] as String),
                    token: try Address(row["token"] as String), cumulative: BigUInt(row["cumulative"] as String, radix: 10) ?? 0,
                    sequence: UInt64(row["sequence"] as Int64), memo: try [UInt8](hex: row["memo"] as String))
                // Signatures go out as parsed and re-encoded: v is always 27/28, as ecrecover needs.
                return try StoredChannel.envelope(
                    voucher, signature: try [UInt8](hex: row["signature"] as String), parents: row["parents"] as String
                ).json
            }
        }
    }
}

extension PayeeStore {
    /// Nothing to release: the pool closes with the store.
    public func close() async {}

    /// A stored signature as a contract redeems it: v 27/28 (rows written before v 0/1 was refused may hold 0/1).
    static func redeemable(_ signature: [UInt8]) throws -> [UInt8] {
        try Signature(bytes: signature, v: .lenient).bytes
    }
}
