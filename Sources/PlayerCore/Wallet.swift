import BigInt
import Delegation
import Ethereum
import Foundation
import GRDB
import Storage

/// The player's small wallet: a spending key (v3 keystore), the delegations the card gave it, and a
/// SQLite ledger. It pays within the delegations' bounds without asking, and never beyond them:
/// every voucher is recorded and committed (`synchronous=FULL`) before it is signed and released.
public final class Wallet: @unchecked Sendable {
    public let directory: String
    let spendingKey: PrivateKey
    let password: String
    let database: DatabasePool
    let clock: @Sendable () -> UInt64
    private let envelopes = EnvelopeCache()

    public static let spendingKeyFile = "spending.json"
    public static let databaseFile = "wallet.sqlite"
    public static let postingDirectory = "posting"

    public static var defaultDirectory: String { Paths.data + "/wallet" }

    public static func systemClock() -> UInt64 { UInt64(Date().timeIntervalSince1970) }

    /// Creates a wallet: a fresh spending key and an empty ledger. Refuses a directory that already holds one.
    public static func create(
        directory: String, password: String, kdf: ScryptParameters = .standard,
        clock: @escaping @Sendable () -> UInt64 = Wallet.systemClock
    ) throws -> Wallet {
        let keyPath = directory + "/" + spendingKeyFile
        guard !FileManager.default.fileExists(atPath: keyPath) else { throw WalletError.alreadyInitialised(directory) }
        do {
            try PrivateDirectory.createMissing(directory)
            try PrivateDirectory.createMissing(directory + "/" + postingDirectory)
        } catch { throw WalletError.storage("\(error)") }
        do { try Keystore.create(PrivateKey.generate(), at: keyPath, password: password, kdf: kdf) } catch {
            throw WalletError.storage("\(error)")
        }
        return try open(directory: directory, password: password, clock: clock)
    }

    /// Opens an existing wallet. A wrong password, a damaged keystore or a damaged database is refused, never repaired.
    public static func open(
        directory: String, password: String, clock: @escaping @Sendable () -> UInt64 = Wallet.systemClock
    ) throws -> Wallet {
        let keyPath = directory + "/" + spendingKeyFile
        guard FileManager.default.fileExists(atPath: keyPath) else {
            throw WalletError.noSpendingKey("\(directory) holds no wallet (run `paratii wallet init`)")
        }
        // SQLite would open a read-only ledger and fail only at the first payment, in its own words.
        guard access(directory, W_OK) == 0 else {
            throw WalletError.storage(
                "\(directory) is not writable (\(String(cString: strerror(errno)))): the ledger cannot record a payment")
        }
        let key: PrivateKey
        do { key = try Keystore.open(keyPath, password: password) } catch EthereumError.wrongPassword {
            throw WalletError.invalid("wrong password for \(keyPath), or the file is damaged (its MAC does not match)")
        } catch { throw WalletError.corrupted("\(keyPath): \(error)") }
        let database: DatabasePool
        do { database = try WalletDatabase.open(directory + "/" + databaseFile) } catch {
            throw WalletError.corrupted("\(directory)/\(databaseFile): \(error)")
        }
        return Wallet(directory: directory, spendingKey: key, password: password, database: database, clock: clock)
    }

    init(directory: String, spendingKey: PrivateKey, password: String, database: DatabasePool, clock: @escaping @Sendable () -> UInt64) {
        self.directory = directory; self.spendingKey = spendingKey; self.password = password; self.database = database; self.clock = clock
    }

    /// The spending ("smallWallet") address.
    public var address: Address { spendingKey.address }

    // MARK: - Delegations

    /// Stores a SpendingDelegation for this wallet's key, however it was signed, once it verifies.
    @discardableResult
    public func importDelegation(_ envelope: Envelope) throws -> SpendingDelegation {
        guard case .spending(let delegation) = envelope.message else {
            throw WalletError.invalid("not a SpendingDelegation: \(envelope.kind)")
        }
        guard delegation.spender == address else {
            throw WalletError.invalid("the delegation is for spender \(delegation.spender), this wallet is \(address)")
        }
        let verdict = Verifier(domain: envelope.domain).verify(envelope, at: clock())
        guard verdict.valid || verdict.reason == .notYetValid else {
            throw WalletError.invalid("the delegation does not verify: \(verdict.reason!.rawValue) (\(verdict.detail))")
        }
        let id = envelope.id.hexString
        try write { db in
            guard try Bool.fetchOne(db, sql: "SELECT 1 FROM delegation WHERE id = ?", arguments: [id]) == nil else { return }
            try db.execute(
                sql: """
                    INSERT INTO delegation (id, envelope, master, validAfter, validUntil, payees, importedAt) VALUES (?, ?, ?, ?, ?, ?, ?)
                    """,
                arguments: [
                    id, envelope.json.compactText, delegation.master.dbText, Int64(clamping: delegation.validAfter),
                    Int64(clamping: delegation.validUntil), delegation.payees.map(\.dbText).joined(separator: ","),
                    Int64(clamping: clock()),
                ])
            for allowance in delegation.allowances {
                try db.execute(
                    sql: """
                        INSERT INTO allowance (delegationId, token, total, perPayment, period, perPeriod) VALUES (?, ?, ?, ?, ?, ?)
                        """,
                    arguments: [
                        id, allowance.token.dbText, String(allowance.total), String(allowance.perPayment),
                        Int64(clamping: allowance.period), String(allowance.perPeriod),
                    ])
            }
        }
        return delegation
    }

