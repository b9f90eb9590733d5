import Crypto
import Delegation
import Ethereum
import Foundation
import GRDB
import Storage

/// The bridge's state in SQLite (WAL, synchronous=FULL): pairings, delegation requests, revocations and
/// the hash-chained audit log. Every state change writes its audit entry in the same transaction; the
/// audit sequence number is the bridge's revision, what `GET /v1/events` waits on.
public final class BridgeStore: Sendable {
    public let pool: DatabasePool
    let clock: @Sendable () -> UInt64

    public init(path: String, clock: @escaping @Sendable () -> UInt64 = { UInt64(Date().timeIntervalSince1970) }) throws {
        try PrivateDirectory.createParent(of: path)
        // The state file is never reached through a link someone planted.
        var info = stat()
        if lstat(path, &info) == 0, info.st_mode & S_IFMT != S_IFREG {
            throw BridgeError.io("\(path) is not a regular file (a symlink?): refusing to use it")
        }
        // A damaged file is refused with its path, never repaired or overwritten.
        do { pool = try DurableDatabase.open(path, migrator: Self.migrator) } catch {
            throw BridgeError.io("\(path): \(error); refusing to use or overwrite it")
        }
        chmod(path, 0o600)
        self.clock = clock
    }

    static var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1: pairings, requests, revocations, audit") { db in
            try db.execute(
                sql: """
                    CREATE TABLE pairing (
                        id TEXT PRIMARY KEY, name TEXT NOT NULL, code TEXT NOT NULL,
                        state TEXT NOT NULL, tokenHash BLOB UNIQUE, createdAt INTEGER NOT NULL, expiresAt INTEGER NOT NULL);
                    CREATE TABLE request (
                        id TEXT PRIMARY KEY, pairing TEXT NOT NULL REFERENCES pairing(id), body TEXT NOT NULL,
                        state TEXT NOT NULL, createdAt INTEGER NOT NULL, expiresAt INTEGER NOT NULL,
                        envelope TEXT, reason TEXT);
                    CREATE INDEX request_state ON request(state);
                    CREATE TABLE revocation (id BLOB PRIMARY KEY, envelope TEXT NOT NULL, addedAt INTEGER NOT NULL);
                    CREATE TABLE audit (
                        seq INTEGER PRIMARY KEY, at INTEGER NOT NULL, kind TEXT NOT NULL, subject TEXT NOT NULL,
                        pairing TEXT, detail TEXT NOT NULL, signatureCounter INTEGER,
                        previous BLOB NOT NULL, hash BLOB NOT NULL);
                    """)
        }
        // Master-signed transactions (top-ups) wait in the same queue as delegations; `txResult` holds
        // the signed transaction once approved.
        migrator.registerMigration("v2: transaction requests") { db in
            try db.execute(
                sql: """
                    ALTER TABLE request ADD COLUMN kind TEXT NOT NULL DEFAULT 'delegation' CHECK (kind IN ('delegation', 'transaction'));
                    ALTER TABLE request ADD COLUMN txResult TEXT;
                    """)
        }
        // A pairing's token goes only to its creator (who proves it with the secret whose SHA-256 it sent);
        // pending pairings are limited per peer; a top-up goes to the pairing's wallet unless the user confirms.
        migrator.registerMigration("v3: pairing secret, peer, wallet") { db in
            try db.execute(
                sql: """
                    ALTER TABLE pairing ADD COLUMN secretHash BLOB CHECK (secretHash IS NULL OR length(secretHash) = 32);
                    ALTER TABLE pairing ADD COLUMN peer TEXT NOT NULL DEFAULT '';
                    ALTER TABLE pairing ADD COLUMN wallet TEXT CHECK (wallet IS NULL OR length(wallet) = 42);
                    ALTER TABLE request ADD COLUMN delegation BLOB CHECK (delegation IS NULL OR length(delegation) = 32);
                    CREATE INDEX request_delegation ON request(delegation);
                    ALTER TABLE revocation ADD COLUMN pairing TEXT;
                    """)
        }
        return migrator
    }

    // MARK: Audit

    public struct AuditEntry: Sendable {
        public var seq: Int64
        public var at: UInt64
        public var kind: String
        public var subject: String
        public var pairing: String?
        public var detail: String
        public var signatureCounter: Int?
        public var previous: [UInt8]
        public var hash: [UInt8]

        /// sha256(previous ‖ canonical JSON of the entry without its hash).
        public func computedHash() -> [UInt8] {
            let body: JSONValue = .object([
                "seq": .number("\(seq)"), "at": .number("\(at)"), "kind": .string(kind), "subject": .string(subject),
                "pairing": pairing.map { .string($0) } ?? .null, "detail": .string(detail),
                "signatureCounter": signatureCounter.map { .number("\($0)") } ?? .null,
            ])
            var hasher = SHA256()
            hasher.update(data: previous)
            hasher.update(data: Array(body.compactText.utf8))
            return Array(hasher.finalize())
        }
    }

    @discardableResult
    static func audit(
        _ db: Database, at: UInt64, kind: String, subject: String, pairing: String?, detail: JSONValue,
        signatureCounter: Int? = nil
    ) throws -> Int64 {
        let last = try Row.fetchOne(db, sql: "SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1")
        let seq: Int64 = (last?["seq"] as Int64? ?? 0) + 1
        let previous: [UInt8] = last.map { Array(($0["hash"] as Data)) } ?? [UInt8](repeating: 0, count: 32)
        var entry = AuditEntry(
            seq: seq, at: at, kind: kind, subject: subject, pairing: pairing, detail: detail.compactText,
            signatureCounter: signatureCounter, previous: previous, hash: [])
        entry.hash = entry.computedHash()
        try db.execute(
            sql: "INSERT INTO audit (seq, at, kind, subject, pairing, detail, signatureCounter, previous, hash) VALUES (?,?,?,?,?,?,?,?,?)",
            arguments: [seq, Int64(at), kind, subject, pairing, entry.detail, signatureCounter, Data(previous), Data(entry.hash)])
        return seq
    }

    public func auditEntries() throws -> [AuditEntry] {
        try pool.read { db in
            try Row.fetchAll(db, sql: "SELECT * FROM audit ORDER BY seq").map { row in
                AuditEntry(
                    seq: row["seq"], at: UInt64(row["at"] as Int64), kind: row["kind"], subject: row["subject"],
                    pairing: row["pairing"], detail: row["detail"], signatureCounter: row["signatureCounter"],
                    previous: Array(row["previous"] as Data), hash: Array(row["hash"] as Data))
            }
        }
    }

    /// The audit chain's check: each entry's hash and link; signature counters that skip values.
    public struct AuditReport: Sendable {
        public var entries = 0
        public var signatures = 0
        public var broken: [String] = []
        public var counterGaps: [String] = []
    }

    public func verifyAudit() throws -> AuditReport {
        var report = AuditReport()
        var previous = [UInt8](repeating: 0, count: 32)
        var expectedSeq: Int64 = 1
        var lastCounter: Int?
        for entry in try auditEntries() {
            report.entries += 1
            if entry.seq != expectedSeq { report.broken.append("entry \(entry.seq): expected sequence \(expectedSeq) (entries removed)") }
            if entry.previous != previous { report.broken.append("entry \(entry.seq): does not link to the entry before it") }
            if entry.computedHash() != entry.hash { report.broken.append("entry \(entry.seq): hash does not match its content (altered)") }
            if let counter = entry.signatureCounter {
                report.signatures += 1
                if let lastCounter, counter != lastCounter + 1 {
                    report.counterGaps.append(
                        counter > lastCounter
                            ? "before entry \(entry.seq): the card made \(counter - lastCounter - 1) signature(s) outside the bridge (counter \(lastCounter) → \(counter))"
                            : "entry \(entry.seq): the card's counter went back (\(lastCounter) → \(counter)): another card, or a reset")
                }
                lastCounter = counter
            }
            previous = entry.hash
            expectedSeq = entry.seq + 1
        }
        return report
    }

    public func revision() throws -> Int64 {
        try pool.read { db in try Int64.fetchOne(db, sql: "SELECT COALESCE(MAX(seq), 0) FROM audit") ?? 0 }
    }

    // MARK: Pairings

    public struct Pairing: Sendable {
        public var id: String
        public var name: String
        public var code: String
        public var state: String
        public var delivered: Bool
        public var createdAt: UInt64
        public var expiresAt: UInt64
        /// Who created it (`uid:N` on the Unix socket, `origin:…` on TCP): limits are per peer.
        public var peer: String
        /// The player's wallet address, from the pairing or its first delegation request: top-ups go there.
        public var wallet: Address?

        init(_ row: Row) {
            id = row["id"]; name = row["name"]; code = row["code"]; state = row["state"]; peer = row["peer"]
            wallet = (row["wallet"] as String?).flatMap { try? Address($0) }
            delivered = (row["tokenHash"] as Data?) != nil
            createdAt = UInt64(row["createdAt"] as Int64); expiresAt = UInt64(row["expiresAt"] as Int64)
        }

        public var json: JSONValue {
            var object: JSONObject = [
                "id": .string(id), "name": .string(name), "code": .string(code), "state": .string(state),
                "tokenDelivered": .bool(delivered), "createdAt": .number("\(createdAt)"), "expiresAt": .number("\(expiresAt)"),
            ]
            if let wallet { object["wallet"] = .string(wallet.checksummed) }
            return .object(object)
        }
    }

    public static func randomID() -> String {
        var generator = SystemRandomNumberGenerator()
        return (0..<16).map { _ in UInt8.random(in: 0...255, using: &generator) }.hexDigits
    }

    public static func tokenHash(_ token: String) -> Data { Data(SHA256.hash(data: Array(token.utf8))) }

    /// Pending pairings one peer may have at once, and all peers together (a bound on the table).
    public static let pendingPairingsPerPeer = 4
    public static let pendingPairingsTotal = 256

    /// A pending pairing for `peer`, whose token only the holder of the secret hashing to `secretHash` can claim.
    public func createPairing(name: String, secretHash: [UInt8], peer: String, wallet: Address? = nil, expiry: UInt64) throws -> Pairing {
        try expirePending()
        var generator = SystemRandomNumberGenerator()
        let code = String(format: "%06d", Int.random(in: 0..<1_000_000, using: &generator))
        let id = Self.randomID()
        let now = clock()
        return try pool.write { db in
            let mine =
                try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM pairing WHERE state = 'pending' AND peer = ?", arguments: [peer]) ?? 0
            guard mine < Self.pendingPairingsPerPeer else {
                throw APIError(429, "too_many_pairings", "too many of your pairings wait for approval")
            }
            let all = try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM pairing WHERE state = 'pending'") ?? 0
            guard all < Self.pendingPairingsTotal else { throw APIError(429, "too_many_pairings", "too many pairings wait for approval") }
            try db.execute(
                sql:
                    "INSERT INTO pairing (id, name, code, state, createdAt, expiresAt, secretHash, peer, wallet) VALUES (?,?,?,?,?,?,?,?,?)",
                arguments: [id, name, code, "pending", Int64(now), Int64(now + expiry), Data(secretHash), peer, wallet?.checksummed])
            try Self.audit(db, at: now, kind: "pairing.created", subject: id, pairing: id, detail: .object(["name": .string(name)]))
            return Pairing(try Row.fetchOne(db, sql: "SELECT * FROM pairing WHERE id = ?", arguments: [id])!)
        }
    }

    public func pairing(_ id: String) throws -> Pairing? {
        try expirePending()
        return try pool.read { db in try Row.fetchOne(db, sql: "SELECT * FROM pairing WHERE id = ?", arguments: [id]).map(Pairing.init) }
    }

    public func pairings() throws -> [Pairing] {
        try expirePending()
        return try pool.read { db in try Row.fetchAll(db, sql: "SELECT * FROM pairing ORDER BY createdAt").map(Pairing.init) }
    }

    /// Approves or denies a pending pairing (the user, through `paratii approve`).
    public func decidePairing(_ id: String, approve: Bool) throws(APIError) {
        try wrap {
            try pool.write { db in
                guard let row = try Row.fetchOne(db, sql: "SELECT state FROM pairing WHERE id = ?", arguments: [id]) else {
                    throw APIError.notFound("pairing")
                }
                guard row["state"] as String == "pending" else { throw APIError.conflict("pairing is \(row["state"] as String)") }
                let state = approve ? "approved" : "denied"
                try db.execute(sql: "UPDATE pairing SET state = ? WHERE id = ?", arguments: [state, id])
                try Self.audit(db, at: clock(), kind: "pairing.\(state)", subject: id, pairing: id, detail: .object([:]))
            }
        }
    }

    /// The pairing `id` as its creator sees it: nil unless `secret` hashes to the one the creator sent.
    public func pairing(_ id: String, secret: String?) throws -> Pairing? {
        try expirePending()
        return try pool.read { db in
            guard let row = try Row.fetchOne(db, sql: "SELECT * FROM pairing WHERE id = ?", arguments: [id]),
                let secret, let expected = row["secretHash"] as Data?,
                ConstantTime.equal(Self.tokenHash(secret), expected)
            else { return nil }
            return Pairing(row)
        }
    }

    /// Records the player's wallet address once (its first delegation request's spender).
    public func recordWallet(_ pairing: String, _ wallet: Address) throws {
        try pool.write { db in
            try db.execute(sql: "UPDATE pairing SET wallet = ? WHERE id = ? AND wallet IS NULL", arguments: [wallet.checksummed, pairing])
        }
    }

    /// The token of an approved pairing, made and handed out once; only its SHA-256 is kept.
    public func claimToken(_ id: String) throws(APIError) -> String? {
        try wrap {
            try pool.write { db in
                guard let row = try Row.fetchOne(db, sql: "SELECT state, tokenHash FROM pairing WHERE id = ?", arguments: [id]) else {
                    throw APIError.notFound("pairing")
                }
                guard row["state"] as String == "approved", (row["tokenHash"] as Data?) == nil else { return nil }
                var generator = SystemRandomNumberGenerator()
                let token = (0..<32).map { _ in UInt8.random(in: 0...255, using: &generator) }.hexDigits
                try db.execute(sql: "UPDATE pairing SET tokenHash = ? WHERE id = ?", arguments: [Self.tokenHash(token), id])
                try Self.audit(db, at: clock(), kind: "pairing.token-delivered", subject: id, pairing: id, detail: .object([:]))
                return token
            }
        }
    }

    public func revokePairing(_ id: String) throws(APIError) {
        try wrap {
            try pool.write { db in
                guard try Row.fetchOne(db, sql: "SELECT state FROM pairing WHERE id = ?", arguments: [id]) != nil else {
                    throw APIError.notFound("pairing")
                }
                try db.execute(sql: "UPDATE pairing SET state = 'revoked' WHERE id = ?", arguments: [id])
                try Self.audit(db, at: clock(), kind: "pairing.revoked", subject: id, pairing: id, detail: .object([:]))
            }
        }
    }

    /// The pairing a bearer token belongs to, when approved and not revoked.
    public func authenticate(token: String) throws -> Pairing? {
        try pool.read { db in
            try Row.fetchOne(
                db, sql: "SELECT * FROM pairing WHERE tokenHash = ? AND state = 'approved'", arguments: [Self.tokenHash(token)]
            ).map(Pairing.init)
        }
    }

    // MARK: Delegation requests

    public struct Request: Sendable {
        public var id: String
        /// "delegation" or "transaction".
        public var kind: String
        public var pairing: String
        public var body: String
        public var state: String
        public var createdAt: UInt64
        public var expiresAt: UInt64
        public var envelope: String?
        /// The signed transaction (`{"raw", "hash", "from"}`) of an approved transaction request.
        public var transaction: String?
        public var reason: String?

        init(_ row: Row) {
            id = row["id"]; kind = row["kind"]; pairing = row["pairing"]; body = row["body"]; state = row["state"]
            transaction = row["txResult"]
            createdAt = UInt64(row["createdAt"] as Int64); expiresAt = UInt64(row["expiresAt"] as Int64)
            envelope = row["envelope"]; reason = row["reason"]
        }
    }

    public func createRequest(pairing: String, body: JSONValue, expiry: UInt64, kind: String = "delegation") throws -> Request {
        let id = Self.randomID()
        let now = clock()
        return try pool.write { db in
            try db.execute(
                sql: "INSERT INTO request (id, kind, pairing, body, state, createdAt, expiresAt) VALUES (?,?,?,?,?,?,?)",
                arguments: [id, kind, pairing, body.compactText, "pending", Int64(now), Int64(now + expiry)])
            try Self.audit(db, at: now, kind: "request.pending", subject: id, pairing: pairing, detail: body)
            return Request(try Row.fetchOne(db, sql: "SELECT * FROM request WHERE id = ?", arguments: [id])!)
        }
    }

    /// Marks overdue pending requests and pairings expired (each with its audit entry).
    public func expirePending() throws {
        let now = clock()
        let overdue = try pool.read { db in
            (
                try String.fetchAll(db, sql: "SELECT id FROM request WHERE state = 'pending' AND expiresAt <= ?", arguments: [Int64(now)]),
                try String.fetchAll(db, sql: "SELECT id FROM pairing WHERE state = 'pending' AND expiresAt <= ?", arguments: [Int64(now)])
            )
        }
        guard !overdue.0.isEmpty || !overdue.1.isEmpty else { return }
        try pool.write { db in
            for id in overdue.0 {
                guard
                    let pairing = try String.fetchOne(
                        db, sql: "SELECT pairing FROM request WHERE id = ? AND state = 'pending'", arguments: [id])
                else { continue }
                try db.execute(sql: "UPDATE request SET state = 'expired' WHERE id = ?", arguments: [id])
                try Self.audit(db, at: now, kind: "request.expired", subject: id, pairing: pairing, detail: .object([:]))
            }
            for id in overdue.1 {
                guard try Bool.fetchOne(db, sql: "SELECT state = 'pending' FROM pairing WHERE id = ?", arguments: [id]) == true else {
                    continue
                }
                try db.execute(sql: "UPDATE pairing SET state = 'expired' WHERE id = ?", arguments: [id])
                try Self.audit(db, at: now, kind: "pairing.expired", subject: id, pairing: id, detail: .object([:]))
            }
        }
    }

    public func request(_ id: String) throws -> Request? {
        try expirePending()
        return try pool.read { db in try Row.fetchOne(db, sql: "SELECT * FROM request WHERE id = ?", arguments: [id]).map(Request.init) }
    }

    public func requests(state: String? = nil) throws -> [Request] {
        try expirePending()
        return try pool.read { db in
            if let state {
                return try Row.fetchAll(db, sql: "SELECT * FROM request WHERE state = ? ORDER BY createdAt", arguments: [state]).map(
                    Request.init)
            }
            return try Row.fetchAll(db, sql: "SELECT * FROM request ORDER BY createdAt").map(Request.init)
        }
    }

    /// Settles a pending request: approved (with its envelope or signed transaction and the card's signature
    /// counter), denied or failed.
    public func settle(
        _ id: String, state: String, envelope: String? = nil, transaction: JSONValue? = nil, reason: String? = nil,
        signatureCounter: Int? = nil
    ) throws(APIError) {
        try expire()
        try wrap {
            try pool.write { db in
                guard let row = try Row.fetchOne(db, sql: "SELECT state, pairing FROM request WHERE id = ?", arguments: [id]) else {
                    throw APIError.notFound("request")
                }
                guard row["state"] as String == "pending" else { throw APIError.conflict("request is \(row["state"] as String)") }
                let released = envelope.flatMap { try? JSONValue.parse($0) }.flatMap { try? Envelope(json: $0).id }
                try db.execute(
                    sql: "UPDATE request SET state = ?, envelope = ?, txResult = ?, reason = ?, delegation = ? WHERE id = ?",
                    arguments: [state, envelope, transaction?.compactText, reason, released.map { Data($0) }, id])
                var detail: JSONObject = [:]
                if let reason { detail["reason"] = .string(reason) }
                if let hash = transaction?["hash"] { detail["transaction"] = hash }
                if let released { detail["delegation"] = .string(released.hexString) }
                try Self.audit(
                    db, at: clock(), kind: "request.\(state)", subject: id, pairing: row["pairing"], detail: .object(detail),
                    signatureCounter: signatureCounter)
            }
        }
    }

    private func expire() throws(APIError) { try wrap { try expirePending() } }

    // MARK: Revocations

    /// Revocations one player may post, and all together: the list every player downloads stays small.
    public static let revocationsPerPairing = 64
    public static let revocationsTotal = 4096

    /// Whether this bridge released the delegation `id` (an approved request's envelope).
    public func released(_ id: [UInt8]) throws -> Bool {
        try pool.read { db in
            try Bool.fetchOne(db, sql: "SELECT 1 FROM request WHERE delegation = ? AND state = 'approved'", arguments: [Data(id)]) == true
        }
    }

    public func addRevocation(id: [UInt8], envelope: JSONValue, pairing: String?) throws {
        try pool.write { db in
            guard try Bool.fetchOne(db, sql: "SELECT 1 FROM revocation WHERE id = ?", arguments: [Data(id)]) == nil else { return }
            let mine = try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM revocation WHERE pairing IS ?", arguments: [pairing]) ?? 0
            let all = try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM revocation") ?? 0
            guard mine < Self.revocationsPerPairing, all < Self.revocationsTotal else {
                throw APIError(429, "too_many_revocations", "the bridge holds as many revocations as it keeps")
            }
            try db.execute(
                sql: "INSERT INTO revocation (id, envelope, addedAt, pairing) VALUES (?,?,?,?)",
                arguments: [Data(id), envelope.compactText, Int64(clock()), pairing])
            try Self.audit(db, at: clock(), kind: "revocation.added", subject: id.hexString, pairing: pairing, detail: .object([:]))
        }
    }

    public func revocations() throws -> [String] {
        try pool.read { db in try String.fetchAll(db, sql: "SELECT envelope FROM revocation ORDER BY addedAt, id") }
    }

    // MARK: Events

    public static let eventPage = 500

    /// A reader or card change (no pairing: every player sees it).
    public func recordTokenEvent(kind: String, subject: String, detail: JSONValue = .object([:])) throws {
        _ = try pool.write { db in try Self.audit(db, at: clock(), kind: kind, subject: subject, pairing: nil, detail: detail) }
    }

    /// Request state changes after `since` for one pairing's requests (and its own pairing changes).
    public func events(since: Int64, pairing: String) throws -> [JSONValue] {
        try pool.read { db in
            try Row.fetchAll(
                db,
                sql:
                    "SELECT seq, kind, subject FROM audit WHERE seq > ? AND (pairing = ? OR (pairing IS NULL AND kind LIKE 'token.%')) ORDER BY seq LIMIT \(Self.eventPage)",
                arguments: [since, pairing]
            ).map { row -> JSONValue in
                JSONValue.object([
                    "revision": .number("\(row["seq"] as Int64)"), "type": .string(row["kind"]), "id": .string(row["subject"]),
                ])
            }
        }
    }

    private func wrap<T>(_ body: () throws -> T) throws(APIError) -> T {
        do { return try body() } catch let error as APIError { throw error } catch { throw APIError(500, "internal", "storage: \(error)") }
    }
}
