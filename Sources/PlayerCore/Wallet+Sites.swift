import BigInt
import Delegation
import Ethereum
import Foundation
import GRDB

/// A web site's spending limit in one token: `limit` per `period` seconds (0: once, for as long as the pairing lasts).
public struct SiteLimit: Sendable, Equatable {
    public var token: Address
    public var limit: BigUInt
    public var period: UInt64

    public init(token: Address, limit: BigUInt, period: UInt64) {
        self.token = token; self.limit = limit; self.period = period
    }
}

/// What a site may still spend in one token: its own limit this period, and never more than the
/// delegations leave (`delegationRemaining`), whichever is smaller.
public struct SiteBudget: Sendable, Equatable {
    public var origin: String
    public var limit: SiteLimit
    public var spentThisPeriod: BigUInt
    public var spent: BigUInt
    public var delegationRemaining: BigUInt

    public var remaining: BigUInt { min(limit.limit - min(limit.limit, spentThisPeriod), delegationRemaining) }
}

/// A paired web site: its origin, the name it gave, and the SHA-256 of its bearer token (never the token).
public struct Site: Sendable, Equatable {
    public var origin: String
    public var name: String
    public var tokenHash: String
    public var approvedAt: UInt64

    public init(origin: String, name: String, tokenHash: String, approvedAt: UInt64) {
        self.origin = origin; self.name = name; self.tokenHash = tokenHash; self.approvedAt = approvedAt
    }
}

/// A site payment recorded and committed, not yet signed. Only this module makes one and only
/// `Wallet.sign(_:)` turns it into an envelope, so nothing is signed that the ledger does not hold.
public struct RecordedPayment: Sendable {
    public let voucher: Voucher
    /// The site's budgets as the commit that recorded this payment left them: what its page shows next.
    public let budgets: [SiteBudget]
}

extension Wallet {
    /// Pays for `site`: the site's budget and the delegations' bounds are charged in one IMMEDIATE
    /// transaction, committed before the voucher is signed. A retry with the same idempotency key
    /// returns the identical voucher and charges nothing.
    public func pay(_ request: PaymentRequest, site origin: String) throws -> Envelope {
        try payForSites([(request, origin)])[0].get()
    }

    /// Many sites' payments in one transaction, one fsync, then signed (see `recordForSites`).
    public func payForSites(_ payments: [(request: PaymentRequest, site: String)]) throws -> [Result<Envelope, WalletError>] {
        try recordForSites(payments).map { outcome in
            outcome.flatMap { payment in
                do { return .success(try sign(payment)) } catch let error as WalletError { return .failure(error) } catch {
                    return .failure(.invalid("\(error)"))
                }
            }
        }
    }

    /// Many sites' payments in one transaction, one fsync (group commit: what pages ask for while the
    /// previous commit runs). Each payment is its own savepoint, so a refusal (a site over its budget)
    /// fails that payment alone. Nothing is signed here: the caller signs each committed payment, on
    /// any thread (`sign(_:)`), so the one writer spends its time on the ledger only.
    public func recordForSites(
        _ payments: [(request: PaymentRequest, site: String)]
    ) throws -> [Result<RecordedPayment, WalletError>] {
        let now = clock()
        return try write { db in
            var ledger = Ledger(db, now: now)
            var sites = SiteSession(db, now: now)
            var vouchers: [Result<Voucher, WalletError>] = []
            for payment in payments {
                do {
                    vouchers.append(
                        .success(try Self.savepoint(db) { try Self.record(&ledger, &sites, payment.request, site: payment.site) }))
                } catch let error as WalletError {
                    vouchers.append(.failure(error))
                }
            }
            try ledger.finish()
            try sites.finish()
            // Each paying site's budgets once per batch, read after its writes in the same transaction:
            // the page's answer needs no read of its own.
            var left: [Address: BigUInt]?
            var budgets: [String: [SiteBudget]] = [:]
            return try zip(payments, vouchers).map { payment, outcome in
                guard case .success(let voucher) = outcome else { return outcome.map { RecordedPayment(voucher: $0, budgets: []) } }
                if budgets[payment.site] == nil {
                    if left == nil { left = try Self.delegationsLeft(db, now: now) }
                    budgets[payment.site] = try Self.siteBudgets(db, payment.site, left: left ?? [:], now: now)
                }
                return .success(RecordedPayment(voucher: voucher, budgets: budgets[payment.site] ?? []))
            }
        }
    }

    /// Signs a committed payment's voucher. Deterministic (RFC 6979): the same payment, the same envelope.
    public func sign(_ payment: RecordedPayment) throws -> Envelope { try sign(payment.voucher) }

