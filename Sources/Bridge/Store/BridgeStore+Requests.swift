import Delegation
import Ethereum
import Foundation
import GRDB

extension BridgeStore {
    /// At most this many requests of one player wait at a time: a player cannot bury the user in prompts.
    public static let pendingRequestsPerPairing = 8

    /// Queues a request, within the player's limit. `wallet` (a delegation's spender) becomes the pairing's
    /// wallet if it has none yet. One transaction: the limit holds under concurrent requests, and one commit.
    public func createRequest(
        pairing: String, body: JSONValue, expiry: UInt64, kind: RequestKind = .delegation,
        wallet: Address? = nil
    ) async throws -> BridgeRequest {
        let now = clock()
        let text = body.compactText
        let request = BridgeRequest(
            id: Self.randomID(), kind: kind, pairing: pairing, body: text, state: .pending,
            createdAt: now, expiresAt: now + expiry)
        StoredJSON.remember(text, body)
        return try await write { db in
            try Self.expireOverdue(db, now: now)
            let waiting =
                try Int.fetchOne(
                    db.cachedStatement(sql: "SELECT COUNT(*) FROM \(BridgeRequest.databaseTableName) WHERE pairing = ? AND state = ?"),
                    arguments: [pairing, RequestState.pending.rawValue]) ?? 0
            guard waiting < Self.pendingRequestsPerPairing else { throw BridgeStoreError.tooManyRequests }
            if let wallet { try Self.recordWallet(db, pairing, wallet) }
            try request.append(db)
            try Self.audit(db, at: now, kind: "request.pending", subject: request.id, pairing: pairing, detailText: text)
            return request
        }
    }

    public func request(_ id: String) async throws -> BridgeRequest? {
        try await readExpiring { db in try Self.request(db, id: id) }
    }

    /// A player's own request, found in the same read that checks its bearer token (nil pairing: the token
    /// is unknown or revoked; nil request: none of its own by that id).
    public func request(_ id: String, token: String) async throws -> (pairing: Pairing?, request: BridgeRequest?) {
        let hash = Self.tokenHash(token)
        return try await readExpiring { db in
            guard let pairing = try Self.authenticate(db, tokenHash: hash) else { return (nil, nil) }
            return (pairing, try Self.request(db, id: id).flatMap { $0.pairing == pairing.id ? $0 : nil })
        }
    }

    /// What waits for the user, and every pairing (for the players' names), in one read.
    public func pending() async throws -> (pairings: [Pairing], requests: [BridgeRequest]) {
        // The approver asks this once per approval: cached statements.
        try await readExpiring { db in
            (
                try Pairing.fetchAll(db.cachedStatement(sql: "SELECT * FROM \(Pairing.databaseTableName) ORDER BY createdAt")),
                try BridgeRequest.fetchAll(
                    db.cachedStatement(sql: "SELECT * FROM \(BridgeRequest.databaseTableName) WHERE state = ? ORDER BY createdAt"),
                    arguments: [RequestState.pending.rawValue])
            )
        }
    }

    public func requests(state: RequestState? = nil) async throws -> [BridgeRequest] {
        try await readExpiring { db in
            var query = BridgeRequest.order(BridgeRequest.Columns.createdAt)
            if let state { query = query.filter(BridgeRequest.Columns.state == state) }
            return try query.fetchAll(db)
        }
    }

    /// Settles a pending request: approved (with its envelope or signed transaction and the card's signature
    /// counter), denied or failed. Returns it as settled. The envelope is the one the caller parsed and
    /// checked: stored as its JSON, its id kept as what a revocation may target.
    @discardableResult
    public func settle(
        _ id: String, state: RequestState, envelope: Envelope? = nil, transaction: JSONValue? = nil, reason: String? = nil,
        signatureCounter: Int? = nil
    ) async throws -> BridgeRequest {
        let now = clock()
        let settlement = Settlement(
            state: state, envelope: envelope, transaction: transaction, reason: reason, signatureCounter: signatureCounter)
        return try await write { db in
            try Self.expireOverdue(db, now: now)
            guard let request = try Self.request(db, id: id) else { throw BridgeStoreError.notFound("request") }
            return try settlement.apply(to: request, db, at: now)
        }
    }