    /// Stops paying under a delegation from now on (the card's own revocation is `paratii delegate revoke`).
    public func revokeDelegation(_ id: [UInt8]) throws {
        try write { db in
            try db.execute(
                sql: "UPDATE delegation SET revokedAt = ? WHERE id = ? AND revokedAt IS NULL",
                arguments: [Int64(clamping: clock()), id.hexString])
            guard db.changesCount > 0 else { throw WalletError.invalid("no live delegation \(id.hexString) in this wallet") }
        }
    }

    /// Stops paying under every live delegation of `master` from now on, and returns how many. After a
    /// takeover of that master completes, its escrow is gone: vouchers under its delegations would never pay.
    @discardableResult
    public func stopPaying(master: Address) throws -> Int {
        try write { db in
            try db.execute(
                sql: "UPDATE delegation SET revokedAt = ? WHERE master = ? AND revokedAt IS NULL",
                arguments: [Int64(clamping: clock()), master.dbText])
            guard db.changesCount > 0 else { throw WalletError.invalid("no live delegation from master \(master) in this wallet") }
            return db.changesCount
        }
    }

    /// The delegation envelope (with its own parents) a voucher or posting delegation hangs under.
    func delegationEnvelope(_ id: [UInt8]) throws -> Envelope {
        if let cached = envelopes.get(id) { return cached }
        let text = try database.read { db in
            try String.fetchOne(db, sql: "SELECT envelope FROM delegation WHERE id = ?", arguments: [id.hexString])
        }
        guard let text else { throw WalletError.corrupted("delegation \(id.hexString) is missing") }
        let envelope: Envelope
        do { envelope = try Envelope(parsing: Array(text.utf8)) } catch {
            throw WalletError.corrupted("delegation \(id.hexString): \(error)")
        }
        envelopes.put(envelope)
        return envelope
    }

    // MARK: - Paying

    /// Pays within the delegations' bounds: records in one IMMEDIATE transaction, commits, then signs.
    public func pay(_ request: PaymentRequest) throws -> Envelope {
        try payBatch([request])[0]
    }

    /// Records many payments in one transaction (one fsync), then signs them all. All or nothing.
    public func payBatch(_ requests: [PaymentRequest]) throws -> [Envelope] {
        let now = clock()
        let vouchers = try write { db in
            var ledger = Ledger(db, now: now)
            let vouchers = try requests.map { try ledger.record($0) }
            try ledger.finish()
            return vouchers
        }
        return try vouchers.map { try sign($0) }
    }

    /// Signing is deterministic (RFC 6979): the same recorded voucher always yields the same envelope.
    func sign(_ voucher: Voucher) throws -> Envelope {
        let parent = try delegationEnvelope(voucher.delegation)
        return try Envelope.sign(voucher, domain: parent.domain, signer: spendingKey, parents: [parent] + parent.parents)
    }

    /// A signed envelope's JSON (`envelope.json`), its parents rendered once per wallet: every voucher
    /// carries the same delegation chain.
    public func json(_ envelope: Envelope) -> JSONValue { envelope.json(parents: envelope.parents.map { envelopes.json($0) }) }

    public func budget() throws -> [Budget] {
        let now = clock()
        return try database.read { db in try Self.budgets(db, now: now) }
    }

