import BigInt
import Delegation
import Ethereum
import GRDB

/// The rules of spending, applied inside one write transaction: find a live delegation whose
/// allowance covers the payment, check every cap, and record the new channel state and the voucher.
/// Nothing is signed here: the caller signs only after the transaction has committed.
///
/// A session reads each allowance and channel once per transaction, keeps their running state in
/// memory, and writes it back in `finish()`: a batch of payments costs one read and one write per
/// allowance and channel, plus one row per voucher.
struct Ledger {
    let db: Database
    let now: UInt64
    private var candidatesByToken: [Address: [Candidate]] = [:]
    private var channels: [ChannelKey: ChannelState] = [:]

    init(_ db: Database, now: UInt64) {
        self.db = db
        self.now = now
    }

    /// One delegation's allowance for one token, as read at the start and updated as payments pass.
    struct Candidate {
        let delegationId: String
        let validAfter: UInt64
        let validUntil: UInt64
        let payees: Set<String>
        let revokedAt: UInt64?
        let total: BigUInt
        let perPayment: BigUInt
        let period: UInt64
        let perPeriod: BigUInt
        var spent: BigUInt
        var periodIndex: Int64
        var periodSpent: BigUInt
        var dirty = false
    }

    struct ChannelKey: Hashable {
        let delegationId: String
        let payee: String
        let token: String
    }

    struct ChannelState {
        var cumulative: BigUInt
        var sequence: Int64
        var dirty = false
    }

    /// Records one payment and returns the voucher to sign. Throws a refusal; the caller's
    /// transaction then rolls back, so a refusal writes nothing.
    mutating func record(_ request: PaymentRequest) throws -> Voucher {
        if let key = request.idempotencyKey,
            let existing = try Row.fetchOne(
                db.cachedStatement(sql: "SELECT * FROM voucher WHERE idempotencyKey = ? AND idempotencyKey IS NOT NULL"), arguments: [key])
        {
            let record = try Self.voucherRecord(existing)
            guard record.voucher.payee == request.payee, record.voucher.token == request.token,
                record.amount == request.amount, record.voucher.memo == request.memo
            else { throw WalletError.idempotencyConflict(key) }
            return record.voucher
        }
        guard request.amount > 0 else { throw WalletError.refused(.zeroAmount, "a payment must be positive") }
        guard request.memo.count == 32 else { throw WalletError.invalid("memo must be 32 bytes") }

        var candidates = try candidates(for: request.token)
        guard !candidates.isEmpty else {
            let any = try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM delegation") ?? 0
            throw any == 0
                ? WalletError.refused(.noDelegation, "import a spending delegation first")
                : WalletError.refused(.unknownToken, "no delegation has an allowance for \(request.token)")
        }
        var refusals: [(PaymentRefusal, String)] = []
        for index in candidates.indices {
            if let refusal = Self.charge(&candidates[index], request, now: now) {
                refusals.append(refusal)
                continue
            }
            candidatesByToken[request.token] = candidates
            return try issue(request, under: candidates[index].delegationId)
        }
        // Report the refusal closest to succeeding: a cap beats a payee list beats a dead delegation.
        let order: [PaymentRefusal] = [.overPerPayment, .overPeriod, .overTotal, .payeeNotAllowed, .revoked, .notYetValid, .expired]
        let best = refusals.min { (order.firstIndex(of: $0.0) ?? 99) < (order.firstIndex(of: $1.0) ?? 99) }!
        throw WalletError.refused(best.0, best.1)
    }

    /// Applies every cap to `candidate` and charges it; returns why not, leaving it untouched, when it cannot pay.
    static func charge(_ candidate: inout Candidate, _ request: PaymentRequest, now: UInt64) -> (PaymentRefusal, String)? {
        let id = candidate.delegationId
        if let revokedAt = candidate.revokedAt, revokedAt <= now { return (.revoked, "delegation \(id) was revoked") }
        if now < candidate.validAfter { return (.notYetValid, "delegation \(id) starts at \(candidate.validAfter)") }
        if now > candidate.validUntil { return (.expired, "delegation \(id) expired at \(candidate.validUntil)") }
        if !candidate.payees.isEmpty && !candidate.payees.contains(request.payee.dbText) {
            return (.payeeNotAllowed, "\(request.payee) is not an allowed payee of \(id)")
        }
        if request.amount > candidate.perPayment {
            return (.overPerPayment, "\(request.amount) exceeds the per-payment cap \(candidate.perPayment)")
        }
        if candidate.spent + request.amount > candidate.total {
            return (.overTotal, "\(request.amount) exceeds what is left of the total (\(candidate.total - candidate.spent))")
        }
        var periodIndex = candidate.periodIndex, periodSpent = candidate.periodSpent
        if candidate.period > 0 {
            // Periods are aligned to validAfter and reset lazily; a clock that moves back never reopens a spent period.
            let index = Int64((now - candidate.validAfter) / candidate.period)
            if index > periodIndex {
                periodIndex = index
                periodSpent = 0
            }
            if periodSpent + request.amount > candidate.perPeriod {
                return (
                    .overPeriod,
                    "\(request.amount) exceeds what is left this period (\(candidate.perPeriod - min(candidate.perPeriod, periodSpent)))"
                )
            }
            periodSpent += request.amount
        }
        candidate.spent += request.amount
        candidate.periodIndex = periodIndex
        candidate.periodSpent = periodSpent
        candidate.dirty = true
        return nil
    }