    /// Approves a pending delegation request with the envelope `check` makes of it, all in one write (the
    /// approval's one hop off the cooperative pool, no read before it): expiry applied, the request
    /// found (`notFound` otherwise, or when it is not a delegation request), `check` run on it as
    /// stored, then settled as `settle` does (`settled` when it no longer waits). What `check` throws
    /// comes back as it was thrown, and nothing is settled; an expiry made on the way is kept, as when
    /// the request was read (and expired) before the approval's write. `check` gets the store clock's `now`.
    public func approveDelegation(
        _ id: String, signatureCounter: Int?, check: @escaping @Sendable (BridgeRequest, _ now: UInt64) throws -> Envelope
    ) async throws -> BridgeRequest {
        let now = clock()
        let outcome: Result<BridgeRequest, any Error> = try await write { db in
            try Self.expireOverdue(db, now: now)
            guard let request = try Self.request(db, id: id), request.kind == .delegation else {
                throw BridgeStoreError.notFound("request")
            }
            // Refusals return rather than throw, so that what expiry wrote above is committed all the same.
            let envelope: Envelope
            do {
                envelope = try check(request, now)
                guard request.state == .pending else { throw BridgeStoreError.settled("request", state: request.state.rawValue) }
            } catch { return .failure(error) }
            let settlement = Settlement(state: .approved, envelope: envelope, signatureCounter: signatureCounter)
            return .success(try settlement.apply(to: request, db, at: now))
        }
        return try outcome.get()
    }

    /// What settling writes: the request's new state and what it releases, and its audit entry.
    struct Settlement: Sendable {
        let state: RequestState
        let envelope: String?
        let released: [UInt8]?
        let transaction: JSONValue?
        let reason: String?
        let signatureCounter: Int?

        init(
            state: RequestState, envelope: Envelope? = nil, transaction: JSONValue? = nil, reason: String? = nil,
            signatureCounter: Int? = nil
        ) {
            self.state = state
            released = envelope?.id
            let json = envelope?.json
            self.envelope = json?.compactText
            if let text = self.envelope, let json { StoredJSON.remember(text, json) }
            self.transaction = transaction
            self.reason = reason
            self.signatureCounter = signatureCounter
        }

        /// Inside the caller's write, on the request as just read there.
        func apply(to found: BridgeRequest, _ db: Database, at now: UInt64) throws -> BridgeRequest {
            var request = found
            guard request.state == .pending else { throw BridgeStoreError.settled("request", state: request.state.rawValue) }
            request.state = state
            request.envelope = envelope
            request.transaction = transaction?.compactText
            request.reason = reason
            request.delegation = released.map { Data($0) }
            try request.updateSettlement(db)
            var detail: JSONObject = [:]
            if let reason { detail["reason"] = .string(reason) }
            if let hash = transaction?["hash"] { detail["transaction"] = hash }
            if let released { detail["delegation"] = .string(released.hexString) }
            try BridgeStore.audit(
                db, at: now, kind: "request.\(state.rawValue)", subject: request.id, pairing: request.pairing, detail: .object(detail),
                signatureCounter: signatureCounter)
            return request
        }
    }

    /// Marks overdue pending requests and pairings expired (each with its audit entry). A read first, so
    /// the common case (nothing overdue) never waits for the writer.
    public func expirePending() async throws {
        let now = clock()
        guard try await read({ db in try Self.hasOverdue(db, now: now) }) else { return }
        try await write { db in try Self.expireOverdue(db, now: now) }
    }