    /// `body` in a savepoint: a refusal undoes its writes alone. Cached statements, since GRDB's
    /// `inSavepoint` compiles its SQL (and authorizes it) anew for every payment. Any other error ends the
    /// whole transaction, which rolls back.
    static func savepoint<T>(_ db: Database, _ body: () throws -> T) throws -> T {
        try db.cachedStatement(sql: "SAVEPOINT payment").execute()
        do {
            let result = try body()
            try db.cachedStatement(sql: "RELEASE SAVEPOINT payment").execute()
            return result
        } catch let refusal as WalletError {
            try db.cachedStatement(sql: "ROLLBACK TO SAVEPOINT payment").execute()
            try db.cachedStatement(sql: "RELEASE SAVEPOINT payment").execute()
            throw refusal
        }
    }

    /// One site payment inside the caller's transaction: the site's budget, then the ledger. Both sessions'
    /// state changes only once the ledger has recorded, so a refusal leaves them as the savepoint leaves the rows.
    static func record(
        _ ledger: inout Ledger, _ sites: inout SiteSession, _ request: PaymentRequest, site origin: String
    ) throws -> Voucher {
        let db = ledger.db
        let replay =
            try request.idempotencyKey.map { key in
                try Bool.fetchOne(db.cachedStatement(sql: "SELECT 1 FROM voucher WHERE idempotencyKey = ?"), arguments: [key]) != nil
            } ?? false
        let charge = replay ? nil : try sites.check(origin, request)
        let voucher = try ledger.record(request)
        if let charge {
            sites.apply(charge)
            try db.cachedStatement(sql: "INSERT INTO siteVoucher (delegationId, payee, token, sequence, origin) VALUES (?, ?, ?, ?, ?)")
                .execute(arguments: [
                    voucher.delegation.hexString, voucher.payee.dbText, voucher.token.dbText, Int64(voucher.sequence), origin,
                ])
        }
        return voucher
    }

    /// Records an approved pairing: the site's token hash and its limits. Approving an origin again replaces its
    /// token (the old one stops working) and its limits, and starts its periods afresh.
    public func approveSite(origin: String, name: String, tokenHash: String, limits: [SiteLimit]) throws {
        guard !limits.isEmpty else { throw WalletError.invalid("a site needs a budget in at least one token") }
        let now = clock()
        try write { db in
            try db.execute(sql: "DELETE FROM siteBudget WHERE origin = ?", arguments: [origin])
            try db.execute(
                sql: """
                    INSERT INTO site (origin, name, tokenHash, approvedAt) VALUES (?, ?, ?, ?)
                    ON CONFLICT (origin) DO UPDATE SET name = excluded.name, tokenHash = excluded.tokenHash,
                        approvedAt = excluded.approvedAt, revokedAt = NULL
                    """, arguments: [origin, name, tokenHash, Int64(clamping: now)])
            for limit in limits {
                try db.execute(
                    sql: "INSERT INTO siteBudget (origin, token, limitAmount, period, since) VALUES (?, ?, ?, ?, ?)",
                    arguments: [origin, limit.token.dbText, String(limit.limit), Int64(clamping: limit.period), Int64(clamping: now)])
            }
        }
    }

    /// The live site whose bearer token hashes to `tokenHash`.
    public func site(tokenHash: String) throws -> Site? {
        try database.read { db in
            try Row.fetchOne(db, sql: "SELECT * FROM site WHERE tokenHash = ? AND revokedAt IS NULL", arguments: [tokenHash]).map(Self.site)
        }
    }

    public func sites() throws -> [Site] {
        try database.read { db in
            try Row.fetchAll(db, sql: "SELECT * FROM site WHERE revokedAt IS NULL ORDER BY origin").map(Self.site)
        }
    }

    /// Forgets a site's pairing: its token stops working at once.
    public func revokeSite(_ origin: String) throws {
        try write { db in
            try db.execute(
                sql: "UPDATE site SET revokedAt = ? WHERE origin = ? AND revokedAt IS NULL", arguments: [Int64(clamping: clock()), origin])
            guard db.changesCount > 0 else { throw WalletError.invalid("no paired site \(origin)") }
        }
    }

    /// The site's budgets, each bounded by what the delegations leave in that token.
    public func siteBudgets(_ origin: String) throws -> [SiteBudget] {
        let now = clock()
        return try database.read { db in try Self.siteBudgets(db, origin, left: Self.delegationsLeft(db, now: now), now: now) }
    }

    /// What the live delegations leave to spend now, per token.
    static func delegationsLeft(_ db: Database, now: UInt64) throws -> [Address: BigUInt] {
        Dictionary(
            try budgets(db, now: now).filter(\.live).map { ($0.token, min($0.remaining, $0.periodRemaining ?? $0.remaining)) },
            uniquingKeysWith: +)
    }

