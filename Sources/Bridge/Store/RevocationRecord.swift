import Foundation
import GRDB

/// A revocation the bridge serves to every player (table `revocation`), keyed by its EIP-712 id.
public struct RevocationRecord: Codable, Sendable, FetchableRecord, PersistableRecord {
    public static let databaseTableName = "revocation"

    public var id: Data
    /// The signed Revocation envelope, compact JSON.
    public var envelope: String
    public var addedAt: UInt64
    /// The player that posted it: the bound on revocations is per pairing.
    public var pairing: String?

    public enum Columns {
        static let id = Column(CodingKeys.id)
        static let pairing = Column(CodingKeys.pairing)
        static let addedAt = Column(CodingKeys.addedAt)
    }
}