    /// A read that sees no overdue pending row: one hop to a reader in the common case; when something
    /// fell due, it is expired and the read made inside that same write.
    func readExpiring<T: Sendable>(_ value: @escaping @Sendable (Database) throws -> T) async throws -> T {
        let now = clock()
        let (overdue, result) = try await read { db in (try Self.hasOverdue(db, now: now), try value(db)) }
        guard overdue else { return result }
        return try await write { db in
            try Self.expireOverdue(db, now: now)
            return try value(db)
        }
    }

    /// Asked before every read and every change, so it is one statement compiled once per connection
    /// (GRDB's statement cache), not two query-interface counts generated, compiled and authorized each
    /// time (a tenth of the bridge's CPU per approval, ParatiiBench bridge).
    static func hasOverdue(_ db: Database, now: UInt64) throws -> Bool {
        let statement = try db.cachedStatement(
            sql: """
                SELECT EXISTS (SELECT 1 FROM \(BridgeRequest.databaseTableName) WHERE state = ? AND expiresAt <= ?)
                    OR EXISTS (SELECT 1 FROM \(Pairing.databaseTableName) WHERE state = ? AND expiresAt <= ?)
                """)
        let arguments: StatementArguments = [RequestState.pending.rawValue, now, PairingState.pending.rawValue, now]
        return try Bool.fetchOne(statement, arguments: arguments) ?? false
    }

    /// A request by id through a cached statement (every approval, listing and poll looks one up).
    static func request(_ db: Database, id: String) throws -> BridgeRequest? {
        try BridgeRequest.fetchOne(
            db.cachedStatement(sql: "SELECT * FROM \(BridgeRequest.databaseTableName) WHERE id = ?"), arguments: [id])
    }

    /// Inside the caller's write: every change sees expiry applied first, as a decision on an
    /// overdue request must find it expired.
    static func expireOverdue(_ db: Database, now: UInt64) throws {
        guard try hasOverdue(db, now: now) else { return }
        for var request in try overdueRequests(now).fetchAll(db) {
            request.state = .expired
            try request.update(db, columns: [BridgeRequest.Columns.state])
            try audit(db, at: now, kind: "request.expired", subject: request.id, pairing: request.pairing, detail: .object([:]))
        }
        for var pairing in try overduePairings(now).fetchAll(db) {
            pairing.state = .expired
            try pairing.update(db, columns: [Pairing.Columns.state])
            try audit(db, at: now, kind: "pairing.expired", subject: pairing.id, pairing: pairing.id, detail: .object([:]))
        }
    }

    private static func overdueRequests(_ now: UInt64) -> QueryInterfaceRequest<BridgeRequest> {
        BridgeRequest.filter(BridgeRequest.Columns.state == RequestState.pending && BridgeRequest.Columns.expiresAt <= now)
    }

    private static func overduePairings(_ now: UInt64) -> QueryInterfaceRequest<Pairing> {
        Pairing.filter(Pairing.Columns.state == PairingState.pending && Pairing.Columns.expiresAt <= now)
    }

    /// When store time `due` (the store clock's seconds) comes on the continuous clock that waits use;
    /// a time already past is a second from now, so a wait woken for an expiry reads it expired.
    public func instant(at due: UInt64) -> ContinuousClock.Instant {
        let now = clock()
        return ContinuousClock.now + .seconds(due > now ? due - now : 1)
    }

    /// When the next pending request or pairing falls due (store clock seconds), if any waits.
    public func nextExpiry() async throws -> UInt64? {
        try await read { db in
            let request = try BridgeRequest.filter(BridgeRequest.Columns.state == RequestState.pending)
                .select(min(BridgeRequest.Columns.expiresAt), as: Int64.self).fetchOne(db)
            let pairing = try Pairing.filter(Pairing.Columns.state == PairingState.pending)
                .select(min(Pairing.Columns.expiresAt), as: Int64.self).fetchOne(db)
            return [request, pairing].compactMap { $0 }.min().map { UInt64(max(0, $0)) }
        }
    }
}
