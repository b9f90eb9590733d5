import BigInt
import Delegation
import Ethereum
import Foundation
import Logging
import PlayerCore
import PostgresNIO
import Synchronization

/// The payee store on PostgreSQL: PlayerCore's rules (`VoucherCheck`, `ChannelRules`) over a database
/// that any number of accept processes share. Nothing about a channel is kept in process memory
/// between batches: each batch is one transaction that locks its channels' rows (in channel order, so
/// two processes never deadlock), judges its vouchers against what is stored, and writes the receipts
/// and the new best vouchers. A channel that did not exist is inserted only if it still does not:
/// when another process created it meanwhile, the batch rolls back and is judged again.
public final class PostgresPayeeStore: PayeeStoring {
    let client: PostgresClient
    let runner: Task<Void, Never>
    let checks: VoucherCheck
    let clock: @Sendable () -> UInt64
    let location: PostgresLocation
    let logger: Logger = {
        // postgres-nio's own warnings would reach the user's terminal unasked; failures come back as errors.
        var logger = Logger(label: "paratii.payee.postgres")
        logger.logLevel = .critical
        return logger
    }()

    /// Connects once (so a wrong address or password fails here with its own line), migrates, then
    /// starts the pool. `connections` bounds the pool.
    public init(
        location: PostgresLocation, verifier: Verifier, payees: Set<Address> = [], connections: Int = 4,
        clock: @escaping @Sendable () -> UInt64 = Wallet.systemClock
    ) async throws {
        let password = try location.password()
        var configuration = try location.clientConfiguration(password: password)
        configuration.options.maximumConnections = connections
        configuration.options.connectTimeout = .seconds(10)
        configuration.options.additionalStartupParameters = [("application_name", "paratii-payee")]
        self.location = location
        checks = VoucherCheck(verifier: verifier, payees: payees)
        self.clock = clock
        let logger = logger
        do {
            var first = try location.connectionConfiguration(password: password)
            first.options.connectTimeout = .seconds(10)
            first.options.additionalStartupParameters = configuration.options.additionalStartupParameters
            let connection = try await PostgresConnection.connect(configuration: first, id: 0, logger: logger)
            do { try await Schema.migrate(connection, logger: logger) } catch {
                try? await connection.close()
                throw error
            }
            try await connection.close()
        } catch let error as PostgresStoreError {
            throw error
        } catch {
            throw PostgresStoreError.unavailable("\(location.printable): \(Self.describe(error))")
        }
        client = PostgresClient(configuration: configuration, backgroundLogger: logger)
        runner = Task { [client] in await client.run() }
    }

    /// Stops the pool without waiting for it: after a connection died mid-query the pool's shutdown can
    /// wait for ever on it, and a command that already has its one-line answer must exit.
    public func close() async {
        runner.cancel()
    }

    deinit { runner.cancel() }

    /// A retry: the batch met a channel another process wrote meanwhile; its transaction rolled back.
    struct Raced: Error {}

    /// A pooled connection that died while idle (killed, server restarted) and failed at BEGIN: nothing
    /// was sent on it, so the work is tried again on a new connection. The pool learns of a death only
    /// when the connection's close reaches it, which a kill right before a batch can outrun.
    struct Stale: Error { let underlying: any Error }

    /// How often a stale connection is replaced, and the pause before each try: the pool hands the same
    /// dead connection out again until its close has reached the pool.
    static let staleRetries = 10
    static func staleBackoff(_ attempt: Int) async { try? await Task.sleep(for: .milliseconds(25 * attempt)) }

    /// The connection died after COMMIT was sent: the server may or may not have committed.
    struct CommitUnknown: Error { let underlying: any Error }

    /// The connection is gone: closed under us, or the server's last words on it (57P0x: terminated by an
    /// administrator, a crash or a shutdown; 08xxx: connection exceptions).
    static func lostConnection(_ error: any Error) -> Bool {
        guard let error = error as? PSQLError else { return false }
        if let state = error.serverInfo?[.sqlState] { return state.hasPrefix("57P0") || state.hasPrefix("08") }
        return [.serverClosedConnection, .clientClosedConnection, .uncleanShutdown, .connectionError].contains(error.code)
    }