    static func siteBudgets(_ db: Database, _ origin: String, left: [Address: BigUInt], now: UInt64) throws -> [SiteBudget] {
        try Row.fetchAll(
            db.cachedStatement(
                sql:
                    "SELECT token, limitAmount, period, since, periodIndex, periodSpent, spent FROM siteBudget WHERE origin = ? ORDER BY token"
            ),
            arguments: [origin]
        ).map { row in
            let token = try Address(row[0] as String)
            let period = UInt64(row[2] as Int64), since = UInt64(row[3] as Int64)
            let stale = period > 0 && now >= since && Int64((now - since) / period) > (row[4] as Int64)
            return SiteBudget(
                origin: origin, limit: SiteLimit(token: token, limit: try Ledger.amount(row, 1, "limitAmount"), period: period),
                spentThisPeriod: stale ? 0 : try Ledger.amount(row, 5, "periodSpent"), spent: try Ledger.amount(row, 6, "spent"),
                delegationRemaining: left[token] ?? 0)
        }
    }

    /// The site's own vouchers, newest first.
    public func siteHistory(_ origin: String, limit: Int = 100) throws -> [VoucherRecord] {
        try database.read { db in
            try Row.fetchAll(
                db,
                sql: """
                    SELECT v.* FROM voucher v JOIN siteVoucher s ON s.delegationId = v.delegationId AND s.payee = v.payee
                        AND s.token = v.token AND s.sequence = v.sequence
                    WHERE s.origin = ? ORDER BY v.createdAt DESC, v.sequence DESC LIMIT ?
                    """, arguments: [origin, limit]
            ).map(Ledger.voucherRecord)
        }
    }

    static func site(_ row: Row) -> Site {
        Site(
            origin: row["origin"], name: row["name"], tokenHash: row["tokenHash"], approvedAt: UInt64(row["approvedAt"] as Int64))
    }
}

/// A batch's site budgets, kept as the ledger keeps its allowances: each site's budget in a token read
/// once per transaction, charged in memory, written back by `finish()` before the commit.
struct SiteSession {
    let db: Database
    let now: UInt64
    private var budgets: [Key: Budget] = [:]

    init(_ db: Database, now: UInt64) {
        self.db = db
        self.now = now
    }

    struct Key: Hashable {
        let origin: String
        let token: Address
    }

    struct Budget {
        let limit: BigUInt
        let period: UInt64
        let since: UInt64
        var index: Int64
        var periodSpent: BigUInt
        var spent: BigUInt
        var dirty = false
    }

    /// The site's budget after this payment, or its refusal; nothing changes until `apply`.
    /// Periods are aligned to the approval and reset lazily, as the delegation's are; a clock moved back never reopens one.
    mutating func check(_ origin: String, _ request: PaymentRequest) throws -> (Key, Budget) {
        let key = Key(origin: origin, token: request.token)
        guard var budget = try budgets[key] ?? load(key) else {
            throw WalletError.refused(.overSiteBudget, "\(origin) has no budget for \(request.token)")
        }
        budgets[key] = budget
        if budget.period > 0, now >= budget.since, Int64((now - budget.since) / budget.period) > budget.index {
            budget.index = Int64((now - budget.since) / budget.period)
            budget.periodSpent = 0
        }
        guard budget.periodSpent + request.amount <= budget.limit else {
            throw WalletError.refused(
                .overSiteBudget,
                "\(request.amount) exceeds what is left of \(origin)'s budget (\(budget.limit - min(budget.limit, budget.periodSpent))\(budget.period > 0 ? " this period" : ""))"
            )
        }
        budget.periodSpent += request.amount
        budget.spent += request.amount
        budget.dirty = true
        return (key, budget)
    }

    mutating func apply(_ charge: (Key, Budget)) { budgets[charge.0] = charge.1 }

    /// Writes back every budget this session charged. Call before committing.
    func finish() throws {
        for (key, budget) in budgets where budget.dirty {
            try db.cachedStatement(sql: "UPDATE siteBudget SET periodIndex = ?, periodSpent = ?, spent = ? WHERE origin = ? AND token = ?")
                .execute(arguments: [budget.index, String(budget.periodSpent), String(budget.spent), key.origin, key.token.dbText])
        }
    }

    /// A live site's budget in the token (columns by position: GRDB's name lookups are case-insensitive scans).
    private func load(_ key: Key) throws -> Budget? {
        guard
            let row = try Row.fetchOne(
                db.cachedStatement(
                    sql: """
                        SELECT b.limitAmount, b.period, b.since, b.periodIndex, b.periodSpent, b.spent FROM siteBudget b
                        JOIN site s ON s.origin = b.origin WHERE b.origin = ? AND b.token = ? AND s.revokedAt IS NULL
                        """), arguments: [key.origin, key.token.dbText])
        else { return nil }
        return Budget(
            limit: try Ledger.amount(row, 0, "limitAmount"), period: UInt64(row[1] as Int64), since: UInt64(row[2] as Int64),
            index: row[3], periodSpent: try Ledger.amount(row, 4, "periodSpent"), spent: try Ledger.amount(row, 5, "spent"))
    }
}
