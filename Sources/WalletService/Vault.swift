import Bridge
import Crypto
import Delegation
import Ethereum
import Foundation
import LoopbackHTTP
import PlayerCore

/// The service's state: the unlocked wallet (the key lives only here, only while unlocked), the sites
/// paired with it (token hashes, kept while locked so a locked page still hears "locked", not "not
/// paired"), the pairings waiting for the user, and a log of events the pages long-poll.
/// One lock guards it all; nothing slow (scrypt, fsync, signing) runs under it.
public final class Vault: @unchecked Sendable {
    public let directory: String
    let idleLock: UInt64?
    let settings: WalletServiceSettings
    private let lock = NSLock()
    private var wallet: Wallet?
    private var lastUse = ContinuousClock.now
    private var sites: [String: Site] = [:]
    private var pending: [String: PendingPairing] = [:]
    private var events = EventLog()
    private let payments = PaymentQueue()
    /// Set when the service is configured with a bridge to get its delegations from.
    private(set) var keeper: DelegationKeeper?

    struct PendingPairing {
        let id: String
        let origin: String
        let name: String
        let secretHash: String
        let code: String
        let created: ContinuousClock.Instant
        var approved = false
        /// Handed to the page once, then forgotten: only its hash is stored.
        var token: String?
    }

    public init(directory: String, settings: WalletServiceSettings) {
        self.directory = directory
        self.settings = settings
        self.idleLock = settings.idleLock
        if let source = settings.delegationSource {
            keeper = DelegationKeeper(
                source: source, directory: directory, configuration: settings.configuration,
                wallet: { [weak self] in self?.lock.withLock { self?.wallet } },
                record: { [weak self] type in self?.record(type, origin: nil) }, notice: settings.notice)
        }
    }

    // MARK: - Locking

    /// Opens the keystore (scrypt: a thread of its own) and keeps the wallet in memory.
    public func unlock(password: String) async throws {
        let directory = self.directory
        let opened: Wallet
        do { opened = try await Blocking.run { try Wallet.open(directory: directory, password: password) } } catch let error as WalletError
        {
            throw WalletServiceError.wallet(error)
        }
        let known = try opened.sites()
        lock.withLock {
            wallet = opened
            lastUse = .now
            sites = Dictionary(known.map { ($0.tokenHash, $0) }, uniquingKeysWith: { $1 })
            events.append("unlocked", origin: nil)
        }
        keeper?.check()
    }

    /// Drops the wallet, and with it the key (wiped as its allocation is released).
    public func lockNow() {
        lock.withLock {
            guard wallet != nil else { return }
            wallet = nil
            events.append("locked", origin: nil)
        }
    }

    /// Locks when nothing has used the key for `idleLock` seconds before `now`.
    func lockIfIdle(now: ContinuousClock.Instant = .now) {
        guard let idleLock else { return }
        lock.withLock {
            guard wallet != nil, now - lastUse >= .seconds(idleLock) else { return }
            wallet = nil
            events.append("locked", origin: nil)
        }
    }

    /// A paid voucher: the envelope, its JSON, and the site's budgets as the commit that recorded it left them.
    public struct Paid: Sendable {
        public let envelope: Envelope
        public let json: JSONValue
        public let budgets: [SiteBudget]
    }

    /// Pays for a site through the group commit; a lock before the batch commits refuses it.
    public func pay(_ request: PaymentRequest, site: String) async throws -> Paid {
        do {
            return try await payments.pay(request, site: site) { try self.unlocked() }
        } catch let error as WalletError {
            throw delegationRefusal(error) ?? WalletServiceError.wallet(error)
        }
    }

    /// Refusals a new delegation would cure: the service asks the bridge for one (once, however many pages
    /// ask) and the page hears why it must wait. When a usable delegation is there, the refusal stands as it is.
    static let curable: Set<PaymentRefusal> = [.noDelegation, .unknownToken, .expired, .revoked, .overTotal]

    private func delegationRefusal(_ error: WalletError) -> WalletServiceError? {
        guard case .refused(let reason, _) = error, Self.curable.contains(reason), let keeper else { return nil }
        let status = keeper.check()
        return status.phase == .ready ? nil : .delegation(status)
    }

    /// Where the bridge delegation stands, for pages and local tools (nil: no bridge configured).
    func delegationStatus() -> DelegationKeeper.Status? { keeper?.current }

    /// Looks (or with `force`, asks in any case) now; the admin route and the periodic check.
    @discardableResult
    func checkDelegation(force: Bool = false) throws -> DelegationKeeper.Status? {
        guard let keeper else { return nil }
        if force { _ = try unlocked() }
        return isLocked ? keeper.current : keeper.check(force: force)
    }

    public var isLocked: Bool { lock.withLock { wallet == nil } }

    /// When the key was last used (unlock or a request), the instant idle time counts from.
    var lastUsed: ContinuousClock.Instant { lock.withLock { lastUse } }

    /// The unlocked wallet, for one request; counts as use.
    func unlocked() throws -> Wallet {
        try lock.withLock {
            guard let wallet else { throw WalletServiceError.locked }
            lastUse = .now
            return wallet
        }
    }

    // MARK: - Sites

    /// The site a page's bearer token belongs to, only when the page's Origin is that site's.
    func site(token: String?, origin: String?) throws -> Site {
        guard let origin else { throw WalletServiceError.notPaired("no Origin header: only pages paired with this wallet may use it") }
        let known = token.flatMap { token in lock.withLock { sites[Self.hash(token)] } }
        guard let known, known.origin == origin else {
            throw WalletServiceError.notPaired("\(origin) is not paired with this wallet (or its pairing was revoked): pair first")
        }
        return known
    }

    public func pairedSites() -> [Site] { lock.withLock { sites.values.sorted { $0.origin < $1.origin } } }