    public func acceptBatch(_ envelopes: [Envelope]) async throws(VoucherRejection) -> [Result<PayeeStore.Outcome, VoucherRejection>] {
        let now = clock()
        // Verifying in the background from here: the transaction's locks and reads overlap the first
        // chunk, each chunk's receipts the next chunk. A retry reuses what was verified.
        let verifying = checks.start(envelopes, now: now)
        var attempt = 0
        while true {
            do {
                return try await client.withConnection { connection in
                    try await self.transaction(connection) { try await self.apply(verifying, envelopes, now: now, $0) }
                }
            } catch is Raced where attempt < 20 {
                attempt += 1
            } catch is Stale where attempt < Self.staleRetries {
                attempt += 1
                await Self.staleBackoff(attempt)
            } catch let error as PSQLError where ["40P01", "40001"].contains(error.serverInfo?[.sqlState]) && attempt < 20 {
                attempt += 1  // deadlock or serialization failure: the server rolled back; judge again
            } catch let rejection as VoucherRejection {
                throw rejection
            } catch let unknown as CommitUnknown {
                throw .storage(
                    "\(location.printable): \(Self.describe(unknown.underlying)) during COMMIT: the batch may have been stored; send it again (what was stored comes back as duplicates)"
                )
            } catch {
                throw .storage("\(location.printable): \(Self.describe(error)); nothing of this batch was stored")
            }
        }
    }

    /// BEGIN … COMMIT by hand: a failed batch is rolled back only on a connection that still works. After
    /// the server or the connection died the server has rolled it back already, and postgres-nio's own
    /// `withTransaction` could wait for ever on a ROLLBACK sent to a closing connection.
    func transaction<T>(_ connection: PostgresConnection, _ body: (PostgresConnection) async throws -> T) async throws -> T {
        do { try await begin(connection) } catch  where Self.lostConnection(error) || error is BeginFailed {
            throw Stale(underlying: error)
        }
        let result: T
        do {
            result = try await body(connection)
        } catch {
            if let failure = error as? PSQLError, failure.code != .server { throw error }
            // A FATAL from the server (57P01 after pg_terminate_backend) arrives before the connection is
            // marked closed: a ROLLBACK sent in that moment may never be answered.
            if !connection.isClosed && !Self.lostConnection(error) { _ = try? await connection.query("ROLLBACK", logger: logger) }
            throw error
        }
        do { try await connection.query("COMMIT", logger: logger) } catch  where Self.lostConnection(error) {
            throw CommitUnknown(underlying: error)
        }
        return result
    }

