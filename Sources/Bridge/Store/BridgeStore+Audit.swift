import Ethereum
import Foundation
import GRDB

extension BridgeStore {
    /// Appends an entry linked to the last one, inside the caller's transaction.
    @discardableResult
    static func audit(
        _ db: Database, at: UInt64, kind: String, subject: String, pairing: String?, detail: JSONValue,
        signatureCounter: Int? = nil
    ) throws -> Int64 {
        try audit(
            db, at: at, kind: kind, subject: subject, pairing: pairing, detailText: detail.compactText, signatureCounter: signatureCounter)
    }

    /// The same with the detail already written as compact JSON (a request's body: written once for both).
    @discardableResult
    static func audit(
        _ db: Database, at: UInt64, kind: String, subject: String, pairing: String?, detailText: String,
        signatureCounter: Int? = nil
    ) throws -> Int64 {
        // Every change appends one: a cached statement, compiled once per connection.
        let last = try Row.fetchOne(
            db.cachedStatement(sql: "SELECT seq, hash FROM \(AuditEntry.databaseTableName) ORDER BY seq DESC LIMIT 1"))
        var entry = AuditEntry(
            seq: (last?["seq"] as Int64? ?? 0) + 1, at: at, kind: kind, subject: subject, pairing: pairing,
            detail: detailText, signatureCounter: signatureCounter,
            previous: last?["hash"] as Data? ?? Data(count: 32), hash: Data())
        entry.hash = entry.computedHash()
        try entry.append(db)
        return entry.seq
    }

    public func auditEntries() async throws -> [AuditEntry] {
        try await read { db in try AuditEntry.order(AuditEntry.Columns.seq).fetchAll(db) }
    }

    /// Recomputes the chain: altered or removed entries, and signature-counter gaps.
    public func verifyAudit() async throws -> AuditReport {
        AuditReport(try await auditEntries())
    }
}
