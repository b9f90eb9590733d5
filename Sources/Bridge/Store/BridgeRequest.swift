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
