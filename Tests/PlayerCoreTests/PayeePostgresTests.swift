import BigInt
import Delegation
import Ethereum
import Foundation
import LoopbackHTTP
import PayeeStorePostgres
import TestSupport
import Testing

@testable import PlayerCore

/// What only the PostgreSQL store faces: many processes at once, a server that stops, a connection
/// cut, credentials, and a schema Citus can distribute.
@Suite(.serialized) struct PayeePostgresTests {
    /// A fixture whose delegation is valid now (the CLI keeps the system clock), with room for many vouchers.
    static func fixture() throws -> (WalletFixture, Envelope) {
        let f = try WalletFixture()
        let now = Wallet.systemClock()
        let delegation = try f.delegation(
            allowances: [Allowance(token: .zero, total: 10_000_000, perPayment: 10_000_000, period: 86400, perPeriod: 10_000_000)],
            after: now - 60, until: now + 86400)
        return (f, delegation)
    }

    static func environment(_ f: WalletFixture) -> [String: String] {
        ["XDG_CONFIG_HOME": f.directory + "/config", "XDG_DATA_HOME": f.directory + "/data", "PGPASSFILE": ""]
    }

    static func payee(_ i: Int) -> Address { try! Address("0x" + String(repeating: "0", count: 36) + String(format: "%04x", 0xe000 + i)) }

    static func lines(_ envelopes: [Envelope]) -> String { envelopes.map { $0.json.compactText }.joined(separator: "\n") + "\n" }

    /// Four `paratii payee accept` processes, three rounds each, over the same six channels: every voucher
    /// sent by two processes, conflicting twins (same sequence, another amount) among them. The stored best
    /// of every channel is what one sequential accept keeps, and the increases the processes reported add
    /// up to it exactly: nothing lost, nothing counted twice.
    @Test func fourProcessesAgreeWithOneSequentialAccept() throws {
        let (f, delegation) = try Self.fixture()
        defer { f.cleanup() }
        let url = try PostgresServer.shared.newDatabase()
        var all: [Envelope] = []
        for p in 0..<6 {
            for s in 1...10 {
                all.append(
                    try signedVoucher(f, under: delegation, payee: Self.payee(p), cumulative: BigUInt(s * 100 + p), sequence: UInt64(s)))
                // A twin below the next amount: whichever arrives first, the channel's best is the same.
                if (2...9).contains(s) {
                    all.append(
                        try signedVoucher(
                            f, under: delegation, payee: Self.payee(p), cumulative: BigUInt(s * 100 + p + 1), sequence: UInt64(s),
                            memo: "twin"))
                }
            }
        }
        var generator = SeededGenerator(seed: 17)
        let copies = (all + all).shuffled(using: &generator)
        let rounds = 3, workers = 4
        let chunk = (copies.count + workers * rounds - 1) / (workers * rounds)
        let files = stride(from: 0, to: copies.count, by: chunk).map { start in Array(copies[start..<min(start + chunk, copies.count)]) }
        for (i, file) in files.enumerated() {
            try Self.lines(file).write(toFile: f.directory + "/batch-\(i).jsonl", atomically: true, encoding: .utf8)
        }
        let results = UnsafeResults<[(Envelope, String, String)]>(count: workers)
        concurrently(workers) { w in
            var seen: [(Envelope, String, String)] = []
            for i in stride(from: w, to: files.count, by: workers) {
                let run = try! ChildProcess.run(
                    Binary.paratii, ["payee", "accept", "--store", url, f.directory + "/batch-\(i).jsonl"], environment: Self.environment(f)
                )
                let out = String(decoding: run.stdout, as: UTF8.self).split(separator: "\n").map(String.init)
                seen += zip(files[i], out).map { ($0, $1, run.stderr) }
                if out.count != files[i].count { seen.append((files[i][0], "missing output", run.stderr)) }
            }
            results.set(w, seen)
        }
        let outputs = results.values.flatMap { $0 }
        #expect(outputs.count == copies.count)
        for (_, line, stderr) in outputs where line == "missing output" { Issue.record("a process failed: \(stderr)") }
        #expect(outputs.allSatisfy { !$0.2.contains("storage") }, "\(outputs.first { $0.2.contains("storage") }?.2 ?? "")")
        // Increases per channel, as the processes reported them.
        var increases: [Address: BigUInt] = [:]
        for (envelope, line, _) in outputs {
            guard case .voucher(let voucher) = envelope.message, case .object(let object)? = try? JSONValue.parse(Array(line.utf8)),
                case .string(let increase)? = object["increase"]
            else { continue }
            increases[voucher.payee, default: 0] += BigUInt(increase)!
        }
        // The same vouchers, once each, in one sequential accept on SQLite.
        try Self.lines(all).write(toFile: f.directory + "/all.jsonl", atomically: true, encoding: .utf8)
        let sequential = f.directory + "/sequential.sqlite"
        _ = try ChildProcess.run(
            Binary.paratii, ["payee", "accept", "--store", sequential, f.directory + "/all.jsonl"], environment: Self.environment(f))
        let expected = try Self.channelsJSON(sequential, f)
        let stored = try Self.channelsJSON(url, f)
        guard case .array(let items) = stored else { Issue.record("channels --json is not an array"); return }
        #expect(items.count == 6 && stored == expected)
        for p in 0..<6 {
            #expect(increases[Self.payee(p)] == BigUInt(1000 + p), "channel \(p): increases add up to \(increases[Self.payee(p)] ?? 0)")
        }
    }

