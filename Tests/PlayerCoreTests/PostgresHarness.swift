import Foundation
import Synchronization

/// A private PostgreSQL server for the payee-store tests (scripts/pg-server): initdb in a temp
/// directory as the `postgres` user, a Unix socket there and a loopback port, removed afterwards.
final class PostgresServer: Sendable {
    let directory: String
    let port: String

    /// The server most tests share, one fresh database each; removed when the test process exits.
    static let shared: PostgresServer = {
        let server = try! PostgresServer()
        sharedDirectory.withLock { $0 = server.directory }
        atexit {
            if let directory = PostgresServer.sharedDirectory.withLock({ $0 }) { _ = try? PostgresServer.script(["remove", directory]) }
        }
        return server
    }()
    private static let sharedDirectory = Mutex<String?>(nil)

    static let scriptPath = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("scripts/pg-server").path

    /// A server of its own (for tests that stop it); `remove()` it.
    init() throws {
        let base = FileManager.default.temporaryDirectory.appendingPathComponent("paratii-pg-\(UUID().uuidString.prefix(8))").path
        _ = try Self.script(["init", base])
        directory = base
        port = try String(contentsOfFile: base + "/port", encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
    }

    func remove() { _ = try? Self.script(["remove", directory]) }
    func stop() throws { _ = try Self.script(["stop", directory]) }
    func start() throws { _ = try Self.script(["start", directory]) }
    /// TLS on, with a CA and a certificate for `localhost` made now (DIR/tls/ca.crt; other-ca.crt signed nothing).
    func enableTLS() throws { _ = try Self.script(["tls", directory]) }

    /// The socket URL of `database` (trusted, no password).
    func url(_ database: String = "paratii") -> String {
        "postgres://paratii@localhost:\(port)/\(database)?host=\(directory)/socket"
    }

    /// A new, empty database on this server: its URL.
    func newDatabase() throws -> String { url(try newDatabaseName()) }

    func newDatabaseName() throws -> String {
        let name = "t_" + UUID().uuidString.prefix(12).lowercased().replacingOccurrences(of: "-", with: "")
        _ = try psql("CREATE DATABASE \(name)")
        return name
    }

    /// Runs SQL through psql on `database`; the unaligned, tuples-only output.
    @discardableResult
    func psql(_ sql: String, database: String = "paratii") throws -> String {
        let result = try Self.script(["psql", directory, "-d", database, "-At", "-v", "ON_ERROR_STOP=1", "-c", sql])
        return result
    }

    @discardableResult
    static func script(_ arguments: [String]) throws -> String {
        let result = try ChildProcess.run(URL(fileURLWithPath: "/bin/bash"), [scriptPath] + arguments)
        guard result.status == 0 else { throw PostgresHarnessError(arguments.prefix(1).joined() + ": " + result.stderr) }
        return String(decoding: result.stdout, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
    }
}

struct PostgresHarnessError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

extension PostgresServer {
    /// A session left running (psql, detached) that holds what `sql` takes (locks, uncommitted rows)
    /// until `endSessions`; `sql` ends in pg_sleep, and this returns once it sleeps.
    func session(_ sql: String, database: String = "paratii") throws {
        try Self.script(["session", directory, database, sql])
    }

    func endSessions(database: String = "paratii") throws {
        try psql(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'psql' AND pid <> pg_backend_pid()",
            database: database)
    }

    /// Waits until a payee store's connection waits on a lock: its batch is mid-transaction.
    func waitForBlockedPayee(database: String = "paratii") throws {
        try Self.script(["wait", directory, database, "application_name = 'paratii-payee' AND wait_event_type = 'Lock'"])
    }
}
