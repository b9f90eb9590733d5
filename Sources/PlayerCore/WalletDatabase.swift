import Foundation
import GRDB
import Storage

/// The wallet's SQLite database: WAL, `synchronous=FULL`, named migrations that are only ever added.
/// Amounts are uint256 and stored as decimal TEXT; the schema checks their shape.
enum WalletDatabase {
    static func open(_ path: String) throws -> DatabasePool {
        try DurableDatabase.open(path, migrator: migrator)
    }

    static func amountCheck(_ column: String) -> String {
        "CHECK (\(column) GLOB '[0-9]*' AND NOT \(column) GLOB '*[^0-9]*' AND length(\(column)) <= 78)"
    }

    static var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1-ledger") { db in
            try db.execute(
                sql: """
                    CREATE TABLE delegation (
                        id TEXT PRIMARY KEY NOT NULL CHECK (length(id) = 66),
                        envelope TEXT NOT NULL,
                        master TEXT NOT NULL,
                        validAfter INTEGER NOT NULL,
                        validUntil INTEGER NOT NULL CHECK (validUntil >= validAfter),
                        payees TEXT NOT NULL,
                        importedAt INTEGER NOT NULL,
                        revokedAt INTEGER
                    );
                    CREATE TABLE allowance (
                        delegationId TEXT NOT NULL REFERENCES delegation(id),
                        token TEXT NOT NULL,
                        total TEXT NOT NULL \(amountCheck("total")),
                        perPayment TEXT NOT NULL \(amountCheck("perPayment")),
                        period INTEGER NOT NULL CHECK (period >= 0),
                        perPeriod TEXT NOT NULL \(amountCheck("perPeriod")),
                        spent TEXT NOT NULL DEFAULT '0' \(amountCheck("spent")),
                        periodIndex INTEGER NOT NULL DEFAULT 0,
                        periodSpent TEXT NOT NULL DEFAULT '0' \(amountCheck("periodSpent")),
                        PRIMARY KEY (delegationId, token)
                    ) WITHOUT ROWID;
                    CREATE TABLE channel (
                        delegationId TEXT NOT NULL REFERENCES delegation(id),
                        payee TEXT NOT NULL,
                        token TEXT NOT NULL,
                        cumulative TEXT NOT NULL \(amountCheck("cumulative")),
                        sequence INTEGER NOT NULL CHECK (sequence > 0),
                        PRIMARY KEY (delegationId, payee, token)
                    ) WITHOUT ROWID;
                    CREATE TABLE voucher (
                        idempotencyKey TEXT,
                        delegationId TEXT NOT NULL REFERENCES delegation(id),
                        payee TEXT NOT NULL,
                        token TEXT NOT NULL,
                        amount TEXT NOT NULL \(amountCheck("amount")),
                        cumulative TEXT NOT NULL \(amountCheck("cumulative")),
                        sequence INTEGER NOT NULL CHECK (sequence > 0),
                        memo TEXT NOT NULL CHECK (length(memo) = 66),
                        createdAt INTEGER NOT NULL,
                        PRIMARY KEY (delegationId, payee, token, sequence)
                    ) WITHOUT ROWID;
                    -- Keyless payments (most of them) write no index entry.
                    CREATE UNIQUE INDEX voucher_idempotency ON voucher(idempotencyKey) WHERE idempotencyKey IS NOT NULL;
                    CREATE TABLE postingKey (
                        address TEXT PRIMARY KEY NOT NULL,
                        delegationId TEXT NOT NULL,
                        envelope TEXT NOT NULL,
                        scopes INTEGER NOT NULL CHECK (scopes BETWEEN 1 AND 7),
                        validUntil INTEGER NOT NULL,
                        createdAt INTEGER NOT NULL,
                        revokedAt INTEGER
                    );
                    CREATE TABLE vote (
                        id INTEGER PRIMARY KEY,
                        poster TEXT NOT NULL REFERENCES postingKey(address),
                        content TEXT NOT NULL,
                        kind INTEGER NOT NULL,
                        value INTEGER NOT NULL,
                        issuedAt INTEGER NOT NULL,
                        envelope TEXT NOT NULL
                    );
                    """)
        }
        // Web sites paired with `paratii wallet serve`: each origin's own budget, charged in the payment's transaction.
        migrator.registerMigration("v2-sites") { db in
            try db.execute(
                sql: """
                    CREATE TABLE site (
                        origin TEXT PRIMARY KEY NOT NULL CHECK (length(origin) BETWEEN 1 AND 256),
                        name TEXT NOT NULL,
                        tokenHash TEXT NOT NULL UNIQUE CHECK (length(tokenHash) = 64),
                        approvedAt INTEGER NOT NULL,
                        revokedAt INTEGER
                    );
                    CREATE TABLE siteBudget (
                        origin TEXT NOT NULL REFERENCES site(origin) ON DELETE CASCADE,
                        token TEXT NOT NULL,
                        limitAmount TEXT NOT NULL \(amountCheck("limitAmount")),
                        period INTEGER NOT NULL CHECK (period >= 0),
                        since INTEGER NOT NULL,
                        periodIndex INTEGER NOT NULL DEFAULT 0,
                        periodSpent TEXT NOT NULL DEFAULT '0' \(amountCheck("periodSpent")),
                        spent TEXT NOT NULL DEFAULT '0' \(amountCheck("spent")),
                        PRIMARY KEY (origin, token)
                    ) WITHOUT ROWID;
                    CREATE TABLE siteVoucher (
                        delegationId TEXT NOT NULL,
                        payee TEXT NOT NULL,
                        token TEXT NOT NULL,
                        sequence INTEGER NOT NULL,
                        origin TEXT NOT NULL,
                        PRIMARY KEY (delegationId, payee, token, sequence)
                    ) WITHOUT ROWID;
                    CREATE INDEX siteVoucher_origin ON siteVoucher(origin);
                    """)
        }
        return migrator
    }
}