    static func channelsJSON(_ store: String, _ f: WalletFixture) throws -> JSONValue {
        let run = try ChildProcess.run(Binary.paratii, ["payee", "channels", "--json", "--store", store], environment: environment(f))
        guard run.status == 0 else { throw PostgresHarnessError("channels: \(run.stderr)") }
        return try JSONValue.parse(Array(run.stdout))
    }

    /// A `paratii payee accept` of [A seq 2, B seq 1] left waiting mid-transaction: A's receipt written,
    /// B's blocked by another session's uncommitted receipt. Returns the process and its stderr.
    static func blockedAccept(
        _ server: PostgresServer, database: String, _ f: WalletFixture, _ delegation: Envelope
    ) throws -> (Process, Pipe) {
        let url = server.url(database)
        let a1 = try signedVoucher(f, under: delegation, payee: Self.payee(1), cumulative: 100, sequence: 1)
        try Self.lines([a1]).write(toFile: f.directory + "/first.jsonl", atomically: true, encoding: .utf8)
        let first = try ChildProcess.run(
            Binary.paratii, ["payee", "accept", "--store", url, f.directory + "/first.jsonl"], environment: environment(f))
        guard first.status == 0 else { throw PostgresHarnessError("first accept: \(first.stderr)") }
        let a2 = try signedVoucher(f, under: delegation, payee: Self.payee(1), cumulative: 200, sequence: 2)
        let b1 = try signedVoucher(f, under: delegation, payee: Self.payee(2), cumulative: 300, sequence: 1)
        try Self.lines([a2, b1]).write(toFile: f.directory + "/batch.jsonl", atomically: true, encoding: .utf8)
        guard case .voucher(let blocked) = b1.message else { throw PostgresHarnessError("not a voucher") }
        try server.session(
            "BEGIN; INSERT INTO receipts VALUES ('\(PostgresPayeeStore.channelKey(blocked))', 1, 1, 'x'); SELECT pg_sleep(60); COMMIT",
            database: database)
        let accept = Process()
        accept.executableURL = Binary.paratii
        accept.arguments = ["payee", "accept", "--store", url, f.directory + "/batch.jsonl"]
        accept.environment = ProcessInfo.processInfo.environment.merging(environment(f)) { $1 }
        let err = Pipe()
        accept.standardError = err
        accept.standardOutput = FileHandle.nullDevice
        accept.standardInput = FileHandle.nullDevice
        try accept.run()
        try server.waitForBlockedPayee(database: database)
        return (accept, err)
    }

