import Logging
import PostgresNIO

/// The schema as named, append-only migrations: a shipped migration is never edited, a change is a
/// new entry. Every table is keyed by `channel` (Keccak-256 of delegation id, payee and token, hex) and
/// hash-partitioned by it, so Citus can distribute them co-located without a query changing
/// (citus.sql beside this file).
enum Schema {
    static let partitions = 8

    static let migrations: [(name: String, sql: [String])] = [
        (
            "001-channels-receipts",
            [
                """
                CREATE TABLE channels (
                    channel text NOT NULL CHECK (length(channel) = 66),
                    delegation_id text NOT NULL CHECK (length(delegation_id) = 66),
                    payee text NOT NULL, token text NOT NULL, master text NOT NULL, spender text NOT NULL,
                    cumulative numeric(78, 0) NOT NULL CHECK (cumulative >= 0),
                    sequence bigint NOT NULL CHECK (sequence > 0),
                    memo text NOT NULL CHECK (length(memo) = 66),
                    signature text NOT NULL CHECK (length(signature) = 132),
                    parents text NOT NULL,
                    updated_at bigint NOT NULL,
                    PRIMARY KEY (channel)
                ) PARTITION BY HASH (channel)
                """,
                """
                CREATE TABLE receipts (
                    channel text NOT NULL,
                    sequence bigint NOT NULL CHECK (sequence > 0),
                    cumulative numeric(78, 0) NOT NULL CHECK (cumulative >= 0),
                    voucher_id text NOT NULL,
                    PRIMARY KEY (channel, sequence)
                ) PARTITION BY HASH (channel)
                """,
            ]
                + partitioned(["channels", "receipts"])
        ),
        (
            // What the contract paid each channel, from the receipts' `Redeemed` events (`payee redeem`).
            "002-redemptions",
            [
                """
                CREATE TABLE redemptions (
                    channel text NOT NULL CHECK (length(channel) = 66),
                    delegation_id text NOT NULL CHECK (length(delegation_id) = 66),
                    payee text NOT NULL, token text NOT NULL,
                    cumulative numeric(78, 0) NOT NULL CHECK (cumulative >= 0),
                    paid numeric(78, 0) NOT NULL CHECK (paid >= 0),
                    shortfall numeric(78, 0) NOT NULL CHECK (shortfall >= 0),
                    transaction_hash text NOT NULL CHECK (length(transaction_hash) = 66),
                    redeemed_at bigint NOT NULL,
                    PRIMARY KEY (channel)
                ) PARTITION BY HASH (channel)
                """
            ] + partitioned(["redemptions"])
        ),
    ]

    /// The hash partitions of `tables`, by channel.
    static func partitioned(_ tables: [String]) -> [String] {
        (0..<partitions).flatMap { i in
            tables.map { table in
                "CREATE TABLE \(table)_p\(i) PARTITION OF \(table) FOR VALUES WITH (MODULUS \(partitions), REMAINDER \(i))"
            }
        }
    }

    /// Applies what is missing, under a transaction-scoped advisory lock so processes starting together
    /// migrate once. The bookkeeping table is the one table not keyed by channel: it stays on the
    /// coordinator under Citus.
    static func migrate(_ connection: PostgresConnection, logger: Logger) async throws {
        try await connection.withTransaction(logger: logger) { connection in
            try await connection.query("SELECT pg_advisory_xact_lock(7262001)", logger: logger)
            try await connection.query(
                "CREATE TABLE IF NOT EXISTS payee_migrations (name text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())",
                logger: logger)
            var applied = Set<String>()
            for try await name in try await connection.query("SELECT name FROM payee_migrations", logger: logger).decode(String.self) {
                applied.insert(name)
            }
            let known = Set(migrations.map(\.name))
            if let unknown = applied.subtracting(known).sorted().first {
                throw PostgresStoreError.schema("the database has migration \(unknown), newer than this program")
            }
            for migration in migrations where !applied.contains(migration.name) {
                for statement in migration.sql { try await connection.query(PostgresQuery(unsafeSQL: statement), logger: logger) }
                try await connection.query("INSERT INTO payee_migrations (name) VALUES (\(migration.name))", logger: logger)
            }
        }
    }
}
