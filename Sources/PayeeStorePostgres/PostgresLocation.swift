import Foundation
import PostgresNIO

/// Why a PostgreSQL payee store could not be used. Descriptions name the server and database,
/// never a password.
public enum PostgresStoreError: Error, Equatable, CustomStringConvertible {
    case url(String)
    case credentials(String)
    case unavailable(String)
    case schema(String)

    public var description: String {
        switch self {
        case .url(let detail): "payee store URL: \(detail)"
        case .credentials(let detail): "payee store credentials: \(detail)"
        case .unavailable(let detail): "payee store unavailable: \(detail)"
        case .schema(let detail): "payee store schema: \(detail)"
        }
    }
}

/// `postgres://user@host:port/database?sslmode=require&passfile=/path` (libpq's names, `sslrootcert`
/// too: the CA certificates, PEM, that verify-ca and verify-full trust instead of the system's), or a Unix
/// socket directory as `?host=/run/postgresql`. A password inside the URL is refused: URLs end up in
/// shell history, process lists and config files; it comes from `passfile` or `$PGPASSFILE` (the
/// pgpass format, owner-only like libpq insists).
public struct PostgresLocation: Sendable, Equatable {
    public var user: String
    public var host: String
    public var port: Int
    public var database: String
    /// A Unix socket directory instead of TCP.
    public var socketDirectory: String?
    public var sslmode: String
    public var passfile: String?
    public var sslrootcert: String?

    public static func isPostgres(_ location: String) -> Bool {
        location.hasPrefix("postgres://") || location.hasPrefix("postgresql://")
    }

    public init(_ text: String, environment: [String: String] = ProcessInfo.processInfo.environment) throws(PostgresStoreError) {
        guard Self.isPostgres(text), let url = URLComponents(string: text) else {
            throw .url("expected postgres://user@host:port/database")
        }
        if url.password != nil { throw .url("a password in the URL is refused: use ?passfile=FILE or PGPASSFILE") }
        guard let user = url.user, !user.isEmpty else { throw .url("no user (postgres://USER@host/database)") }
        let database = String(url.path.drop { $0 == "/" })
        guard !database.isEmpty, !database.contains("/") else { throw .url("no database (postgres://user@host/DATABASE)") }
        self.user = user.removingPercentEncoding ?? user
        self.database = database.removingPercentEncoding ?? database
        host = url.host ?? "localhost"
        port = url.port ?? 5432
        sslmode = "prefer"
        for item in url.queryItems ?? [] {
            guard let value = item.value, !value.isEmpty else { throw .url("\(item.name) needs a value") }
            switch item.name {
            case "sslmode":
                guard ["disable", "allow", "prefer", "require", "verify-ca", "verify-full"].contains(value) else {
                    throw .url("sslmode must be disable, prefer, require, verify-ca or verify-full")
                }
                sslmode = value
            case "passfile": passfile = value
            case "sslrootcert": sslrootcert = value
            case "host":
                guard value.hasPrefix("/") else { throw .url("host= takes a Unix socket directory (an absolute path)") }
                socketDirectory = value
            default: throw .url("unknown parameter \(item.name) (known: sslmode, sslrootcert, passfile, host)")
            }
        }
        if passfile == nil, let file = environment["PGPASSFILE"], !file.isEmpty { passfile = file }
        if socketDirectory != nil && ["require", "verify-ca", "verify-full"].contains(sslmode) {
            throw .url("sslmode=\(sslmode) needs TCP: a Unix socket carries no TLS")
        }
    }

    /// Where, for messages: never the password.
    public var printable: String {
        socketDirectory.map { "\(database) on \($0)" } ?? "\(database) on \(host):\(port)"
    }

    /// The password for this server, database and user from the pgpass file, if one is given.
    func password() throws(PostgresStoreError) -> String? {
        guard let passfile else { return nil }
        var info = stat()
        guard stat(passfile, &info) == 0 else { throw .credentials("cannot read the password file \(passfile)") }
        // libpq ignores a readable-by-others file; a wrong mode is a mistake worth one line, not a silent fallback.
        guard info.st_mode & 0o077 == 0 else { throw .credentials("\(passfile) is readable by others: chmod 600 it") }
        guard let text = try? String(contentsOfFile: passfile, encoding: .utf8) else {
            throw .credentials("cannot read the password file \(passfile)")
        }
        let wanted = [socketDirectory == nil ? host : "localhost", String(port), database, user]
        for line in text.split(separator: "\n") where !line.hasPrefix("#") {
            let fields = Self.pgpassFields(line)
            guard fields.count == 5 else { continue }
            if zip(fields, wanted).allSatisfy({ $0 == "*" || $0 == $1 }) { return fields[4] }
        }
        throw .credentials("no entry for \(user) in \(passfile)")
    }

    /// `host:port:database:user:password`, with `\:` and `\\` escaped as in libpq.
    static func pgpassFields(_ line: Substring) -> [String] {
        var fields = [""]
        var escaped = false
        for character in line {
            if escaped {
                fields[fields.count - 1].append(character)
                escaped = false
            } else if character == "\\" {
                escaped = true
            } else if character == ":" && fields.count < 5 {
                fields.append("")
            } else {
                fields[fields.count - 1].append(character)
            }
        }
        return fields
    }

    /// TLS as libpq's sslmode means it: require encrypts, verify-ca also checks the chain, verify-full the name too.
    /// The CA certificates come from `sslrootcert` when given (read here, so a missing or unreadable file
    /// is one line before any connection), else from the system's trust store.
    private func tls() throws(PostgresStoreError) -> (enforced: Bool, allowed: Bool, configuration: TLSConfiguration) {
        var tls = TLSConfiguration.makeClientConfiguration()
        if !sslmode.hasPrefix("verify") { tls.certificateVerification = .none }
        if sslmode == "verify-ca" { tls.certificateVerification = .noHostnameVerification }
        if let sslrootcert {
            guard let certificates = try? NIOSSLCertificate.fromPEMFile(sslrootcert), !certificates.isEmpty else {
                throw .url("sslrootcert \(sslrootcert): no PEM certificate could be read from it")
            }
            tls.trustRoots = .certificates(certificates)
        }
        return (["require", "verify-ca", "verify-full"].contains(sslmode), sslmode != "disable", tls)
    }

    /// The pool's configuration.
    func clientConfiguration(password: String?) throws(PostgresStoreError) -> PostgresClient.Configuration {
        if let socketDirectory {
            return PostgresClient.Configuration(
                unixSocketPath: socketDirectory + "/.s.PGSQL.\(port)", username: user, password: password, database: database)
        }
        let tls = try tls()
        let mode: PostgresClient.Configuration.TLS =
            tls.enforced ? .require(tls.configuration) : tls.allowed ? .prefer(tls.configuration) : .disable
        return PostgresClient.Configuration(host: host, port: port, username: user, password: password, database: database, tls: mode)
    }

    /// A single connection's configuration (the first one, which migrates).
    func connectionConfiguration(password: String?) throws -> PostgresConnection.Configuration {
        if let socketDirectory {
            return .init(unixSocketPath: socketDirectory + "/.s.PGSQL.\(port)", username: user, password: password, database: database)
        }
        let tls = try tls()
        let context = try NIOSSLContext(configuration: tls.configuration)
        let mode: PostgresConnection.Configuration.TLS = tls.enforced ? .require(context) : tls.allowed ? .prefer(context) : .disable
        return .init(host: host, port: port, username: user, password: password, database: database, tls: mode)
    }
}
