import Delegation
import Ethereum
import Foundation
import GRDB
import Storage

/// The institution's record of who holds which card: its policy, every attestation it signed and
/// every revocation. One SQLite file, 0600, schema checked by CHECK constraints.
public final class Roster: Sendable {
    public let path: String
    public let policy: Policy
    private let database: DatabasePool

    private init(path: String, database: DatabasePool, policy: Policy) {
        self.path = path; self.database = database; self.policy = policy
    }

    /// Creates the roster file (refusing an existing one) and records the policy.
    public static func create(path: String, policy: Policy, now: UInt64) throws(InstitutionError) -> Roster {
        // Created 0600 by us, not by SQLite, so the file never exists with wider permissions.
        let fd = Foundation.open(path, O_CREAT | O_EXCL | O_WRONLY, 0o600)
        guard fd >= 0 else {
            if errno == EEXIST { throw .rosterExists(path) }
            throw .storage("cannot create \(path): \(String(cString: strerror(errno)))")
        }
        close(fd)
        do {
            let database = try openDatabase(path)
            try database.write { db in
                try db.execute(
                    sql: "INSERT INTO institution (id, address, ceiling, attestationLifetime, createdAt) VALUES (1, ?, ?, ?, ?)",
                    arguments: [
                        policy.institution.checksummed, JSONValue.array(policy.ceiling.map(\.json)).compactText,
                        Int64(clamping: policy.attestationLifetime), Int64(clamping: now),
                    ])
            }
            return Roster(path: path, database: database, policy: policy)
        } catch {
            try? FileManager.default.removeItem(atPath: path)
            throw .storage("\(error)")
        }
    }

    public static func open(path: String) throws(InstitutionError) -> Roster {
        guard FileManager.default.fileExists(atPath: path) else { throw .rosterMissing(path) }
        do {
            let database = try openDatabase(path)
            let policy = try database.read { db -> Policy in
                guard let row = try Row.fetchOne(db, sql: "SELECT * FROM institution WHERE id = 1") else {
                    throw InstitutionError.storage("\(path) has no institution")
                }
                return try Policy(
                    institution: try Address(row["address"] as String), ceiling: try allowances(row["ceiling"]),
                    attestationLifetime: UInt64(row["attestationLifetime"] as Int64))
            }
            return Roster(path: path, database: database, policy: policy)
        } catch let error as InstitutionError {
            throw error
        } catch {
            throw .storage("\(path): \(error)")
        }
    }

    // MARK: - Cards

    public func cards() throws(InstitutionError) -> [CardRecord] {
        try fetch("SELECT * FROM card ORDER BY enrolledAt, serial", [])
    }

    /// The unrevoked card with this serial, if any (at most one, by the schema).
    public func liveCard(serial: String) throws(InstitutionError) -> CardRecord? {
        try fetch("SELECT * FROM card WHERE serial = ? AND revokedAt IS NULL", [serial]).first
    }

    public func liveCards(holder: String) throws(InstitutionError) -> [CardRecord] {
        try fetch("SELECT * FROM card WHERE holder = ? AND revokedAt IS NULL ORDER BY enrolledAt", [holder])
    }

    /// Records a new enrollment and, for a re-enrolled card, the revocation of its previous
    /// attestation: both or neither.
    public func record(_ card: CardRecord, revoking previous: (record: CardRecord, revocation: Envelope)? = nil) throws(InstitutionError) {
        guard card.revocation == nil else { throw .invalid("a new enrollment cannot already be revoked") }
        try write { db in
            if let previous { try Self.markRevoked(db, previous.record, previous.revocation) }
            try db.execute(
                sql: """
                    INSERT INTO card (attestationId, serial, holder, master, ceiling, validUntil, enrolledAt, attestation)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?)
                    """,
                arguments: [
                    card.attestationId.hexString, card.serial, card.holder, card.master.checksummed,
                    JSONValue.array(card.ceiling.map(\.json)).compactText, Int64(clamping: card.validUntil),
                    Int64(clamping: card.enrolledAt), card.attestation.json.compactText,
                ])
        }
    }

    /// Marks a card revoked with the institution's signed revocation of its attestation.
    public func revoke(_ card: CardRecord, with revocation: Envelope) throws(InstitutionError) {
        try write { db in try Self.markRevoked(db, card, revocation) }
    }

    /// Every revocation the institution signed, as the list payees load.
    public func revocationList() throws(InstitutionError) -> RevocationList {
        var list = RevocationList()
        for card in try cards() {
            if let revocation = card.revocation, let refusal = list.add(revocation) { throw .storage(refusal) }
        }
        return list
    }

    // MARK: - Storage

