import Foundation
import GRDB

/// Bearer token (its SHA-256) → approved pairing, so that authenticating a player's request needs no
/// database read. Correctness rests on one rule: any committed change to the pairing table, made
/// through the store or straight through its writer, empties the cache before that write returns, so
/// once `revokePairing` has answered, no request is let in with the revoked token.
///
/// A lookup that misses reads the database and fills the cache only if no commit touched pairings
/// since it began (the generation is unchanged): a read that started before a revocation cannot put
/// the old pairing back. Only approved pairings are cached (as many as the user approved); unknown
/// tokens never are, so guessing tokens cannot grow it.
///
/// The lock is NSLock (a pthread mutex, which ThreadSanitizer sees; see Delegation's Verifier).
final class TokenCache: TransactionObserver, @unchecked Sendable {
    private let lock = NSLock()
    private var pairings: [Data: Pairing] = [:]
    private var generation: UInt64 = 0
    /// Written only on the writer's queue (GRDB calls observers there), between change and commit.
    private var pairingsChanged = false

    func lookup(_ tokenHash: Data) -> (pairing: Pairing?, generation: UInt64) {
        lock.withLock { (pairings[tokenHash], generation) }
    }

    func fill(_ tokenHash: Data, _ pairing: Pairing, readAt: UInt64) {
        lock.withLock {
            if generation == readAt { pairings[tokenHash] = pairing }
        }
    }

    var count: Int { lock.withLock { pairings.count } }

    // MARK: TransactionObserver

    func observes(eventsOfKind eventKind: DatabaseEventKind) -> Bool {
        eventKind.tableName == Pairing.databaseTableName
    }

    func databaseDidChange(with event: DatabaseEvent) { pairingsChanged = true }

    func databaseDidCommit(_ db: Database) {
        guard pairingsChanged else { return }
        pairingsChanged = false
        lock.withLock {
            pairings.removeAll()
            generation &+= 1
        }
    }

    func databaseDidRollback(_ db: Database) { pairingsChanged = false }
}
