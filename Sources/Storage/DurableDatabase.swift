import GRDB

/// Opens a WAL database whose writer commits with `synchronous=FULL`: a committed voucher survives
/// power loss, not only a crash. GRDB's pool switches WAL connections to NORMAL when it opens them,
/// so FULL is set on the writer afterwards, and checked. A damaged WAL is refused before SQLite
/// would quietly drop what follows the damage (see `WALCheck`).
public enum DurableDatabase {
    public static func open(_ path: String, migrator: DatabaseMigrator) throws -> DatabasePool {
        try WALCheck.verify(path)
        var configuration = Configuration()
        configuration.busyMode = .timeout(30)
        let pool = try DatabasePool(path: path, configuration: configuration)
        try pool.writeWithoutTransaction { db in
            try db.execute(sql: "PRAGMA synchronous = FULL")
            guard try Int.fetchOne(db, sql: "PRAGMA synchronous") == 2 else {
                throw DatabaseError(message: "could not set synchronous=FULL on \(path)")
            }
        }
        try migrator.migrate(pool)
        return pool
    }

    /// The writer connection's synchronous level (2 = FULL), for tests.
    public static func synchronousLevel(_ pool: DatabasePool) throws -> Int {
        try pool.writeWithoutTransaction { db in try Int.fetchOne(db, sql: "PRAGMA synchronous") ?? -1 }
    }
}