    /// BEGIN, bounded: on a pooled connection the server has just terminated, a query can be written
    /// before the pool hears of the close and then never be answered. Nothing was sent the server keeps,
    /// so after `beginLimit` the connection is closed and the batch tried again on another.
    func begin(_ connection: PostgresConnection) async throws {
        if connection.isClosed { throw BeginFailed(reason: "the pooled connection was closed") }
        let logger = self.logger
        let once = OnceResume()
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
            once.set(continuation)
            let timer = Task {
                try await Task.sleep(for: Self.beginLimit)
                if once.resume(throwing: BeginFailed(reason: "the connection did not answer BEGIN within \(Self.beginLimit)")) {
                    try? await connection.close()
                }
            }
            Task {
                defer { timer.cancel() }
                do { try await connection.query("BEGIN", logger: logger) } catch { once.resume(throwing: error); return }
                once.resume(throwing: nil)
            }
        }
    }

    static let beginLimit: Duration = .seconds(5)
    struct BeginFailed: Error, CustomStringConvertible {
        let reason: String
        var description: String { reason }
    }

    /// The channel key: one hex text per (delegation, payee, token), the distribution column.
    public static func channelKey(_ voucher: Voucher) -> String {
        channelKey(delegation: voucher.delegation, payee: voucher.payee, token: voucher.token)
    }

    static func channelKey(delegation: [UInt8], payee: Address, token: Address) -> String {
        Keccak256.hash(delegation + payee.bytes + token.bytes).hexString
    }

    private func apply(
        _ verifying: VerifyingBatch, _ envelopes: [Envelope], now: UInt64, _ connection: PostgresConnection
    ) async throws -> [Result<PayeeStore.Outcome, VoucherRejection>] {
        // Channels from the vouchers as sent, while they verify: locking the row of a voucher that turns
        // out invalid only holds a row this batch leaves as it was.
        let vouchers = envelopes.map { envelope -> Voucher? in if case .voucher(let voucher) = envelope.message { voucher } else { nil } }
        // One Keccak and one hex text per channel, not per voucher (a batch repeats its channels).
        var known: [ChannelBytes: String] = [:]
        let keys = vouchers.map { voucher in
            voucher.map { voucher in
                let bytes = ChannelBytes(voucher)
                if let key = known[bytes] { return key }
                let key = Self.channelKey(voucher)
                known[bytes] = key
                return key
            }
        }
        let distinct = Set(keys.compactMap { $0 }).sorted()
        // 1. Lock the channels that exist, in channel order, and read their best.
        var held: [String: ChannelRules.Best] = [:]
        let locked = try await connection.query(
            "SELECT channel, cumulative::text, sequence FROM channels WHERE channel = ANY(\(distinct)) ORDER BY channel FOR UPDATE",
            logger: logger)
        for try await (channel, cumulative, sequence) in locked.decode((String, String, Int64).self) {
            held[channel] = ChannelRules.Best(cumulative: try Self.amount(cumulative), sequence: UInt64(sequence))
        }
        let existing = Set(held.keys)
        // 2. What was accepted at the sequences this batch repeats (a duplicate, or a conflict).
        var seen: [String: [UInt64: BigUInt]] = [:]
        let repeats = vouchers.indices.filter { i in
            guard let key = keys[i], let best = held[key], let voucher = vouchers[i] else { return false }
            return voucher.sequence <= best.sequence
        }
        if !repeats.isEmpty {
            let channels = repeats.map { keys[$0]! }
            let sequences = repeats.map { Int64(clamping: vouchers[$0]!.sequence) }
            let rows = try await connection.query(
                """
                SELECT r.channel, r.sequence, r.cumulative::text FROM receipts r
                JOIN unnest(\(channels)::text[], \(sequences)::int8[]) AS w(channel, sequence)
                ON r.channel = w.channel AND r.sequence = w.sequence
                """, logger: logger)
            for try await (channel, sequence, cumulative) in rows.decode((String, Int64, String).self) {
                seen[channel, default: [:]][UInt64(sequence)] = try Self.amount(cumulative)
            }
        }
        // 3. The rules, in batch order, each voucher against the best so far, chunk by chunk as verified;
        // 4. each chunk's receipts: a key taken meanwhile means another process judged this channel first.
        var outcomes: [Result<PayeeStore.Outcome, VoucherRejection>] = []
        var best: [String: (voucher: Voucher, delegation: SpendingDelegation, envelope: Envelope)] = [:]
        for k in verifying.ranges.indices {
            var receipts: [(channel: String, sequence: Int64, cumulative: String, id: String)] = []
            for (j, result) in await verifying.chunk(k).enumerated() {
                let i = verifying.ranges[k].lowerBound + j
                outcomes.append(
                    result.flatMap { voucher, delegation in
                        Result { () throws(VoucherRejection) in
                            let key = keys[i]!
                            let channel = ChannelState(
                                delegation: voucher.delegation, master: delegation.master, spender: delegation.spender,
                                payee: voucher.payee,
                                token: voucher.token, cumulative: voucher.cumulative, sequence: voucher.sequence)
                            let verdict = try ChannelRules.judge(voucher, held: held[key]) { (sequence: UInt64) throws(Never) in
                                seen[key]?[sequence]
                            }
                            guard case .accepted(let increase) = verdict else { return .duplicate(channel) }
                            held[key] = ChannelRules.Best(cumulative: voucher.cumulative, sequence: voucher.sequence)
                            seen[key, default: [:]][voucher.sequence] = voucher.cumulative
                            receipts.append(
                                (key, Int64(voucher.sequence), StoredChannel.decimal(voucher.cumulative), envelopes[i].id.hexString))
                            best[key] = (voucher, delegation, envelopes[i])
                            return .accepted(channel, increase: increase)
                        }
                    })
            }
            guard !receipts.isEmpty else { continue }
            let inserted = try await count(
                connection.query(
                    """
                    INSERT INTO receipts (channel, sequence, cumulative, voucher_id)
                    SELECT channel, sequence, cumulative::numeric, id FROM
                        unnest(\(receipts.map(\.channel))::text[], \(receipts.map(\.sequence))::int8[],
                               \(receipts.map(\.cumulative))::text[], \(receipts.map(\.id))::text[]) AS r(channel, sequence, cumulative, id)
                    ON CONFLICT (channel, sequence) DO NOTHING RETURNING 1
                    """, logger: logger))
            guard inserted == receipts.count else { throw Raced() }
        }
        guard !best.isEmpty else { return outcomes }
        // 5. The best vouchers: new channels only if still new; locked ones only upwards (the row lock
        //    already serializes them; the condition keeps a bug from ever lowering a channel).
        let written = best.sorted { $0.key < $1.key }
        let fresh = written.filter { !existing.contains($0.key) }
        let raised = written.filter { existing.contains($0.key) }
        if !fresh.isEmpty {
            let columns = Self.columns(fresh.map { ($0.key, $0.value) }, now: now, chains: true)
            let created = try await count(
                connection.query(
                    """
                    INSERT INTO channels (channel, delegation_id, payee, token, master, spender, cumulative, sequence, memo, signature,
                        parents, updated_at)
                    SELECT c, d, p, t, m, s, cu::numeric, sq, me, sg, pa, \(Int64(clamping: now)) FROM
                        unnest(\(columns.channel)::text[], \(columns.delegation)::text[], \(columns.payee)::text[], \(columns.token)::text[],
                               \(columns.master)::text[], \(columns.spender)::text[], \(columns.cumulative)::text[], \(columns.sequence)::int8[],
                               \(columns.memo)::text[], \(columns.signature)::text[], \(columns.parents)::text[])
                            AS n(c, d, p, t, m, s, cu, sq, me, sg, pa)
                    ON CONFLICT (channel) DO NOTHING RETURNING 1
                    """, logger: logger))
            guard created == fresh.count else { throw Raced() }
        }
        if !raised.isEmpty {
            let columns = Self.columns(raised.map { ($0.key, $0.value) }, now: now, chains: false)
            let updated = try await count(
                connection.query(
                    """
                    UPDATE channels SET cumulative = u.cu::numeric, sequence = u.sq, memo = u.me, signature = u.sg,
                        updated_at = \(Int64(clamping: now))
                    FROM unnest(\(columns.channel)::text[], \(columns.cumulative)::text[], \(columns.sequence)::int8[],
                                \(columns.memo)::text[], \(columns.signature)::text[]) AS u(c, cu, sq, me, sg)
                    WHERE channels.channel = u.c AND channels.cumulative < u.cu::numeric AND channels.sequence < u.sq
                    RETURNING 1
                    """, logger: logger))
            guard updated == raised.count else { throw VoucherRejection.storage("a locked channel changed under its lock") }
        }
        return outcomes
    }

    private struct Columns {
        var channel: [String] = [], delegation: [String] = [], payee: [String] = [], token: [String] = []
        var master: [String] = [], spender: [String] = [], cumulative: [String] = [], sequence: [Int64] = []
        var memo: [String] = [], signature: [String] = [], parents: [String] = []
    }

    private static func columns(
        _ rows: [(String, (voucher: Voucher, delegation: SpendingDelegation, envelope: Envelope))], now: UInt64, chains: Bool
    )
        -> Columns
    {
        var c = Columns()
        // The chain's JSON only for new channels (a raised one keeps its row's), and once per distinct chain
        // (its links' ids and signatures): channels of one delegation share it, and writing it for each
        // cost microseconds per voucher.
        var chainText: [[UInt8]: String] = [:]
        for (key, entry) in rows {
            c.channel.append(key)
            c.delegation.append(entry.voucher.delegation.hexString)
            c.payee.append(entry.voucher.payee.bytes.hexString)
            c.token.append(entry.voucher.token.bytes.hexString)
            c.master.append(entry.delegation.master.bytes.hexString)
            c.spender.append(entry.delegation.spender.bytes.hexString)
            c.cumulative.append(StoredChannel.decimal(entry.voucher.cumulative))
            c.sequence.append(Int64(entry.voucher.sequence))
            c.memo.append(entry.voucher.memo.hexString)
            c.signature.append(entry.envelope.signature.hexString)
            guard chains else { continue }
            let chain = entry.envelope.parents.flatMap { $0.id + $0.signature }
            if chainText[chain] == nil { chainText[chain] = JSONValue.array(entry.envelope.parents.map(\.json)).compactText }
            c.parents.append(chainText[chain]!)
        }
        return c
    }

    private func count(_ rows: PostgresRowSequence) async throws -> Int {
        var n = 0
        for try await _ in rows { n += 1 }
        return n
    }

    static func amount(_ text: String) throws -> BigUInt {
        guard let value = BigUInt(text, radix: 10) else { throw VoucherRejection.storage("corrupted amount \(text)") }
        return value
    }

    public func channels() async throws -> [ChannelState] {
        try await reporting {
            var delegations: [String: SpendingDelegation?] = [:]
            var result: [ChannelState] = []
            let rows = try await client.query(
                """
                SELECT delegation_id, master, spender, payee, token, cumulative::text, sequence, parents FROM channels
                ORDER BY master, delegation_id, payee, token
                """, logger: logger)
            for try await (id, master, spender, payee, token, cumulative, sequence, parents) in rows.decode(
                (String, String, String, String, String, String, Int64, String).self)
            {
                if delegations[id] == nil { delegations[id] = .some(StoredChannel.spending(parents: parents)) }
                var channel = ChannelState(
                    delegation: try [UInt8](hex: id), master: try Address(master), spender: try Address(spender), payee: try Address(payee),
                    token: try Address(token), cumulative: try Self.amount(cumulative), sequence: UInt64(sequence))
                channel.total = delegations[id]??.allowance(for: channel.token)?.total
                result.append(channel)
            }
            return result
        }
    }

    public func export() async throws -> [JSONValue] {
        try await reporting {
            var result: [JSONValue] = []
            let rows = try await client.query(
                """
                SELECT delegation_id, payee, token, cumulative::text, sequence, memo, signature, parents FROM channels
                ORDER BY master, delegation_id, payee, token
                """, logger: logger)
            for try await (id, payee, token, cumulative, sequence, memo, signature, parents) in rows.decode(
                (String, String, String, String, Int64, String, String, String).self)
            {
                let voucher = Voucher(
                    delegation: try [UInt8](hex: id), payee: try Address(payee), token: try Address(token),
                    cumulative: try Self.amount(cumulative), sequence: UInt64(sequence), memo: try [UInt8](hex: memo))
                result.append(try StoredChannel.envelope(voucher, signature: try [UInt8](hex: signature), parents: parents).json)
            }
            return result
        }
    }

    /// A read or a write outside a batch: a database failure becomes one line naming the server.
    /// A connection found dead at its first statement is replaced (see `Stale`); a read
    /// (`idempotent`) that lost its connection is simply read again.
    func reporting<T>(idempotent: Bool = true, _ body: () async throws -> T) async throws -> T {
        var attempt = 0
        while true {
            do { return try await body() } catch is Stale where attempt < Self.staleRetries {
                attempt += 1
                await Self.staleBackoff(attempt)
            } catch  where idempotent && Self.lostConnection(error) && attempt < 3 {
                attempt += 1
            } catch let error as PSQLError {
                throw PostgresStoreError.unavailable("\(location.printable): \(Self.describe(error))")
            } catch let error as Stale {
                throw PostgresStoreError.unavailable("\(location.printable): \(Self.describe(error.underlying))")
            } catch let error as CommitUnknown {
                throw PostgresStoreError.unavailable(
                    "\(location.printable): \(Self.describe(error.underlying)) during COMMIT: it may have been recorded; run again")
            }
        }
    }

    /// One line from postgres-nio's error (whose own description hides everything): the server's
    /// message and SQLSTATE, or what happened to the connection.
    static func describe(_ error: any Error) -> String {
        if let error = error as? PostgresStoreError { return error.description }
        if let error = error as? Stale { return describe(error.underlying) }
        guard let error = error as? PSQLError else { return "\(error)" }
        if let message = error.serverInfo?[.message] {
            return "\(message) (SQLSTATE \(error.serverInfo?[.sqlState] ?? "?"))"
        }
        switch error.code {
        case .sslUnsupported: return "the server does not offer TLS, and the URL asks for it (sslmode)"
        case .authMechanismRequiresPassword: return "the server wants a password: give ?passfile=FILE or PGPASSFILE"
        case .serverClosedConnection, .uncleanShutdown: return "the server closed the connection"
        case .clientClosedConnection: return "the connection was closed"
        default: break
        }
        // TLS refusals in the words of libpq's sslmode, not BoringSSL's.
        if (error.underlying as? NIOSSLExtraError) == .failedToValidateHostname {
            return "the server's TLS certificate is not for this host name (sslmode=verify-full checks the name)"
        }
        if let failure = error.underlying as? NIOSSLError, case .handshakeFailed = failure,
            "\(failure)".contains("CERTIFICATE_VERIFY_FAILED")
        {
            return "the server's TLS certificate is not signed by a trusted CA (give the CA as sslrootcert=FILE)"
        }
        if let underlying = error.underlying { return "\(error.code): \(underlying)" }
        return "\(error.code)"
    }
}

/// A continuation resumed by whichever of two tasks finishes first; the other's result is dropped.
final class OnceResume: Sendable {
    private let state = Mutex<(continuation: CheckedContinuation<Void, any Error>?, done: Bool)>((nil, false))

    func set(_ continuation: CheckedContinuation<Void, any Error>) { state.withLock { $0.continuation = continuation } }

    /// Resumes (with `error`, or success when nil) unless already resumed; true when this call did.
    @discardableResult
    func resume(throwing error: (any Error)?) -> Bool {
        let continuation: CheckedContinuation<Void, any Error>? = state.withLock { state in
            guard !state.done else { return nil }
            state.done = true
            return state.continuation
        }
        guard let continuation else { return false }
        if let error { continuation.resume(throwing: error) } else { continuation.resume() }
        return true
    }
}
