import Ethereum
import Foundation
import GRDB

extension BridgeStore {
    /// Pending pairings one peer may have at once, and all peers together (a bound on the table).
    public static let pendingPairingsPerPeer = 4
    public static let pendingPairingsTotal = 256

    /// A pending pairing for `peer`, whose token only the holder of the secret hashing to `secretHash` can claim.
    public func createPairing(
        name: String, secretHash: [UInt8], peer: String, wallet: Address? = nil,
        expiry: UInt64
    ) async throws -> Pairing {
        var generator = SystemRandomNumberGenerator()
        let now = clock()
        let pairing = Pairing(
            id: Self.randomID(), name: name, code: String(format: "%06d", Int.random(in: 0..<1_000_000, using: &generator)),
            state: .pending, createdAt: now, expiresAt: now + expiry, peer: peer, tokenHash: nil,
            secretHash: Data(secretHash), walletAddress: wallet?.checksummed)
        return try await write { db in
            try Self.expireOverdue(db, now: now)
            let pending = Pairing.filter(Pairing.Columns.state == PairingState.pending)
            guard try pending.filter(Pairing.Columns.peer == peer).fetchCount(db) < Self.pendingPairingsPerPeer else {
                throw BridgeStoreError.tooManyPairings(mine: true)
            }
            guard try pending.fetchCount(db) < Self.pendingPairingsTotal else { throw BridgeStoreError.tooManyPairings(mine: false) }
            try pairing.insert(db)
            try Self.audit(
                db, at: now, kind: "pairing.created", subject: pairing.id, pairing: pairing.id, detail: .object(["name": .string(name)]))
            return pairing
        }
    }

    public func pairing(_ id: String) async throws -> Pairing? {
        try await readExpiring { db in try Pairing.fetchOne(db, key: id) }
    }

    public func pairings() async throws -> [Pairing] {
        try await readExpiring { db in try Pairing.order(Pairing.Columns.createdAt).fetchAll(db) }
    }

    /// The pairing `id` as its creator sees it: nil unless `secret` hashes to the one the creator sent.
    public func pairing(_ id: String, secret: String?) async throws -> Pairing? {
        guard let secret else { return nil }
        guard let pairing = try await pairing(id), let expected = pairing.secretHash,
            ConstantTime.equal(Self.tokenHash(secret), expected)
        else { return nil }
        return pairing
    }

    /// Approves or denies a pending pairing (the user, through `paratii approve`).
    public func decidePairing(_ id: String, approve: Bool) async throws {
        let now = clock()
        try await write { db in
            try Self.expireOverdue(db, now: now)
            guard var pairing = try Pairing.fetchOne(db, key: id) else { throw BridgeStoreError.notFound("pairing") }
            guard pairing.state == .pending else { throw BridgeStoreError.settled("pairing", state: pairing.state.rawValue) }
            pairing.state = approve ? .approved : .denied
            try pairing.update(db, columns: [Pairing.Columns.state])
            try Self.audit(db, at: now, kind: "pairing.\(pairing.state.rawValue)", subject: id, pairing: id, detail: .object([:]))
        }
    }

    /// Records the player's wallet address once (its first delegation request's spender).
    static func recordWallet(_ db: Database, _ pairing: String, _ wallet: Address) throws {
        // On every delegation request: a cached statement, compiled once per connection.
        try db.cachedStatement(sql: "UPDATE \(Pairing.databaseTableName) SET wallet = ? WHERE id = ? AND wallet IS NULL")
            .execute(arguments: [wallet.checksummed, pairing])
    }

    /// The token of an approved pairing, made and handed out once; only its SHA-256 is kept.
    public func claimToken(_ id: String) async throws -> String? {
        let now = clock()
        return try await write { db in
            guard var pairing = try Pairing.fetchOne(db, key: id) else { throw BridgeStoreError.notFound("pairing") }
            guard pairing.state == .approved, pairing.tokenHash == nil else { return nil }
            let token = SystemRandom.bytes(32).hexDigits
            pairing.tokenHash = Self.tokenHash(token)
            try pairing.update(db, columns: [Pairing.Columns.tokenHash])
            try Self.audit(db, at: now, kind: "pairing.token-delivered", subject: id, pairing: id, detail: .object([:]))
            return token
        }
    }

    public func revokePairing(_ id: String) async throws {
        let now = clock()
        try await write { db in
            guard var pairing = try Pairing.fetchOne(db, key: id) else { throw BridgeStoreError.notFound("pairing") }
            pairing.state = .revoked
            try pairing.update(db, columns: [Pairing.Columns.state])
            try Self.audit(db, at: now, kind: "pairing.revoked", subject: id, pairing: id, detail: .object([:]))
        }
    }

    /// The pairing a bearer token belongs to, when approved and not revoked: from the token cache, or
    /// read and cached (see TokenCache for why a revocation is never missed).
    public func authenticate(token: String) async throws -> Pairing? {
        let hash = Self.tokenHash(token)
        let (cached, generation) = tokens.lookup(hash)
        if let cached { return cached }
        guard let pairing = try await read({ db in try Self.authenticate(db, tokenHash: hash) }) else { return nil }
        tokens.fill(hash, pairing, readAt: generation)
        return pairing
    }

    static func authenticate(_ db: Database, tokenHash: Data) throws -> Pairing? {
        // A player's every call: a cached statement (the token cache spares most, not those that read in one go).
        try Pairing.fetchOne(
            db.cachedStatement(sql: "SELECT * FROM \(Pairing.databaseTableName) WHERE tokenHash = ? AND state = ?"),
            arguments: [tokenHash, PairingState.approved.rawValue])
    }
}
