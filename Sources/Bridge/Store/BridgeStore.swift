import Crypto
import Ethereum
import Foundation
import GRDB
import Storage

/// The bridge's state in SQLite (WAL, synchronous=FULL): pairings, delegation requests, revocations and
/// the hash-chained audit log, as records (one file each). Every state change writes its audit entry in
/// the same transaction; the audit sequence number is the bridge's revision, what `GET /v1/events`
/// waits on. Reads and writes are async (GRDB's own queues), so a slow fsync suspends a request instead
/// of blocking one of the few cooperative threads every other request needs.
///
/// Every method throws only `BridgeStoreError`. The async ones say plain `throws`: typed throws inside
/// async code crashed Swift 6.3.1's release build (LLVM CoroSplit, signal 11); see APIError.
public final class BridgeStore: Sendable {
    /// Internal, not private: the tests' tampering drills write to it directly.
    let dbWriter: any DatabaseWriter
    /// The one clock (seconds since 1970) of the store and the routes: tests move it.
    public let clock: @Sendable () -> UInt64
    /// Token → pairing, emptied by every commit that touches pairings (see TokenCache).
    let tokens = TokenCache()
    /// The revision as the last commit left it, and the long polls waiting for it to move.
    let changes: RevisionSignal

    public init(path: String, clock: @escaping @Sendable () -> UInt64 = { UInt64(Date().timeIntervalSince1970) }) throws(BridgeStoreError) {
        do { try PrivateDirectory.createParent(of: path) } catch { throw .unusable("\(error)") }
        // The state file is never reached through a link someone planted.
        var info = stat()
        if lstat(path, &info) == 0, info.st_mode & S_IFMT != S_IFREG {
            throw .unusable("\(path) is not a regular file (a symlink?): refusing to use it")
        }
        // A damaged file is refused with its path, never repaired or overwritten.
        do { dbWriter = try DurableDatabase.open(path, migrator: Self.migrator) } catch {
            throw .unusable("\(path): \(error); refusing to use or overwrite it")
        }
        chmod(path, 0o600)
        dbWriter.add(transactionObserver: tokens, extent: .databaseLifetime)
        // Read and observed inside one write, so no commit falls between the two.
        do {
            changes = try dbWriter.write { db in
                let signal = RevisionSignal(revision: try Self.revision(db))
                db.add(transactionObserver: signal, extent: .databaseLifetime)
                return signal
            }
        } catch { throw .unusable("\(path): \(error)") }
        self.clock = clock
    }

    // MARK: Access

    /// A write transaction off the cooperative pool; anything but our own refusals becomes `.storage`.
    func write<T: Sendable>(_ updates: @escaping @Sendable (Database) throws -> T) async throws -> T {
        do { return try await dbWriter.write(updates) } catch let error as BridgeStoreError { throw error } catch {
            throw BridgeStoreError.storage("\(error)")
        }
    }

    /// A read on the calling thread. In WAL mode a read never waits for the writer or an fsync (it reads
    /// the last committed snapshot), so it does not stall the cooperative pool the way a commit would;
    /// handing it to GRDB's reader queue and back cost two thread wake-ups per call, most of a cheap
    /// request's time under load (ParatiiBench bridge-load).
    func read<T: Sendable>(_ value: @escaping @Sendable (Database) throws -> T) async throws -> T {
        do { return try readHere(value) } catch let error as BridgeStoreError { throw error } catch {
            throw BridgeStoreError.storage("\(error)")
        }
    }

    /// Synchronous, so that GRDB's blocking `read` is the overload chosen (async code would pick the async one).
    private func readHere<T>(_ value: (Database) throws -> T) throws -> T { try dbWriter.read(value) }

    // MARK: Revision and changes

    public static let eventPage = 500

    /// The latest audit sequence number.
    public func revision() async throws -> Int64 {
        try await read { db in try Self.revision(db) }
    }

    static func revision(_ db: Database) throws -> Int64 {
        try AuditEntry.select(max(AuditEntry.Columns.seq), as: Int64.self).fetchOne(db) ?? 0
    }

    /// The revision as of the last commit this process made (no query): read it before reading what it
    /// covers, and a commit in between wakes the next wait at once.
    public var latestRevision: Int64 { changes.revision }

    /// Waits until the revision passes `revision` or `deadline` comes, whichever first (true: it passed).
    /// Woken by the commit itself (RevisionSignal), no polling.
    public func waitForChange(after revision: Int64, until deadline: ContinuousClock.Instant) async -> Bool {
        await changes.wait(after: revision, until: deadline)
    }

    /// Request and pairing changes after `since` that one pairing may see (its own), and every token event.
    public func events(since: Int64, pairing: String) async throws -> [AuditEntry] {
        try await read { db in
            try AuditEntry
                .filter(
                    AuditEntry.Columns.seq > since
                        && (AuditEntry.Columns.pairing == pairing
                            || (AuditEntry.Columns.pairing == nil && AuditEntry.Columns.kind.like("token.%")))
                )
                .order(AuditEntry.Columns.seq)
                .limit(Self.eventPage)
                .fetchAll(db)
        }
    }

    /// A reader or card change (no pairing: every player sees it).
    public func recordTokenEvent(kind: String, subject: String, detail: JSONValue = .object([:])) async throws {
        let now = clock()
        try await write { db in _ = try Self.audit(db, at: now, kind: kind, subject: subject, pairing: nil, detail: detail) }
    }

    // MARK: Helpers

    public static func randomID() -> String {
        SystemRandom.bytes(16).hexDigits
    }

    public static func tokenHash(_ token: String) -> Data { Data(SHA256.hash(data: Array(token.utf8))) }
}