    /// Advances the channel and writes the voucher row.
    private mutating func issue(_ request: PaymentRequest, under delegationId: String) throws -> Voucher {
        let key = ChannelKey(delegationId: delegationId, payee: request.payee.dbText, token: request.token.dbText)
        var channel: ChannelState
        if let known = channels[key] {
            channel = known
        } else if let row = try Row.fetchOne(
            db.cachedStatement(sql: "SELECT cumulative, sequence FROM channel WHERE delegationId = ? AND payee = ? AND token = ?"),
            arguments: [key.delegationId, key.payee, key.token])
        {
            channel = ChannelState(cumulative: try Self.amount(row, 0, "cumulative"), sequence: row[1])
        } else {
            channel = ChannelState(cumulative: 0, sequence: 0)
        }
        channel.cumulative += request.amount
        channel.sequence += 1
        channel.dirty = true
        channels[key] = channel
        try db.cachedStatement(
            sql: """
                INSERT INTO voucher (idempotencyKey, delegationId, payee, token, amount, cumulative, sequence, memo, createdAt)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
                """
        ).execute(arguments: [
            request.idempotencyKey, delegationId, key.payee, key.token, String(request.amount),
            String(channel.cumulative), channel.sequence, request.memo.hexString, Int64(clamping: now),
        ])
        return Voucher(
            delegation: try [UInt8](hex: delegationId), payee: request.payee, token: request.token,
            cumulative: channel.cumulative, sequence: UInt64(channel.sequence), memo: request.memo)
    }

    /// Writes back every allowance and channel this session changed. Call before committing.
    func finish() throws {
        for (token, candidates) in candidatesByToken {
            for candidate in candidates where candidate.dirty {
                try db.cachedStatement(
                    sql: "UPDATE allowance SET spent = ?, periodIndex = ?, periodSpent = ? WHERE delegationId = ? AND token = ?"
                )
                .execute(arguments: [
                    String(candidate.spent), candidate.periodIndex, String(candidate.periodSpent), candidate.delegationId, token.dbText,
                ])
            }
        }
        for (key, channel) in channels where channel.dirty {
            try db.cachedStatement(
                sql: """
                    INSERT INTO channel (delegationId, payee, token, cumulative, sequence) VALUES (?, ?, ?, ?, ?)
                    ON CONFLICT (delegationId, payee, token) DO UPDATE SET cumulative = excluded.cumulative, sequence = excluded.sequence
                    """
            ).execute(arguments: [key.delegationId, key.payee, key.token, String(channel.cumulative), channel.sequence])
        }
    }

    private mutating func candidates(for token: Address) throws -> [Candidate] {
        if let known = candidatesByToken[token] { return known }
        let rows = try Row.fetchAll(
            db.cachedStatement(
                sql: """
                    SELECT d.id, d.validAfter, d.validUntil, d.payees, d.revokedAt,
                           a.total, a.perPayment, a.period, a.perPeriod, a.spent, a.periodIndex, a.periodSpent
                    FROM delegation d JOIN allowance a ON a.delegationId = d.id
                    WHERE a.token = ? ORDER BY d.validUntil, d.id
                    """), arguments: [token.dbText])
        // Columns by position: GRDB's name lookups are case-insensitive scans.
        let loaded = try rows.map { row in
            Candidate(
                delegationId: row[0], validAfter: UInt64(row[1] as Int64), validUntil: UInt64(row[2] as Int64),
                payees: Set((row[3] as String).split(separator: ",").map(String.init)),
                revokedAt: (row[4] as Int64?).map { UInt64($0) },
                total: try Self.amount(row, 5, "total"), perPayment: try Self.amount(row, 6, "perPayment"),
                period: UInt64(row[7] as Int64), perPeriod: try Self.amount(row, 8, "perPeriod"),
                spent: try Self.amount(row, 9, "spent"), periodIndex: row[10], periodSpent: try Self.amount(row, 11, "periodSpent"))
        }
        candidatesByToken[token] = loaded
        return loaded
    }

    static func amount(_ row: Row, _ column: String) throws -> BigUInt {
        guard let text: String = row[column], let value = BigUInt(text, radix: 10) else {
            throw WalletError.corrupted("column \(column) holds no amount")
        }
        return value
    }

    static func amount(_ row: Row, _ index: Int, _ name: String) throws -> BigUInt {
        guard let text: String = row[index], let value = BigUInt(text, radix: 10) else {
            throw WalletError.corrupted("column \(name) holds no amount")
        }
        return value
    }

    static func voucherRecord(_ row: Row) throws -> VoucherRecord {
        let voucher = Voucher(
            delegation: try [UInt8](hex: row["delegationId"] as String), payee: try Address(row["payee"] as String),
            token: try Address(row["token"] as String), cumulative: try amount(row, "cumulative"),
            sequence: UInt64(row["sequence"] as Int64), memo: try [UInt8](hex: row["memo"] as String))
        return VoucherRecord(
            voucher: voucher, amount: try amount(row, "amount"), createdAt: UInt64(row["createdAt"] as Int64),
            idempotencyKey: row["idempotencyKey"])
    }
}