    private static func markRevoked(_ db: Database, _ card: CardRecord, _ revocation: Envelope) throws {
        guard case .revocation(let body) = revocation.message, body.target == card.attestationId else {
            throw InstitutionError.invalid("the revocation does not name card \(card.serial)'s attestation")
        }
        try db.execute(
            sql: "UPDATE card SET revokedAt = ?, revocation = ? WHERE attestationId = ? AND revokedAt IS NULL",
            arguments: [Int64(clamping: body.issuedAt), revocation.json.compactText, card.attestationId.hexString])
        guard db.changesCount == 1 else { throw InstitutionError.noSuchCard("attestation \(card.attestationId.hexString)") }
    }

    private func write(_ body: (Database) throws -> Void) throws(InstitutionError) {
        do { try database.write(body) } catch let error as InstitutionError {
            throw error
        } catch let error as DatabaseError
            where error.extendedResultCode == .SQLITE_CONSTRAINT_UNIQUE || error.extendedResultCode == .SQLITE_CONSTRAINT_PRIMARYKEY
        {
            throw .invalid("the roster already holds this card or attestation: \(error.message ?? "")")
        } catch {
            throw .storage("\(error)")
        }
    }

    private func fetch(_ sql: String, _ arguments: StatementArguments) throws(InstitutionError) -> [CardRecord] {
        do {
            return try database.read { db in try Row.fetchAll(db, sql: sql, arguments: arguments).map(Self.record) }
        } catch let error as InstitutionError {
            throw error
        } catch {
            throw .storage("\(error)")
        }
    }

    private static func record(_ row: Row) throws -> CardRecord {
        CardRecord(
            serial: row["serial"], holder: row["holder"], master: try Address(row["master"] as String),
            ceiling: try allowances(row["ceiling"]), validUntil: UInt64(row["validUntil"] as Int64),
            enrolledAt: UInt64(row["enrolledAt"] as Int64), attestation: try Envelope(parsing: Array((row["attestation"] as String).utf8)),
            revokedAt: (row["revokedAt"] as Int64?).map(UInt64.init),
            revocation: try (row["revocation"] as String?).map { try Envelope(parsing: Array($0.utf8)) })
    }

    private static func allowances(_ text: String) throws -> [Allowance] {
        guard case .array(let items) = try JSONValue.parse(Array(text.utf8)) else {
            throw InstitutionError.storage("a ceiling is not a JSON array")
        }
        return try Allowance.parseList(items, context: "ceiling")
    }

    /// The one durable open every store uses (WAL checked, synchronous=FULL asserted).
    static func openDatabase(_ path: String) throws -> DatabasePool {
        let database = try DurableDatabase.open(path, migrator: migrator)
        chmod(path, 0o600)
        return database
    }

    static var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1-roster") { db in
            try db.execute(
                sql: """
                    CREATE TABLE institution (
                        id INTEGER PRIMARY KEY CHECK (id = 1),
                        address TEXT NOT NULL CHECK (length(address) = 42 AND address GLOB '0x*'),
                        ceiling TEXT NOT NULL CHECK (json_valid(ceiling) AND json_type(ceiling) = 'array' AND json_array_length(ceiling) > 0),
                        attestationLifetime INTEGER NOT NULL CHECK (attestationLifetime > 0),
                        createdAt INTEGER NOT NULL CHECK (createdAt >= 0)
                    );
                    CREATE TABLE card (
                        attestationId TEXT PRIMARY KEY NOT NULL CHECK (length(attestationId) = 66),
                        serial TEXT NOT NULL CHECK (length(serial) > 0),
                        holder TEXT NOT NULL CHECK (length(trim(holder)) > 0),
                        master TEXT NOT NULL CHECK (length(master) = 42 AND master GLOB '0x*'),
                        ceiling TEXT NOT NULL CHECK (json_valid(ceiling) AND json_type(ceiling) = 'array' AND json_array_length(ceiling) > 0),
                        validUntil INTEGER NOT NULL CHECK (validUntil > enrolledAt),
                        enrolledAt INTEGER NOT NULL CHECK (enrolledAt >= 0),
                        attestation TEXT NOT NULL CHECK (json_valid(attestation)),
                        revokedAt INTEGER CHECK (revokedAt IS NULL OR revokedAt >= 0),
                        revocation TEXT CHECK (revocation IS NULL OR json_valid(revocation)),
                        CHECK ((revokedAt IS NULL) = (revocation IS NULL))
                    );
                    -- A card serial is enrolled at most once at a time; re-enrolling revokes the old attestation.
                    CREATE UNIQUE INDEX card_live_serial ON card (serial) WHERE revokedAt IS NULL;
                    CREATE INDEX card_holder ON card (holder);
                    """)
        }
        return migrator
    }
}
