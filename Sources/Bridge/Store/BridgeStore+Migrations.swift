import GRDB

extension BridgeStore {
    /// Named migrations, only ever added: a database made by any earlier version migrates forward.
    static var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1: pairings, requests, revocations, audit") { db in
            try db.execute(
                sql: """
                    CREATE TABLE pairing (
                        id TEXT PRIMARY KEY, name TEXT NOT NULL, code TEXT NOT NULL,
                        state TEXT NOT NULL, tokenHash BLOB UNIQUE, createdAt INTEGER NOT NULL, expiresAt INTEGER NOT NULL);
                    CREATE TABLE request (
                        id TEXT PRIMARY KEY, pairing TEXT NOT NULL REFERENCES pairing(id), body TEXT NOT NULL,
                        state TEXT NOT NULL, createdAt INTEGER NOT NULL, expiresAt INTEGER NOT NULL,
                        envelope TEXT, reason TEXT);
                    CREATE INDEX request_state ON request(state);
                    CREATE TABLE revocation (id BLOB PRIMARY KEY, envelope TEXT NOT NULL, addedAt INTEGER NOT NULL);
                    CREATE TABLE audit (
                        seq INTEGER PRIMARY KEY, at INTEGER NOT NULL, kind TEXT NOT NULL, subject TEXT NOT NULL,
                        pairing TEXT, detail TEXT NOT NULL, signatureCounter INTEGER,
                        previous BLOB NOT NULL, hash BLOB NOT NULL);
                    """)
        }
        // Master-signed transactions (top-ups) wait in the same queue as delegations; `txResult` holds
        // the signed transaction once approved.
        migrator.registerMigration("v2: transaction requests") { db in
            try db.execute(
                sql: """
                    ALTER TABLE request ADD COLUMN kind TEXT NOT NULL DEFAULT 'delegation' CHECK (kind IN ('delegation', 'transaction'));
                    ALTER TABLE request ADD COLUMN txResult TEXT;
                    """)
        }
        // A pairing's token goes only to its creator (who proves it with the secret whose SHA-256 it sent);
        // pending pairings are limited per peer; a top-up goes to the pairing's wallet unless the user confirms.
        migrator.registerMigration("v3: pairing secret, peer, wallet") { db in
            try db.execute(
                sql: """
                    ALTER TABLE pairing ADD COLUMN secretHash BLOB CHECK (secretHash IS NULL OR length(secretHash) = 32);
                    ALTER TABLE pairing ADD COLUMN peer TEXT NOT NULL DEFAULT '';
                    ALTER TABLE pairing ADD COLUMN wallet TEXT CHECK (wallet IS NULL OR length(wallet) = 42);
                    ALTER TABLE request ADD COLUMN delegation BLOB CHECK (delegation IS NULL OR length(delegation) = 32);
                    CREATE INDEX request_delegation ON request(delegation);
                    ALTER TABLE revocation ADD COLUMN pairing TEXT;
                    """)
        }
        // The states as rules SQLite enforces. SQLite cannot add a CHECK to a table, so each table is
        // rebuilt the documented way (https://sqlite.org/lang_altertable.html#otheralter: create, copy,
        // drop, rename, re-index); GRDB runs migrations with foreign keys deferred and checks them all
        // before the commit. Rows keep their values, so the audit chain is untouched.
        migrator.registerMigration("v4: state CHECK constraints") { db in
            let pairingStates = PairingState.allCases.map { "'\($0.rawValue)'" }.joined(separator: ", ")
            let requestStates = RequestState.allCases.map { "'\($0.rawValue)'" }.joined(separator: ", ")
            let kinds = RequestKind.allCases.map { "'\($0.rawValue)'" }.joined(separator: ", ")
            try db.execute(
                sql: """
                    CREATE TABLE new_pairing (
                        id TEXT PRIMARY KEY, name TEXT NOT NULL, code TEXT NOT NULL,
                        state TEXT NOT NULL CHECK (state IN (\(pairingStates))),
                        tokenHash BLOB UNIQUE CHECK (tokenHash IS NULL OR length(tokenHash) = 32),
                        createdAt INTEGER NOT NULL, expiresAt INTEGER NOT NULL,
                        secretHash BLOB CHECK (secretHash IS NULL OR length(secretHash) = 32),
                        peer TEXT NOT NULL DEFAULT '',
                        wallet TEXT CHECK (wallet IS NULL OR length(wallet) = 42),
                        -- only an approved pairing ever got a token (a revoked one keeps its hash)
                        CHECK (tokenHash IS NULL OR state IN ('approved', 'revoked')));
                    INSERT INTO new_pairing (id, name, code, state, tokenHash, createdAt, expiresAt, secretHash, peer, wallet)
                        SELECT id, name, code, state, tokenHash, createdAt, expiresAt, secretHash, peer, wallet FROM pairing;
                    DROP TABLE pairing;
                    ALTER TABLE new_pairing RENAME TO pairing;

                    CREATE TABLE new_request (
                        id TEXT PRIMARY KEY, pairing TEXT NOT NULL REFERENCES pairing(id), body TEXT NOT NULL,
                        state TEXT NOT NULL CHECK (state IN (\(requestStates))),
                        createdAt INTEGER NOT NULL, expiresAt INTEGER NOT NULL,
                        envelope TEXT, reason TEXT,
                        kind TEXT NOT NULL DEFAULT 'delegation' CHECK (kind IN (\(kinds))),
                        txResult TEXT,
                        delegation BLOB CHECK (delegation IS NULL OR length(delegation) = 32),
                        -- what an approval releases exists exactly when it was approved
                        CHECK ((state = 'approved') = (envelope IS NOT NULL OR txResult IS NOT NULL)));
                    INSERT INTO new_request (id, pairing, body, state, createdAt, expiresAt, envelope, reason, kind, txResult, delegation)
                        SELECT id, pairing, body, state, createdAt, expiresAt, envelope, reason, kind, txResult, delegation FROM request;
                    DROP TABLE request;
                    ALTER TABLE new_request RENAME TO request;
                    CREATE INDEX request_state ON request(state);
                    CREATE INDEX request_delegation ON request(delegation);
                    """)
        }
        return migrator
    }
}
