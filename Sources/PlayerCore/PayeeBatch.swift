import BigInt
import Delegation
import Ethereum
import Foundation
import GRDB
import GRDBSQLite

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
