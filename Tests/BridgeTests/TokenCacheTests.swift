import Foundation
import GRDB
import Testing

@testable import Bridge

/// The token → pairing cache that spares each authenticated request a read: a revocation, or any other
/// change to a pairing, takes effect for the very next request, and a read racing a revocation cannot
/// put the revoked pairing back.
@Suite struct TokenCacheTests {
    /// An approved pairing and its token, on a fresh store.
    static func paired() async throws -> (BridgeStore, Pairing, String, String) {
        let directory = try StoreTests.directory()
        let store = try BridgeStore(path: directory + "/bridge.sqlite")
        let pairing = try await store.createPairing(name: "p", secretHash: [UInt8](repeating: 1, count: 32), peer: "uid:0", expiry: 60)
        try await store.decidePairing(pairing.id, approve: true)
        let token = try #require(try await store.claimToken(pairing.id))
        return (store, pairing, token, directory)
    }

    @Test func revokingTakesEffectForTheNextRequest() async throws {
        let (store, pairing, token, directory) = try await Self.paired()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        #expect(try await store.authenticate(token: token)?.id == pairing.id)
        // Served from the cache from now on: a second lookup reads nothing.
        #expect(store.tokens.count == 1)
        #expect(store.tokens.lookup(BridgeStore.tokenHash(token)).pairing?.id == pairing.id)
        try await store.revokePairing(pairing.id)
        #expect(store.tokens.count == 0)
        #expect(try await store.authenticate(token: token) == nil)
        #expect(try await store.authenticate(token: token) == nil)
        // Unknown tokens are never cached.
        #expect(store.tokens.count == 0)
    }

    /// A change made straight through the database writer (not through the store's methods) empties it too.
    @Test func anyCommittedPairingChangeEmptiesTheCache() async throws {
        let (store, pairing, token, directory) = try await Self.paired()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        #expect(try await store.authenticate(token: token)?.name == "p")
        try await store.dbWriter.write { db in try db.execute(sql: "UPDATE pairing SET name = 'renamed'") }
        #expect(try await store.authenticate(token: token)?.name == "renamed")
        // A change that rolls back keeps what is cached, and it is still right.
        await #expect(throws: DatabaseError.self) {
            try await store.dbWriter.write { db in
                try db.execute(sql: "UPDATE pairing SET state = 'revoked'")
                throw DatabaseError(message: "rolled back")
            }
        }
        #expect(try await store.authenticate(token: token)?.id == pairing.id)
        try await store.dbWriter.write { db in try db.execute(sql: "UPDATE pairing SET state = 'revoked'") }
        #expect(try await store.authenticate(token: token) == nil)
        // Other tables leave it alone.
        #expect(store.tokens.count == 0)
    }

    /// A lookup that read the pairing before a revocation committed must not cache what it read.
    @Test func aReadOlderThanARevocationIsNotCached() async throws {
        let (store, pairing, token, directory) = try await Self.paired()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let hash = BridgeStore.tokenHash(token)
        let before = store.tokens.lookup(hash)
        #expect(before.pairing == nil)
        let stale = try #require(try await store.read { db in try BridgeStore.authenticate(db, tokenHash: hash) })
        try await store.revokePairing(pairing.id)
        store.tokens.fill(hash, stale, readAt: before.generation)
        #expect(store.tokens.lookup(hash).pairing == nil)
        #expect(try await store.authenticate(token: token) == nil)
    }
}
