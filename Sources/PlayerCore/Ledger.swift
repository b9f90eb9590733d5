import BigInt
import Delegation
import Ethereum
import GRDB

/// The rules of spending, applied inside one write transaction: find a live delegation whose
/// allowance covers the payment, check every cap, and record the new channel state and the voucher.
/// Nothing is signed here: the caller signs only after the transaction has committed.
enum Ledger {
    /// Records one payment and returns the voucher to sign. Throws a refusal and writes nothing otherwise.
    static func record(_ request: PaymentRequest, in db: Database, now: UInt64) throws -> Voucher {
        if let key = request.idempotencyKey, let existing = try Row.fetchOne(db, sql: "SELECT * FROM voucher WHERE idempotencyKey = ?", arguments: [key]) {
            let record = try voucherRecord(existing)
            guard record.voucher.payee == request.payee, record.voucher.token == request.token,
                  record.amount == request.amount, record.voucher.memo == request.memo
            else { throw WalletError.idempotencyConflict(key) }
            return record.voucher
        }
        guard request.amount > 0 else { throw WalletError.refused(.zeroAmount, "a payment must be positive") }
        guard request.memo.count == 32 else { throw WalletError.invalid("memo must be 32 bytes") }

        let candidates = try Row.fetchAll(db, sql: """
            SELECT d.id, d.validAfter, d.validUntil, d.payees, d.revokedAt, a.*
            FROM delegation d JOIN allowance a ON a.delegationId = d.id
            WHERE a.token = ? ORDER BY d.validUntil, d.id
            """, arguments: [request.token.checksummed])
        guard !candidates.isEmpty else {
            let any = try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM delegation") ?? 0
            throw any == 0 ? WalletError.refused(.noDelegation, "import a spending delegation first")
                           : WalletError.refused(.unknownToken, "no delegation has an allowance for \(request.token)")
        }
        var refusals: [(PaymentRefusal, String)] = []
        for row in candidates {
            switch try evaluate(row, request, now: now) {
            case .refused(let reason, let detail): refusals.append((reason, detail))
            case .allowed(let state): return try commit(state, request, db: db, now: now)
            }
        }
        // Report the refusal closest to succeeding: a cap beats a payee list beats a dead delegation.
        let order: [PaymentRefusal] = [.overPerPayment, .overPeriod, .overTotal, .payeeNotAllowed, .revoked, .notYetValid, .expired]
        let best = refusals.min { (order.firstIndex(of: $0.0) ?? 99) < (order.firstIndex(of: $1.0) ?? 99) }!
        throw WalletError.refused(best.0, best.1)
    }

    struct AllowanceState {
        var delegationId: String
        var spent: BigUInt
        var periodIndex: Int64
        var periodSpent: BigUInt
    }

    enum Evaluation {
        case allowed(AllowanceState)
        case refused(PaymentRefusal, String)
    }

    static func evaluate(_ row: Row, _ request: PaymentRequest, now: UInt64) throws -> Evaluation {
        let id: String = row["id"]
        if let revokedAt: Int64 = row["revokedAt"], UInt64(revokedAt) <= now { return .refused(.revoked, "delegation \(id) was revoked") }
        let validAfter = UInt64(row["validAfter"] as Int64), validUntil = UInt64(row["validUntil"] as Int64)
        if now < validAfter { return .refused(.notYetValid, "delegation \(id) starts at \(validAfter)") }
        if now > validUntil { return .refused(.expired, "delegation \(id) expired at \(validUntil)") }
        let payees: String = row["payees"]
        if !payees.isEmpty && !payees.split(separator: ",").contains(Substring(request.payee.checksummed)) {
            return .refused(.payeeNotAllowed, "\(request.payee) is not an allowed payee of \(id)")
        }
        let total = try amount(row, "total"), perPayment = try amount(row, "perPayment"), perPeriod = try amount(row, "perPeriod")
        var state = AllowanceState(delegationId: id, spent: try amount(row, "spent"), periodIndex: row["periodIndex"], periodSpent: try amount(row, "periodSpent"))
        if request.amount > perPayment { return .refused(.overPerPayment, "\(request.amount) exceeds the per-payment cap \(perPayment)") }
        if state.spent + request.amount > total {
            return .refused(.overTotal, "\(request.amount) exceeds what is left of the total (\(total - state.spent))")
        }
        let period = UInt64(row["period"] as Int64)
        if period > 0 {
            // Periods are aligned to validAfter and reset lazily; a clock that moves back never reopens a spent period.
            let index = Int64((now - validAfter) / period)
            if index > state.periodIndex {
                state.periodIndex = index
                state.periodSpent = 0
            }
            if state.periodSpent + request.amount > perPeriod {
                return .refused(.overPeriod, "\(request.amount) exceeds what is left this period (\(perPeriod - min(perPeriod, state.periodSpent)))")
            }
            state.periodSpent += request.amount
        }
        state.spent += request.amount
        return .allowed(state)
    }

    static func commit(_ state: AllowanceState, _ request: PaymentRequest, db: Database, now: UInt64) throws -> Voucher {
        let token = request.token.checksummed, payee = request.payee.checksummed
        try db.execute(sql: "UPDATE allowance SET spent = ?, periodIndex = ?, periodSpent = ? WHERE delegationId = ? AND token = ?",
                       arguments: [String(state.spent), state.periodIndex, String(state.periodSpent), state.delegationId, token])
        let channel = try Row.fetchOne(db, sql: "SELECT cumulative, sequence FROM channel WHERE delegationId = ? AND payee = ? AND token = ?",
                                       arguments: [state.delegationId, payee, token])
        let cumulative = (try channel.map { try amount($0, "cumulative") } ?? 0) + request.amount
        let sequence = (channel.map { $0["sequence"] as Int64 } ?? 0) + 1
        try db.execute(sql: """
            INSERT INTO channel (delegationId, payee, token, cumulative, sequence) VALUES (?, ?, ?, ?, ?)
            ON CONFLICT (delegationId, payee, token) DO UPDATE SET cumulative = excluded.cumulative, sequence = excluded.sequence
            """, arguments: [state.delegationId, payee, token, String(cumulative), sequence])
        try db.execute(sql: """
            INSERT INTO voucher (idempotencyKey, delegationId, payee, token, amount, cumulative, sequence, memo, createdAt)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
            """, arguments: [request.idempotencyKey, state.delegationId, payee, token, String(request.amount), String(cumulative),
                             sequence, request.memo.hexString, Int64(clamping: now)])
        return Voucher(delegation: try [UInt8](hex: state.delegationId), payee: request.payee, token: request.token,
                       cumulative: cumulative, sequence: UInt64(sequence), memo: request.memo)
    }

    static func amount(_ row: Row, _ column: String) throws -> BigUInt {
        guard let text: String = row[column], let value = BigUInt(text, radix: 10) else {
            throw WalletError.corrupted("column \(column) holds no amount")
        }
        return value
    }

    static func voucherRecord(_ row: Row) throws -> VoucherRecord {
        let voucher = Voucher(
            delegation: try [UInt8](hex: row["delegationId"] as String), payee: try Address(row["payee"] as String),
            token: try Address(row["token"] as String), cumulative: try amount(row, "cumulative"),
            sequence: UInt64(row["sequence"] as Int64), memo: try [UInt8](hex: row["memo"] as String))
        return VoucherRecord(voucher: voucher, amount: try amount(row, "amount"), createdAt: UInt64(row["createdAt"] as Int64),
                             idempotencyKey: row["idempotencyKey"])
    }
}