    /// A page asks to pair: a pairing id, and a 6-digit code the page shows and the user types into `paratii wallet approve-site`.
    func requestPairing(origin: String, name: String, secretHash: String) throws -> (id: String, code: String) {
        try lock.withLock {
            expirePending()
            guard pending.count < settings.pendingLimit else {
                throw APIError(429, "too_many_pairings", "too many pairings wait for approval; try again later")
            }
            let id = Self.randomHex(16)
            let code = String(format: "%06d", UInt32.random(in: 0..<1_000_000))
            pending[id] = PendingPairing(id: id, origin: origin, name: name, secretHash: secretHash, code: code, created: .now)
            events.append("pairing.requested", origin: nil)
            return (id, code)
        }
    }

    /// What the page sees while it waits: `pending`, then `approved` with the token exactly once.
    func pairingState(id: String, secret: String) throws -> (state: String, token: String?) {
        try lock.withLock {
            expirePending()
            guard let pairing = pending[id], ConstantTime.equal(Array(Self.hash(secret).utf8), Array(pairing.secretHash.utf8)) else {
                throw APIError.notFound("pairing")
            }
            guard pairing.approved else { return ("pending", nil) }
            // Delivered once: the pairing is done, only the token's hash stays (in the wallet).
            pending[id] = nil
            return ("approved", pairing.token)
        }
    }

    public struct PendingView: Sendable {
        public let id: String
        public let origin: String
        public let name: String
    }

    public func pendingPairings() -> [PendingView] {
        lock.withLock {
            expirePending()
            return pending.values.filter { !$0.approved }.sorted { $0.created < $1.created }.map {
                PendingView(id: $0.id, origin: $0.origin, name: $0.name)
            }
        }
    }

    /// The user approves a pairing with the code the page shows. A wrong code refuses the pairing
    /// outright (the page must ask again), so the code cannot be guessed by trying.
    public func approve(id: String, code: String, limits: [SiteLimit]) throws -> Site {
        let wallet = try unlocked()
        let pairing: PendingPairing = try lock.withLock {
            expirePending()
            guard let pairing = pending[id], !pairing.approved else { throw APIError.notFound("pairing") }
            guard ConstantTime.equal(Array(code.utf8), Array(pairing.code.utf8)) else {
                pending[id] = nil
                throw APIError(403, "wrong_code", "the code does not match the one the page showed; the pairing is refused")
            }
            return pairing
        }
        let token = Self.randomHex(32)
        let site = Site(origin: pairing.origin, name: pairing.name, tokenHash: Self.hash(token), approvedAt: 0)
        do { try wallet.approveSite(origin: site.origin, name: site.name, tokenHash: site.tokenHash, limits: limits) } catch let error
            as WalletError
        { throw WalletServiceError.wallet(error) }
        lock.withLock {
            sites = sites.filter { $0.value.origin != site.origin }
            sites[site.tokenHash] = site
            pending[id]?.approved = true
            pending[id]?.token = token
            events.append("pairing.approved", origin: site.origin)
        }
        return site
    }

    public func deny(id: String) throws {
        try lock.withLock {
            guard pending.removeValue(forKey: id) != nil else { throw APIError.notFound("pairing") }
        }
    }

    public func revoke(origin: String) throws {
        do { try unlocked().revokeSite(origin) } catch let error as WalletError { throw WalletServiceError.wallet(error) }
        lock.withLock {
            sites = sites.filter { $0.value.origin != origin }
            events.append("site.revoked", origin: origin)
        }
    }

    private func expirePending() {
        let limit = Duration.seconds(settings.pairingExpiry)
        pending = pending.filter { ContinuousClock.now - $0.value.created < limit }
    }

    // MARK: - Events

    func record(_ type: String, origin: String?) { lock.withLock { events.append(type, origin: origin) } }

    /// Events after `since` that this origin may see (its own and the wallet's), and the revision to go on from.
    func events(since: Int64, origin: String) -> (revision: Int64, events: [EventLog.Event]) {
        lock.withLock { (events.revision, events.entries.filter { $0.revision > since && ($0.origin == nil || $0.origin == origin) }) }
    }

    /// Waits until something is appended after `seen`, or `deadline`.
    func waitForChange(after seen: Int64, until deadline: ContinuousClock.Instant) async {
        let id = UUID()
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let ready = lock.withLock {
                if events.revision > seen { return true }
                events.waiters[id] = continuation
                return false
            }
            if ready { return continuation.resume() }
            Task {
                try? await Task.sleep(until: deadline)
                self.lock.withLock { self.events.waiters.removeValue(forKey: id) }?.resume()
            }
        }
    }

    // MARK: - Helpers

    static func hash(_ text: String) -> String { Array(SHA256.hash(data: Array(text.utf8))).hexDigits }

    static func randomHex(_ count: Int) -> String {
        var generator = SystemRandomNumberGenerator()
        return (0..<count).map { _ in UInt8.random(in: 0...255, using: &generator) }.hexDigits
    }
}

/// The last events, in memory: enough for a page's long poll to catch up; a page that falls further
/// behind re-reads its state (budget, status) anyway.
struct EventLog {
    struct Event: Sendable {
        let revision: Int64
        let type: String
        /// nil: for every page (locked, unlocked); else only that origin's.
        let origin: String?
    }

    private(set) var revision: Int64 = 0
    private(set) var entries: [Event] = []
    var waiters: [UUID: CheckedContinuation<Void, Never>] = [:]

    mutating func append(_ type: String, origin: String?) {
        revision += 1
        entries.append(Event(revision: revision, type: type, origin: origin))
        if entries.count > 256 { entries.removeFirst(entries.count - 256) }
        for waiter in waiters.values { waiter.resume() }
        waiters = [:]
    }
}
