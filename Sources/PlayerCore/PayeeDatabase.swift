import Ethereum
import Foundation
import GRDB
import Storage

/// The payee store's file: its migrations, only ever added, and the durable open.
enum PayeeDatabase {
    static func open(_ path: String) throws -> DatabasePool {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1-payee") { db in
            try db.execute(
                sql: """
                    CREATE TABLE channel (
                        delegationId TEXT NOT NULL CHECK (length(delegationId) = 66),
                        payee TEXT NOT NULL,
                        token TEXT NOT NULL,
                        master TEXT NOT NULL,
                        spender TEXT NOT NULL,
                        cumulative TEXT NOT NULL \(WalletDatabase.amountCheck("cumulative")),
                        sequence INTEGER NOT NULL CHECK (sequence > 0),
                        memo TEXT NOT NULL CHECK (length(memo) = 66),
                        signature TEXT NOT NULL CHECK (length(signature) = 132),
                        updatedAt INTEGER NOT NULL,
                        PRIMARY KEY (delegationId, payee, token)
                    );
                    CREATE TABLE delegation (
                        id TEXT PRIMARY KEY NOT NULL CHECK (length(id) = 66),
                        parents TEXT NOT NULL
                    );
                    CREATE TABLE receipt (
                        delegationId TEXT NOT NULL,
                        payee TEXT NOT NULL,
                        token TEXT NOT NULL,
                        sequence INTEGER NOT NULL,
                        cumulative TEXT NOT NULL \(WalletDatabase.amountCheck("cumulative")),
                        voucherId TEXT NOT NULL,
                        PRIMARY KEY (delegationId, payee, token, sequence)
                    );
                    """)
        }
        // Stores written before v 0/1 was refused: rewrite those signatures as 27/28 (same signature).
        migrator.registerMigration("v2-payee-redeemable-v") { db in
            try db.execute(
                sql: """
                    UPDATE channel SET signature = substr(signature, 1, 130) || CASE lower(substr(signature, 131, 2))
                        WHEN '00' THEN '1b' WHEN '01' THEN '1c' ELSE substr(signature, 131, 2) END
                    """)
            for row in try Row.fetchAll(db, sql: "SELECT id, parents FROM delegation") {
                let parents: String = row["parents"]
                guard let rewritten = redeemableParents(parents), rewritten != parents else { continue }
                try db.execute(sql: "UPDATE delegation SET parents = ? WHERE id = ?", arguments: [rewritten, row["id"] as String])
            }
        }
        // What the contract paid each channel, from the receipts' Redeemed events (PayeeStore+Redemption).
        migrator.registerMigration("v3-payee-redemption") { db in
            try db.execute(
                sql: """
                    CREATE TABLE redemption (
                        delegationId TEXT NOT NULL CHECK (length(delegationId) = 66),
                        payee TEXT NOT NULL,
                        token TEXT NOT NULL,
                        cumulative TEXT NOT NULL \(WalletDatabase.amountCheck("cumulative")),
                        paid TEXT NOT NULL \(WalletDatabase.amountCheck("paid")),
                        shortfall TEXT NOT NULL \(WalletDatabase.amountCheck("shortfall")),
                        transactionHash TEXT NOT NULL CHECK (length(transactionHash) = 66),
                        redeemedAt INTEGER NOT NULL,
                        PRIMARY KEY (delegationId, payee, token)
                    )
                    """)
        }
        // Receipts (one row per accepted voucher, the store's largest table and most of its writes) keyed
        // by the channel's bytes in one B-tree: the hex-text keys, and a rowid table beside its key's index,
        // wrote each receipt's key three times over. The voucher id stays text (what readers of the file see).
        migrator.registerMigration("v4-payee-receipt-bytes") { db in
            try db.execute(
                sql: """
                    CREATE TABLE receiptBytes (
                        delegationId BLOB NOT NULL CHECK (typeof(delegationId) = 'blob' AND length(delegationId) = 32),
                        payee BLOB NOT NULL CHECK (typeof(payee) = 'blob' AND length(payee) = 20),
                        token BLOB NOT NULL CHECK (typeof(token) = 'blob' AND length(token) = 20),
                        sequence INTEGER NOT NULL,
                        cumulative TEXT NOT NULL \(WalletDatabase.amountCheck("cumulative")),
                        voucherId TEXT NOT NULL,
                        PRIMARY KEY (delegationId, payee, token, sequence)
                    ) WITHOUT ROWID
                    """)
            let insert = try db.makeStatement(sql: "INSERT INTO receiptBytes VALUES (?, ?, ?, ?, ?, ?)")
            let rows = try Row.fetchCursor(db, sql: "SELECT delegationId, payee, token, sequence, cumulative, voucherId FROM receipt")
            while let row = try rows.next() {
                func bytes(_ column: Int) throws -> Data { Data(try [UInt8](hex: row[column] as String)) }
                try insert.execute(arguments: [
                    try bytes(0), try bytes(1), try bytes(2), row[3] as Int64, row[4] as String, row[5] as String,
                ])
            }
            try db.execute(sql: "DROP TABLE receipt; ALTER TABLE receiptBytes RENAME TO receipt")
        }
        return try DurableDatabase.open(path, migrator: migrator)
    }

    /// A stored chain (JSON array of envelopes) with every signature's v written 27/28.
    static func redeemableParents(_ text: String) -> String? {
        guard case .array(let items)? = try? JSONValue.parse(Array(text.utf8)) else { return nil }
        func fixed(_ value: JSONValue) -> JSONValue {
            guard case .object(var object) = value else { return value }
            if case .string(let hex)? = object["signature"], let bytes = try? [UInt8](hex: hex),
                let signature = try? PayeeStore.redeemable(bytes)
            {
                object["signature"] = .string(signature.hexString)
            }
            if case .array(let parents)? = object["parents"] { object["parents"] = .array(parents.map(fixed)) }
            return .object(object)
        }
        return JSONValue.array(items.map(fixed)).compactText
    }
}
