import Delegation
import Ethereum
import PlayerCore
import Storage

/// The one place a payee store is chosen: a `postgres://` URL opens the PostgreSQL store, anything
/// else is a SQLite path, and nothing at all is the default file. `payee accept`, `channels`,
/// `export`, `redeem` and `payee serve` all open their store here.
public enum PayeeStores {
    public static var defaultPath: String { Paths.data + "/payee.sqlite" }

    public static func open(_ location: String?, verifier: Verifier, payees: Set<Address> = []) async throws -> any PayeeStoring {
        let location = location ?? defaultPath
        if PostgresLocation.isPostgres(location) {
            return try await PostgresPayeeStore(location: try PostgresLocation(location), verifier: verifier, payees: payees)
        }
        // The SQLite store creates its missing directories 0700 and its files 0600.
        return try PayeeStore(path: location, verifier: verifier, payees: payees)
    }
}
