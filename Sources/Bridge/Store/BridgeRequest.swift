import Foundation
import GRDB

/// What a player asks the master to sign. Stored as TEXT with a CHECK since migration v2.
public enum RequestKind: String, Codable, Sendable, CaseIterable, DatabaseValueConvertible {
    case delegation, transaction
}

/// Where a request stands: it waits for the user, then is settled once. CHECKed since migration v4.
public enum RequestState: String, Codable, Sendable, CaseIterable, DatabaseValueConvertible {
    case pending, approved, denied, failed, expired
}

/// A delegation or transaction request in the approval queue (table `request`).
public struct BridgeRequest: Codable, Sendable, Identifiable, FetchableRecord, PersistableRecord {
    public static let databaseTableName = "request"

    public var id: String
    public var kind: RequestKind
    public var pairing: String
    /// The request as the bridge parsed it (compact JSON): what the user approves.
    public var body: String
    public var state: RequestState
    public var createdAt: UInt64
    public var expiresAt: UInt64
    public var envelope: String?
    /// The signed transaction (`{"raw", "hash", "from"}`) of an approved transaction request.
    public var transaction: String?
    public var reason: String?
    /// The id of the released delegation: what a revocation may target.
    var delegation: Data?

    enum CodingKeys: String, CodingKey {
        case id, kind, pairing, body, state, createdAt, expiresAt, envelope, reason, delegation
        case transaction = "txResult"
    }

    public enum Columns {
        static let id = Column(CodingKeys.id)
        static let pairing = Column(CodingKeys.pairing)
        static let state = Column(CodingKeys.state)
        static let createdAt = Column(CodingKeys.createdAt)
        static let expiresAt = Column(CodingKeys.expiresAt)
        static let delegation = Column(CodingKeys.delegation)
    }
}

extension BridgeRequest {
    /// Column by column rather than through Codable's decoder (GRDB's `FetchableRecordDecoder`), which
    /// cost more than the SQL on the bridge's reads (ParatiiBench bridge). Same columns, same refusals:
    /// a missing column or a value of the wrong type throws.
    public init(row: Row) throws {
        id = try row.decode(forColumn: CodingKeys.id.rawValue)
        kind = try row.decode(forColumn: CodingKeys.kind.rawValue)
        pairing = try row.decode(forColumn: CodingKeys.pairing.rawValue)
        body = try row.decode(forColumn: CodingKeys.body.rawValue)
        state = try row.decode(forColumn: CodingKeys.state.rawValue)
        createdAt = try row.decode(forColumn: CodingKeys.createdAt.rawValue)
        expiresAt = try row.decode(forColumn: CodingKeys.expiresAt.rawValue)
        envelope = try row.decode(forColumn: CodingKeys.envelope.rawValue)
        transaction = try row.decode(forColumn: CodingKeys.transaction.rawValue)
        reason = try row.decode(forColumn: CodingKeys.reason.rawValue)
        delegation = try row.decode(forColumn: CodingKeys.delegation.rawValue)
    }

    /// Queues the request through a statement compiled once per connection (every request is one).
    func append(_ db: Database) throws {
        try db.cachedStatement(
            sql: """
                INSERT INTO \(Self.databaseTableName)
                    (id, kind, pairing, body, state, createdAt, expiresAt, envelope, txResult, reason, delegation)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                """
        ).execute(arguments: [id, kind, pairing, body, state, createdAt, expiresAt, envelope, transaction, reason, delegation])
    }

    /// Writes what settling changes (state, what it releases, the reason), through a cached statement.
    /// Settling reads the row in the same transaction first, so exactly one row changes.
    func updateSettlement(_ db: Database) throws {
        try db.cachedStatement(
            sql: "UPDATE \(Self.databaseTableName) SET state = ?, envelope = ?, txResult = ?, reason = ?, delegation = ? WHERE id = ?"
        ).execute(arguments: [state, envelope, transaction, reason, delegation, id])
        guard db.changesCount == 1 else {
            throw RecordError.recordNotFound(databaseTableName: Self.databaseTableName, key: ["id": id.databaseValue])
        }
    }

    /// The columns GRDB's Codable encoder would write, written directly (every request change writes them).
    public func encode(to container: inout PersistenceContainer) {
        container[CodingKeys.id.rawValue] = id
        container[CodingKeys.kind.rawValue] = kind
        container[CodingKeys.pairing.rawValue] = pairing
        container[CodingKeys.body.rawValue] = body
        container[CodingKeys.state.rawValue] = state
        container[CodingKeys.createdAt.rawValue] = createdAt
        container[CodingKeys.expiresAt.rawValue] = expiresAt
        container[CodingKeys.envelope.rawValue] = envelope
        container[CodingKeys.transaction.rawValue] = transaction
        container[CodingKeys.reason.rawValue] = reason
        container[CodingKeys.delegation.rawValue] = delegation
    }
}