    /// After the failed batch: only A's first voucher is stored, and the same batch then goes through.
    static func expectNothingHalfWrittenAndResume(_ server: PostgresServer, database: String, _ f: WalletFixture) throws {
        #expect(try server.psql("SELECT count(*) FROM receipts", database: database) == "1")
        #expect(try server.psql("SELECT string_agg(cumulative::text || '@' || sequence, ',') FROM channels", database: database) == "100@1")
        let again = try ChildProcess.run(
            Binary.paratii, ["payee", "accept", "--store", server.url(database), f.directory + "/batch.jsonl"], environment: environment(f))
        #expect(again.status == 0, "\(again.stderr)")
        #expect(
            try server.psql(
                "SELECT string_agg(cumulative::text || '@' || sequence, ',' ORDER BY cumulative) FROM channels", database: database)
                == "200@2,300@1")
    }

    /// The server stops while a batch waits mid-transaction: the command fails with one line, nothing
    /// of the batch is stored, and the same batch is accepted once the server is back.
    @Test func aServerStoppedMidBatchLosesNothingAndAcceptsResume() throws {
        let (f, delegation) = try Self.fixture()
        defer { f.cleanup() }
        let server = try PostgresServer()
        defer { server.remove() }
        let (accept, err) = try Self.blockedAccept(server, database: "paratii", f, delegation)
        try server.stop()
        accept.waitUntilExit()
        let message = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        #expect(accept.terminationStatus != 0)
        #expect(message.split(separator: "\n").count == 1 && message.contains("nothing of this batch was stored"), "\(message)")
        try server.start()
        try Self.expectNothingHalfWrittenAndResume(server, database: "paratii", f)
    }

    /// The accepting connection is killed (`pg_terminate_backend`) while its batch waits mid-transaction:
    /// the batch fails whole with one line, and goes through when sent again.
    @Test func aConnectionKilledMidTransactionRollsBackWhole() throws {
        let (f, delegation) = try Self.fixture()
        defer { f.cleanup() }
        let server = PostgresServer.shared
        let database = try server.newDatabaseName()
        let (accept, err) = try Self.blockedAccept(server, database: database, f, delegation)
        try server.psql(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'paratii-payee' AND wait_event_type = 'Lock'",
            database: database)
        accept.waitUntilExit()
        let message = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        #expect(accept.terminationStatus != 0)
        #expect(message.split(separator: "\n").count == 1 && message.contains("nothing of this batch was stored"), "\(message)")
        try server.endSessions(database: database)
        try Self.expectNothingHalfWrittenAndResume(server, database: database, f)
    }

    /// One long-lived store (as `payee serve` keeps one) whose connections are killed twice: idle
    /// between batches (the next batch goes through on a new connection, no failure seen), then while a
    /// batch waits mid-transaction (that batch fails whole with one line, nothing of it stored; the same
    /// store accepts it next time).
    /// Time-limited: under heavy load a few loop runs of this test were seen waiting for ever after the
    /// idle kill (cause not found, see the README); a limit turns that into a failure instead of a hung CI.
    @Test(.timeLimit(.minutes(1))) func aLongLivedStoreReconnectsAfterItsConnectionsAreKilled() async throws {
        let (f, delegation) = try Self.fixture()
        defer { f.cleanup() }
        let server = PostgresServer.shared
        let database = try server.newDatabaseName()
        let store = try await PostgresPayeeStore(location: PostgresLocation(server.url(database)), verifier: Verifier(domain: f.domain))
        let kill = """
            SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE application_name = 'paratii-payee'
            AND datname = current_database()
            """
        func voucher(_ payee: Int, _ amount: BigUInt, _ sequence: UInt64) throws -> Envelope {
            try signedVoucher(f, under: delegation, payee: Self.payee(payee), cumulative: amount, sequence: sequence)
        }
        #expect(try await store.acceptBatch([try voucher(1, 100, 1)]).map(describe) == ["accepted 100 +100"])
        #expect(try await Blocking.run { try server.psql(kill, database: database) } != "0")
        #expect(try await store.acceptBatch([try voucher(1, 150, 2)]).map(describe) == ["accepted 150 +50"])

        // Mid-transaction: B's receipt is held by another session, so the batch waits with A's receipt written.
        let a = try voucher(1, 200, 3), b = try voucher(2, 300, 1)
        guard case .voucher(let blocked) = b.message else { return }
        try await Blocking.run {
            try server.session(
                "BEGIN; INSERT INTO receipts VALUES ('\(PostgresPayeeStore.channelKey(blocked))', 1, 1, 'x'); SELECT pg_sleep(60); COMMIT",
                database: database)
        }
        let inFlight = Task { try await store.acceptBatch([a, b]) }
        try await Blocking.run {
            try server.waitForBlockedPayee(database: database)
            try server.psql(kill, database: database)
            try server.endSessions(database: database)
        }
        do {
            _ = try await inFlight.value
            Issue.record("the batch whose connection was killed was accepted")
        } catch {
            #expect("\(error)".split(separator: "\n").count == 1 && "\(error)".contains("nothing of this batch was stored"), "\(error)")
        }
        #expect(try await Blocking.run { try server.psql("SELECT count(*) FROM receipts", database: database) } == "2")
        #expect(try await store.acceptBatch([a, b]).map(describe) == ["accepted 200 +50", "accepted 300 +300"])
        let stored = try await Blocking.run {
            try server.psql(
                "SELECT string_agg(cumulative::text || '@' || sequence, ',' ORDER BY cumulative) FROM channels", database: database)
        }
        #expect(stored == "200@3,300@1")
        await store.close()
    }

    /// Passwords come from a pgpass file (the URL's `passfile` or `PGPASSFILE`), owner-only, and never
    /// appear in a message; TLS is required when the URL says so.
    @Test func credentialsComeFromAPasswordFileAndAreNeverShown() async throws {
        let (f, _) = try Self.fixture()
        defer { f.cleanup() }
        let server = PostgresServer.shared
        let verifier = Verifier(domain: f.domain)
        let tcp = "postgres://paratii@127.0.0.1:\(server.port)/paratii"
        let passfile = server.directory + "/pgpass"
        let password = try String(contentsOfFile: passfile, encoding: .utf8).split(separator: ":").last!.trimmingCharacters(in: .newlines)
        let viaURL = try await PayeeStores.open(tcp + "?sslmode=disable&passfile=\(passfile)", verifier: verifier)
        _ = try await viaURL.channels()
        await viaURL.close()
        let viaEnvironment = try await PostgresPayeeStore(
            location: PostgresLocation(tcp + "?sslmode=disable", environment: ["PGPASSFILE": passfile]), verifier: verifier)
        _ = try await viaEnvironment.channels()
        await viaEnvironment.close()

        func refusal(_ url: String, environment: [String: String] = [:]) async -> String {
            do {
                let store = try await PostgresPayeeStore(location: PostgresLocation(url, environment: environment), verifier: verifier)
                await store.close()
                return "opened"
            } catch { return "\(error)" }
        }
        #expect(await refusal(tcp + "?sslmode=disable").contains("passfile"))
        #expect(await refusal(tcp + "?sslmode=require&passfile=\(passfile)").contains("does not offer TLS"))
        let plain = try ChildProcess.run(
            Binary.paratii, ["payee", "channels", "--store", tcp + "?sslmode=require&passfile=\(passfile)"],
            environment: Self.environment(f))
        #expect(plain.status != 0 && plain.stderr.split(separator: "\n").count == 1 && plain.stderr.contains("does not offer TLS"))
        #expect(!plain.stderr.contains(password))
        let inline = await refusal("postgres://paratii:\(password)@127.0.0.1:\(server.port)/paratii")
        #expect(inline.contains("password in the URL is refused") && !inline.contains(password))
        let loose = f.directory + "/loose-pgpass"
        try "127.0.0.1:\(server.port):paratii:paratii:\(password)\n".write(toFile: loose, atomically: true, encoding: .utf8)
        chmod(loose, 0o644)
        let looseRefusal = await refusal(tcp + "?sslmode=disable&passfile=\(loose)")
        #expect(looseRefusal.contains("readable by others") && !looseRefusal.contains(password))
        let wrong = f.directory + "/wrong-pgpass"
        try "*:*:*:paratii:not-\(password)\n".write(toFile: wrong, atomically: true, encoding: .utf8)
        chmod(wrong, 0o600)
        // The CLI's one line for a wrong password names the server, never either password.
        let run = try ChildProcess.run(
            Binary.paratii, ["payee", "channels", "--store", tcp + "?sslmode=disable&passfile=\(wrong)"], environment: Self.environment(f))
        #expect(run.status != 0 && run.stderr.split(separator: "\n").count == 1 && run.stderr.contains("28P01"), "\(run.stderr)")
        #expect(!run.stderr.contains(password))
    }

    /// TLS when the URL asks for it, against a private server with TLS on and a CA and certificate (for
    /// the name localhost) made at test time. The server's pg_stat_ssl shows what each URL got:
    /// `require` encrypts, `verify-full` with the CA in `sslrootcert` passes for localhost, `verify-ca`
    /// for 127.0.0.1, `disable` is plain. `verify-full` to 127.0.0.1 (not the certificate's name), a CA
    /// that signed nothing and an unreadable `sslrootcert` each fail with one line, never the password.
    @Test func tlsWhenTheURLAsksForIt() async throws {
        let (f, _) = try Self.fixture()
        defer { f.cleanup() }
        let server = try PostgresServer()
        defer { server.remove() }
        try server.enableTLS()
        let password = try String(contentsOfFile: server.directory + "/pgpass", encoding: .utf8).split(separator: ":").last!
            .trimmingCharacters(in: .newlines)
        // Any host name: the certificate says localhost, the plain connections go to 127.0.0.1.
        let passfile = f.directory + "/pgpass"
        try "*:\(server.port):*:paratii:\(password)\n".write(toFile: passfile, atomically: true, encoding: .utf8)
        chmod(passfile, 0o600)
        let ca = server.directory + "/tls/ca.crt"
        func url(_ host: String, _ query: String) -> String {
            "postgres://paratii@\(host):\(server.port)/paratii?passfile=\(passfile)&\(query)"
        }
        func encrypted(_ url: String) async throws -> String {
            let store = try await PostgresPayeeStore(location: PostgresLocation(url), verifier: Verifier(domain: f.domain))
            _ = try await store.channels()
            let ssl = try server.psql(
                """
                SELECT coalesce(string_agg(DISTINCT s.ssl::text, ','), 'none') FROM pg_stat_ssl s JOIN pg_stat_activity a USING (pid)
                WHERE a.application_name = 'paratii-payee'
                """)
            await store.close()
            try server.psql("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'paratii-payee'")
            return ssl
        }
        #expect(try await encrypted(url("127.0.0.1", "sslmode=require")) == "true")
        #expect(try await encrypted(url("localhost", "sslmode=verify-full&sslrootcert=\(ca)")) == "true")
        #expect(try await encrypted(url("127.0.0.1", "sslmode=verify-ca&sslrootcert=\(ca)")) == "true")
        #expect(try await encrypted(url("127.0.0.1", "sslmode=disable")) == "false")
        let refusals = [
            (url("127.0.0.1", "sslmode=verify-full&sslrootcert=\(ca)"), "certificate is not for this host name"),
            (url("localhost", "sslmode=verify-full&sslrootcert=\(server.directory)/tls/other-ca.crt"), "not signed by a trusted CA"),
            (url("localhost", "sslmode=verify-full&sslrootcert=\(f.directory)/none.crt"), "sslrootcert"),
        ]
        for (url, mention) in refusals {
            let run = try ChildProcess.run(Binary.paratii, ["payee", "channels", "--store", url], environment: Self.environment(f))
            #expect(
                run.status != 0 && run.stderr.split(separator: "\n").count == 1 && run.stderr.contains(mention), "\(url): \(run.stderr)")
            #expect(!run.stderr.contains(password))
        }
    }

    /// Every table but the migrations' bookkeeping is hash-partitioned by channel (what Citus distributes
    /// by), and the migrations are recorded by name.
    /// Each channel keeps the chain its own voucher came with, also when one batch brings two chains of
    /// one delegation (with and without the card's attestation): the chain's JSON is written once per
    /// distinct chain, never borrowed from another channel's.
    @Test func eachNewChannelKeepsItsOwnChainWithinOneBatch() async throws {
        let f = try WalletFixture()
        defer { f.cleanup() }
        let institution = PrivateKey.generate()
        let attestation = try f.attestation(by: institution)
        let delegation = try f.delegation()
        func voucher(to payee: Address, parents: [Envelope]) throws -> Envelope {
            try Envelope.sign(
                Voucher(
                    delegation: delegation.id, payee: payee, token: .zero, cumulative: WalletFixture.wei("0.0001"), sequence: 1,
                    memo: Keccak256.hash("m")), domain: f.domain, signer: f.wallet.spendingKey, parents: parents)
        }
        let plain = try voucher(to: f.payee, parents: [delegation])
        let attested = try voucher(to: f.otherPayee, parents: [delegation, attestation])
        let store = try await StoreKind.postgres.make(f)
        defer { Task { await store.close() } }
        let outcomes = try await store.acceptBatch([plain, attested, try voucher(to: f.payee, parents: [delegation])])
        #expect(
            outcomes.map(describe) == [
                "accepted 100000000000000 +100000000000000", "accepted 100000000000000 +100000000000000", "duplicate 100000000000000",
            ])
        var chains: [Address: [String]] = [:]
        for item in try await store.export() {
            let envelope = try Envelope(json: item)
            guard case .voucher(let exported) = envelope.message else { continue }
            chains[exported.payee] = envelope.parents.map(\.kind)
        }
        #expect(chains[f.payee] == ["SpendingDelegation"])
        #expect(chains[f.otherPayee] == ["SpendingDelegation", "CardAttestation"])
    }

    @Test func theSchemaIsPartitionedByChannelAndItsMigrationsNamed() async throws {
        let (f, _) = try Self.fixture()
        defer { f.cleanup() }
        let server = PostgresServer.shared
        let database = try server.newDatabaseName()
        let store = try await PostgresPayeeStore(location: PostgresLocation(server.url(database)), verifier: Verifier(domain: f.domain))
        await store.close()
        let keys = try server.psql(
            """
            SELECT string_agg(c.relname || ':' || p.partstrat::text || ':' || a.attname, ',' ORDER BY c.relname)
            FROM pg_partitioned_table p JOIN pg_class c ON c.oid = p.partrelid
            JOIN pg_attribute a ON a.attrelid = p.partrelid AND a.attnum = p.partattrs[0]
            """, database: database)
        #expect(keys == "channels:h:channel,receipts:h:channel,redemptions:h:channel")
        #expect(
            try server.psql("SELECT string_agg(name, ',' ORDER BY name) FROM payee_migrations", database: database)
                == "001-channels-receipts,002-redemptions")
        // A second process opening the same database migrates nothing again.
        let second = try await PostgresPayeeStore(location: PostgresLocation(server.url(database)), verifier: Verifier(domain: f.domain))
        await second.close()
        #expect(try server.psql("SELECT count(*) FROM payee_migrations", database: database) == "2")
    }
}
