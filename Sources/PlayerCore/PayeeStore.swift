import BigInt
import Delegation
import Ethereum
import Foundation
import GRDB
import GRDBSQLite
import Storage

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

enum PayeeDatabase {
    static func open(_ path: String) throws -> DatabasePool {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1-payee") { db in
            try db.execute(
                sql: """
                    CREATE TABLE channel (
                        delegationId TEXT NOT NULL CHECK (length(delegationId) = 66),
                        payee TEXT NOT NULL,
                        token TEXT NOT NULL,
                        master TEXT NOT NULL,
                        spender TEXT NOT NULL,
                        cumulative TEXT NOT NULL \(WalletDatabase.amountCheck("cumulative")),
                        sequence INTEGER NOT NULL CHECK (sequence > 0),
                        memo TEXT NOT NULL CHECK (length(memo) = 66),
                        signature TEXT NOT NULL CHECK (length(signature) = 132),
                        updatedAt INTEGER NOT NULL,
                        PRIMARY KEY (delegationId, payee, token)
                    );
                    CREATE TABLE delegation (
                        id TEXT PRIMARY KEY NOT NULL CHECK (length(id) = 66),
                        parents TEXT NOT NULL
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
        // Stores written before v 0/1 was refused: rewrite those signatures as 27/28 (same signature).
        migrator.registerMigration("v2-payee-redeemable-v") { db in
            try db.execute(
                sql: """
                    UPDATE channel SET signature = substr(signature, 1, 130) || CASE lower(substr(signature, 131, 2))
                        WHEN '00' THEN '1b' WHEN '01' THEN '1c' ELSE substr(signature, 131, 2) END
                    """)
            for row in try Row.fetchAll(db, sql: "SELECT id, parents FROM delegation") {
                let parents: String = row["parents"]
                guard let rewritten = redeemableParents(parents), rewritten != parents else { continue }
                try db.execute(sql: "UPDATE delegation SET parents = ? WHERE id = ?", arguments: [rewritten, row["id"] as String])
            }
        }
        // What the contract paid each channel, from the receipts' Redeemed events (PayeeStore+Redemption).
        migrator.registerMigration("v3-payee-redemption") { db in
            try db.execute(
                sql: """
                    CREATE TABLE redemption (
                        delegationId TEXT NOT NULL CHECK (length(delegationId) = 66),
                        payee TEXT NOT NULL,
                        token TEXT NOT NULL,
                        cumulative TEXT NOT NULL \(WalletDatabase.amountCheck("cumulative")),
                        paid TEXT NOT NULL \(WalletDatabase.amountCheck("paid")),
                        shortfall TEXT NOT NULL \(WalletDatabase.amountCheck("shortfall")),
                        transactionHash TEXT NOT NULL CHECK (length(transactionHash) = 66),
                        redeemedAt INTEGER NOT NULL,
                        PRIMARY KEY (delegationId, payee, token)
                    )
                    """)
        }
        // Receipts (one row per accepted voucher, the store's largest table and most of its writes) keyed
        // by the channel's bytes in one B-tree: the hex-text keys, and a rowid table beside its key's index,
        // wrote each receipt's key three times over. The voucher id stays text (what readers of the file see).
        migrator.registerMigration("v4-payee-receipt-bytes") { db in
            try db.execute(
                sql: """
                    CREATE TABLE receiptBytes (
                        delegationId BLOB NOT NULL CHECK (typeof(delegationId) = 'blob' AND length(delegationId) = 32),
                        payee BLOB NOT NULL CHECK (typeof(payee) = 'blob' AND length(payee) = 20),
                        token BLOB NOT NULL CHECK (typeof(token) = 'blob' AND length(token) = 20),
                        sequence INTEGER NOT NULL,
                        cumulative TEXT NOT NULL \(WalletDatabase.amountCheck("cumulative")),
                        voucherId TEXT NOT NULL,
                        PRIMARY KEY (delegationId, payee, token, sequence)
                    ) WITHOUT ROWID
                    """)
            let insert = try db.makeStatement(sql: "INSERT INTO receiptBytes VALUES (?, ?, ?, ?, ?, ?)")
            let rows = try Row.fetchCursor(db, sql: "SELECT delegationId, payee, token, sequence, cumulative, voucherId FROM receipt")
            while let row = try rows.next() {
                func bytes(_ column: Int) throws -> Data { Data(try [UInt8](hex: row[column] as String)) }
                try insert.execute(arguments: [
                    try bytes(0), try bytes(1), try bytes(2), row[3] as Int64, row[4] as String, row[5] as String,
                ])
            }
            try db.execute(sql: "DROP TABLE receipt; ALTER TABLE receiptBytes RENAME TO receipt")
        }
        return try DurableDatabase.open(path, migrator: migrator)
    }

    /// A stored chain (JSON array of envelopes) with every signature's v written 27/28.
    static func redeemableParents(_ text: String) -> String? {
        guard case .array(let items)? = try? JSONValue.parse(Array(text.utf8)) else { return nil }
        func fixed(_ value: JSONValue) -> JSONValue {
            guard case .object(var object) = value else { return value }
            if case .string(let hex)? = object["signature"], let bytes = try? [UInt8](hex: hex),
                let signature = try? PayeeStore.redeemable(bytes)
            {
                object["signature"] = .string(signature.hexString)
            }
            if case .array(let parents)? = object["parents"] { object["parents"] = .array(parents.map(fixed)) }
            return .object(object)
        }
        return JSONValue.array(items.map(fixed)).compactText
    }
}

/// Fixed slots written by concurrent workers, one slot each, read after they all finish. The slots
/// are one allocation that never moves: an Array here had every worker mutate the array itself
/// (uniqueness check, copy-on-write, storage written back), a data race that corrupted the heap
/// under the soak (ThreadSanitizer showed it).
final class UnsafeResults<T>: @unchecked Sendable {
    private let slots: UnsafeMutableBufferPointer<T?>
    init(count: Int) {
        slots = .allocate(capacity: count)
        slots.initialize(repeating: nil)
    }
    func set(_ index: Int, _ value: T) { slots[index] = value }
    var values: [T] { slots.map { $0! } }
    func values(_ range: Range<Int>) -> [T] { slots[range].map { $0! } }
    deinit {
        _ = slots.deinitialize()
        slots.deallocate()
    }
}

/// Channel state within one accept batch: each channel's best is read once and written once, and its
/// key's hex text (what the tables hold) is made once per channel, not per voucher.
struct PayeeBatch {
    /// The key as the tables store it: lower-case 0x-hex.
    struct Text {
        let delegation: String
        let payee: String
        let token: String
    }

    /// The statements of a batch, prepared (or found in the cache) once per batch, not once per voucher.
    struct Statements {
        let best: Statement
        let seen: Statement
        let chain: Statement
        let receipt: Statement

        init(_ db: Database) throws {
            best = try db.cachedStatement(
                sql: "SELECT cumulative, sequence FROM channel WHERE delegationId = ? AND payee = ? AND token = ?")
            seen = try db.cachedStatement(
                sql: "SELECT cumulative FROM receipt WHERE delegationId = ? AND payee = ? AND token = ? AND sequence = ?")
            chain = try db.cachedStatement(sql: "INSERT OR IGNORE INTO delegation (id, parents) VALUES (?, ?)")
            receipt = try db.cachedStatement(
                sql: "INSERT INTO receipt (delegationId, payee, token, sequence, cumulative, voucherId) VALUES (?, ?, ?, ?, ?, ?)")
        }

        /// A voucher's receipt row, bound straight into SQLite: GRDB's argument array boxes and copies every
        /// value, a large share of the store's own CPU per voucher. Same row, same constraints; any failure
        /// (a binding too: a reset statement keeps the previous row's values) throws, and the batch rolls back.
        func insertReceipt(_ voucher: Voucher, cumulative: String, id: [UInt8]) throws {
            let handle = receipt.sqliteStatement
            func check(_ code: Int32, _ expected: Int32 = SQLITE_OK) throws {
                guard code != expected else { return }
                let connection = sqlite3_db_handle(handle)
                throw DatabaseError(
                    resultCode: ResultCode(rawValue: sqlite3_extended_errcode(connection)),
                    message: String(cString: sqlite3_errmsg(connection)), sql: receipt.sql)
            }
            func bind(_ index: Int32, _ bytes: [UInt8]) throws {
                try check(bytes.withUnsafeBytes { sqlite3_bind_blob(handle, index, $0.baseAddress, Int32($0.count), PayeeBatch.transient) })
            }
            sqlite3_reset(handle)
            defer { sqlite3_reset(handle) }
            try bind(1, voucher.delegation)
            try bind(2, voucher.payee.bytes)
            try bind(3, voucher.token.bytes)
            try check(sqlite3_bind_int64(handle, 4, Int64(voucher.sequence)))
            try check(cumulative.withCString { sqlite3_bind_text(handle, 5, $0, -1, PayeeBatch.transient) })
            // The id's 0x-hex, written on the stack: no string per voucher.
            try check(
                id.withHexString { text in
                    text.withMemoryRebound(to: CChar.self) {
                        sqlite3_bind_text(handle, 6, $0.baseAddress, Int32($0.count), PayeeBatch.transient)
                    }
                })
            try check(sqlite3_step(handle), SQLITE_DONE)
        }
    }

    /// SQLite copies the bound bytes (the buffers are the caller's, gone after binding).
    private static let transient = unsafeBitCast(OpaquePointer(bitPattern: -1), to: sqlite3_destructor_type.self)

    typealias Best = ChannelRules.Best

    var chains = Set<[UInt8]>()
    /// The chain the last voucher hung from: a batch is mostly one, and hashing it per voucher costs.
    private var lastChain: [UInt8]?
    /// Channel slots in the order first seen; `slots` finds a channel's.
    private var slots: [ChannelBytes: Int] = [:]
    private var texts: [Text] = []
    private var best: [Best?] = []
    private var accepted: [(voucher: Voucher, master: Address, spender: Address, signature: [UInt8])?] = []
    /// The last delegation's and token's hex: a batch is mostly one delegation and one token.
    private var lastDelegation: (bytes: [UInt8], text: String)?
    private var lastToken: (bytes: [UInt8], text: String)?

    func text(_ slot: Int) -> Text { texts[slot] }

    /// Whether `chain` is neither stored (`known`) nor already written in this batch; marks it written.
    mutating func newChain(_ chain: [UInt8], known: Set<[UInt8]>) -> Bool {
        if chain == lastChain { return false }
        lastChain = chain
        return !known.contains(chain) && chains.insert(chain).inserted
    }

    /// The voucher's channel slot and its best so far (read from the store the first time).
    mutating func channel(_ voucher: Voucher, _ statements: Statements) throws -> (Int, Best?) {
        let key = ChannelBytes(voucher)
        if let slot = slots[key] { return (slot, best[slot]) }
        let text = Text(
            delegation: Self.cached(&lastDelegation, voucher.delegation), payee: voucher.payee.dbText,
            token: Self.cached(&lastToken, voucher.token.bytes))
        let row = try Row.fetchOne(statements.best, arguments: [text.delegation, text.payee, text.token])
        let loaded = try row.map { row in
            guard let cumulative = BigUInt(row[0] as String, radix: 10) else { throw VoucherRejection.storage("corrupted channel") }
            return Best(cumulative: cumulative, sequence: UInt64(row[1] as Int64))
        }
        slots[key] = texts.count
        texts.append(text)
        best.append(loaded)
        accepted.append(nil)
        return (texts.count - 1, loaded)
    }

    private static func cached(_ last: inout (bytes: [UInt8], text: String)?, _ bytes: [UInt8]) -> String {
        if let last, last.bytes == bytes { return last.text }
        let text = bytes.hexString
        last = (bytes, text)
        return text
    }

    mutating func accept(_ slot: Int, voucher: Voucher, delegation: SpendingDelegation, signature: [UInt8]) {
        best[slot] = Best(cumulative: voucher.cumulative, sequence: voucher.sequence)
        accepted[slot] = (voucher, delegation.master, delegation.spender, signature)
    }

    func writeChannels(_ db: Database, now: UInt64) throws {
        let statement = try db.cachedStatement(
            sql: """
                INSERT INTO channel (delegationId, payee, token, master, spender, cumulative, sequence, memo, signature, updatedAt)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                ON CONFLICT (delegationId, payee, token) DO UPDATE SET cumulative = excluded.cumulative,
                    sequence = excluded.sequence, memo = excluded.memo, signature = excluded.signature, updatedAt = excluded.updatedAt
                """)
        for (key, entry) in zip(texts, accepted) {
            guard let entry else { continue }
            try statement.execute(arguments: [
                key.delegation, key.payee, key.token, entry.master.dbText, entry.spender.dbText,
                StoredChannel.decimal(entry.voucher.cumulative),
                Int64(entry.voucher.sequence), entry.voucher.memo.hexString, entry.signature.hexString,
                Int64(clamping: now),
            ])
        }
    }
}
