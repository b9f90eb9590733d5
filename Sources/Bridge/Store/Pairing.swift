import Ethereum
import Foundation
import GRDB

/// Where a pairing stands. Stored as TEXT; migration v4's CHECK refuses anything else.
public enum PairingState: String, Codable, Sendable, CaseIterable, DatabaseValueConvertible {
    case pending, approved, denied, revoked, expired
}

/// A player's pairing (table `pairing`): who asked, the check code shown to the user, and the SHA-256 of
/// its token once handed out. The token and the creator's secret are never stored, only their hashes.
public struct Pairing: Codable, Sendable, Identifiable, FetchableRecord, PersistableRecord {
    public static let databaseTableName = "pairing"

    public var id: String
    public var name: String
    public var code: String
    public var state: PairingState
    public var createdAt: UInt64
    public var expiresAt: UInt64
    /// Who created it (`uid:N` on the Unix socket, `origin:…` on TCP): limits are per peer.
    public var peer: String
    var tokenHash: Data?
    var secretHash: Data?
    /// Checksummed: the player's wallet, from the pairing or its first delegation request; top-ups go there.
    var walletAddress: String?

    enum CodingKeys: String, CodingKey {
        case id, name, code, state, createdAt, expiresAt, peer, tokenHash, secretHash
        case walletAddress = "wallet"
    }

    public enum Columns {
        static let id = Column(CodingKeys.id)
        static let state = Column(CodingKeys.state)
        static let peer = Column(CodingKeys.peer)
        static let tokenHash = Column(CodingKeys.tokenHash)
        static let wallet = Column(CodingKeys.walletAddress)
        static let createdAt = Column(CodingKeys.createdAt)
        static let expiresAt = Column(CodingKeys.expiresAt)
    }

    public var wallet: Address? { walletAddress.flatMap { try? Address($0) } }
    /// Whether its token was handed out (it is, once, to the creator).
    public var delivered: Bool { tokenHash != nil }

    public var json: JSONValue {
        var object: JSONObject = [
            "id": .string(id), "name": .string(name), "code": .string(code), "state": .string(state.rawValue),
            "tokenDelivered": .bool(delivered), "createdAt": .number("\(createdAt)"), "expiresAt": .number("\(expiresAt)"),
        ]
        if let wallet { object["wallet"] = .string(wallet.checksummed) }
        return .object(object)
    }
}

extension Pairing {
    /// Column by column, not through Codable's decoder (see BridgeRequest's).
    public init(row: Row) throws {
        id = try row.decode(forColumn: CodingKeys.id.rawValue)
        name = try row.decode(forColumn: CodingKeys.name.rawValue)
        code = try row.decode(forColumn: CodingKeys.code.rawValue)
        state = try row.decode(forColumn: CodingKeys.state.rawValue)
        createdAt = try row.decode(forColumn: CodingKeys.createdAt.rawValue)
        expiresAt = try row.decode(forColumn: CodingKeys.expiresAt.rawValue)
        peer = try row.decode(forColumn: CodingKeys.peer.rawValue)
        tokenHash = try row.decode(forColumn: CodingKeys.tokenHash.rawValue)
        secretHash = try row.decode(forColumn: CodingKeys.secretHash.rawValue)
        walletAddress = try row.decode(forColumn: CodingKeys.walletAddress.rawValue)
    }
}