    /// Columns by position: GRDB's name lookups fold case, and the group commit reads this once per batch.
    static func budgets(_ db: Database, now: UInt64) throws -> [Budget] {
        try Row.fetchAll(
            db.cachedStatement(
                sql: """
                    SELECT d.id, d.validAfter, d.validUntil, d.revokedAt, a.token, a.total, a.spent, a.perPayment, a.period,
                           a.perPeriod, a.periodIndex, a.periodSpent
                    FROM delegation d JOIN allowance a ON a.delegationId = d.id
                    ORDER BY d.validUntil, d.id, a.token
                    """)
        ).map { row in
            let validAfter = UInt64(row[1] as Int64), validUntil = UInt64(row[2] as Int64)
            let revoked = (row[3] as Int64?).map { UInt64($0) <= now } ?? false
            let period = UInt64(row[8] as Int64), perPeriod = try Ledger.amount(row, 9, "perPeriod")
            var periodRemaining: BigUInt?
            if period > 0 {
                let periodSpent = try Ledger.amount(row, 11, "periodSpent")
                let current = now >= validAfter && Int64((now - validAfter) / period) > (row[10] as Int64)
                periodRemaining = current ? perPeriod : perPeriod - min(perPeriod, periodSpent)
            }
            return Budget(
                delegation: try [UInt8](hex: row[0] as String), token: try Address(row[4] as String),
                total: try Ledger.amount(row, 5, "total"), spent: try Ledger.amount(row, 6, "spent"),
                perPayment: try Ledger.amount(row, 7, "perPayment"), period: period, perPeriod: perPeriod,
                periodRemaining: periodRemaining, validUntil: validUntil,
                live: !revoked && now >= validAfter && now <= validUntil)
        }
    }

    public func history(limit: Int = 100) throws -> [VoucherRecord] {
        try database.read { db in
            try Row.fetchAll(db, sql: "SELECT * FROM voucher ORDER BY createdAt DESC, sequence DESC LIMIT ?", arguments: [limit]).map(
                Ledger.voucherRecord)
        }
    }

    /// The masters of the imported delegations: whose nonce a top-up request spends. A master the wallet
    /// stopped paying under (`stopPaying`, after a takeover) is left out while another one remains.
    public func masters() throws -> [Address] {
        try database.read { db in
            let live = try String.fetchAll(db, sql: "SELECT DISTINCT master FROM delegation WHERE revokedAt IS NULL ORDER BY master")
            let all = try String.fetchAll(db, sql: "SELECT DISTINCT master FROM delegation ORDER BY master")
            return (live.isEmpty ? all : live).compactMap { try? Address($0) }
        }
    }

    /// Every voucher ever recorded, re-signed: what a payee would need to redeem them all.
    public func recordedVouchers() throws -> [Envelope] {
        try database.read { db in
            try Row.fetchAll(db, sql: "SELECT * FROM voucher ORDER BY createdAt, delegationId, payee, token, sequence").map(
                Ledger.voucherRecord)
        }.map { try sign($0.voucher) }
    }

    // MARK: - Storage

    /// One IMMEDIATE transaction. A failed write (a full disk, an I/O error) rolls it back whole and
    /// says so, with the operating system's reason: SQLite's own words ("disk I/O error") hide it.
    func write<T>(_ body: (Database) throws -> T) throws -> T {
        var systemError: Int32 = 0
        do {
            return try database.writeWithoutTransaction { db in
                var result: T?
                do {
                    try db.inTransaction(.immediate) {
                        result = try body(db)
                        return .commit
                    }
                } catch let error as DatabaseError where [.SQLITE_IOERR, .SQLITE_FULL].contains(error.resultCode) {
                    // errno still holds the failed write's reason (EFBIG, ENOSPC, EIO) here.
                    systemError = errno
                    throw error
                }
                return result!
            }
        } catch let error as WalletError {
            throw error
        } catch let error as DatabaseError {
            let reason = systemError == 0 ? "" : " (\(String(cString: strerror(systemError))))"
            throw WalletError.storage("\(directory)/\(Self.databaseFile): \(error.message ?? "\(error)")\(reason); nothing was recorded")
        }
    }
}

/// Parsed delegation envelopes by id, so paying does not re-parse JSON each time, and their JSON, so
/// a voucher's answer does not render its delegation chain each time.
final class EnvelopeCache: @unchecked Sendable {
    private var storage: [[UInt8]: Envelope] = [:]
    private var rendered: [[UInt8]: JSONValue] = [:]
    private let lock = NSLock()
    func get(_ id: [UInt8]) -> Envelope? { lock.withLock { storage[id] } }
    func put(_ envelope: Envelope) { lock.withLock { storage[envelope.id] = envelope } }

    /// `envelope.json`, kept by id and signature (a card may sign one message twice, differently).
    func json(_ envelope: Envelope) -> JSONValue {
        let key = envelope.id + envelope.signature
        if let known = lock.withLock({ rendered[key] }) { return known }
        let json = envelope.json
        lock.withLock {
            if rendered.count >= 1024 { rendered = [:] }
            rendered[key] = json
        }
        return json
    }
}
