import Bridge
import Delegation
import Ethereum
import Foundation
import PlayerCore

/// What the service asks the bridge for, and where: `paratii wallet request-delegation`'s request,
/// kept for the life of the service so it can ask again when the delegation runs out.
public struct DelegationSource: Sendable {
    /// The bridge's Unix socket path or `http://127.0.0.1:PORT`.
    public var bridge: String
    /// The player name the bridge shows if the wallet has to pair first.
    public var name = "paratii wallet serve"
    public var allowances: [Allowance]
    public var payees: [Address]
    public var validFor: UInt64
    /// Ask for the next delegation this long before the current one expires (at most a tenth of `validFor`,
    /// so a fresh delegation is never already "about to expire" and the service cannot ask in a loop).
    public var renewBefore: UInt64 = 86400
    /// How long one request may wait for the user (the bridge expires its requests sooner: 10 min by default).
    public var timeout = 3600
    /// After the bridge could not be reached, or a request expired unanswered, a page's payment asks
    /// again only after this many seconds. A denial is never asked again by itself.
    public var retryAfter: UInt64 = 30

    /// The pairing token, kept where `paratii wallet request-delegation` keeps it: one pairing serves both.
    public static func tokenFile(wallet directory: String) -> String { directory + "/bridge-token.json" }

    public init(bridge: String, allowances: [Allowance], payees: [Address] = [], validFor: UInt64) {
        self.bridge = bridge
        self.allowances = allowances
        self.payees = payees
        self.validFor = validFor
    }

    /// Usable: for every token asked, a live delegation that is not about to expire and has more than a
    /// tenth of the asked total left (a fresh one has all of it, so approving one always satisfies this).
    func usable(_ budgets: [Budget], now: UInt64) -> Bool {
        let margin = min(renewBefore, validFor / 10)
        return allowances.allSatisfy { asked in
            budgets.contains { b in
                b.live && b.token == asked.token && b.validUntil > now + margin && b.remaining > 0 && b.remaining * 10 >= asked.total
            }
        }
    }
}

/// Keeps the wallet supplied with a delegation from the bridge: checks on unlock, on a page's refused
/// payment and now and then; asks through the library's `BridgePlayer` (one request at a time, on a
/// thread of its own: it blocks on the bridge's long poll), imports what the card signed, and says each
/// step as an event the pages hear. While a request waits, pages get a clear refusal, never a hang.
final class DelegationKeeper: @unchecked Sendable {
    enum Phase: String, Sendable {
        /// A usable delegation is in the ledger (or none was looked for yet).
        case ready
        /// A request waits on the bridge for the user's approval on the card.
        case requesting
        /// The user denied the request or the pairing: asked again only explicitly (`paratii wallet renew-delegation`).
        case denied
        /// The bridge could not be reached, forgot the pairing, or the request expired: asked again after `retryAfter`.
        case unavailable
    }

    struct Status: Sendable, Equatable {
        var phase: Phase
        var message: String
    }

    let source: DelegationSource
    private let directory: String
    /// Token names for the request's JSON (the bridge reads PTI by name against its own configuration).
    private let configuration: Configuration
    /// The unlocked wallet, without counting as use (nil while locked).
    private let wallet: @Sendable () -> Wallet?
    private let record: @Sendable (String) -> Void
    /// Where the user's instructions go (the terminal running `paratii wallet serve`), pairing code included.
    private let notice: @Sendable (String) -> Void
    /// Held through a check (a short ledger read), so pages arriving together start one request, not several.
    private let lock = NSLock()
    private var status = Status(phase: .ready, message: "")
    private var failedAt: ContinuousClock.Instant?
    /// Approved while the wallet was locked: imported at the next check after unlock (it is public, signed data).
    private var approved: Envelope?

    init(
        source: DelegationSource, directory: String, configuration: Configuration, wallet: @escaping @Sendable () -> Wallet?,
        record: @escaping @Sendable (String) -> Void, notice: @escaping @Sendable (String) -> Void
    ) {
        self.source = source
        self.directory = directory
        self.configuration = configuration
        self.wallet = wallet
        self.record = record
        self.notice = notice
    }

    var current: Status { lock.withLock { status } }

    /// Asks the bridge when the wallet has no usable delegation (`force`: ask anyway, also after a denial),
    /// unless a request is already out; returns where things stand. Needs the wallet unlocked.
    @discardableResult
    func check(force: Bool = false) -> Status {
        lock.withLock {
            if status.phase == .requesting { return status }
            if !force, status.phase == .denied { return status }
            if !force, status.phase == .unavailable, let failedAt, ContinuousClock.now - failedAt < .seconds(source.retryAfter) {
                return status
            }
            guard let wallet = wallet() else { return status }
            do {
                if let envelope = approved {
                    try wallet.importDelegation(envelope)
                    approved = nil
                }
                if !force, source.usable(try wallet.budget(), now: Wallet.systemClock()) {
                    status = Status(phase: .ready, message: "")
                    return status
                }
            } catch {
                status = Status(phase: .unavailable, message: "cannot read the wallet's delegations: \(error)")
                failedAt = .now
                return status
            }
            status = Status(phase: .requesting, message: "asking the bridge at \(source.bridge) for a delegation")
            record("delegation.requested")
            let request = DelegationRequest(
                spender: wallet.address, allowances: source.allowances, payees: source.payees, validFor: source.validFor)
            Thread.detachNewThread { self.ask(request) }
            return status
        }
    }

    /// One request, start to end, off Swift's cooperative pool.
    private func ask(_ request: DelegationRequest) {
        var player = BridgePlayer(
            address: source.bridge, name: source.name, tokenFile: DelegationSource.tokenFile(wallet: directory), wallet: request.spender,
            timeout: source.timeout, notice: notice)
        // Pages hear what the user must do, but not the pairing code: the user reads that from the service's own output.
        player.onStep = { [weak self] step in
            let message =
                switch step {
                case .pairing(let id, _):
                    "waiting for approval on the bridge: the wallet pairs with it first (`paratii approve \(id)` with the code the wallet service printed)"
                case .waiting(let id): "waiting for approval on the bridge: request \(id) (`paratii approve \(id)`, signed with the card)"
                }
            self?.lock.withLock { self?.status.message = message }
        }
        let outcome: Result<Envelope, Error> = Result {
            let answer = try player.submit("/v1/delegation-requests", request.json(configuration))
            guard let value = answer["envelope"] else { throw PlayerError.bridge("the bridge approved without an envelope") }
            return try Envelope(json: value)
        }
        lock.withLock {
            switch outcome {
            case .success(let envelope):
                do {
                    if let wallet = wallet() { try wallet.importDelegation(envelope) } else { approved = envelope }
                    status = Status(phase: .ready, message: "")
                    record("delegation.approved")
                } catch {
                    fail(.unavailable, "the bridge's delegation does not fit this wallet: \(error)")
                }
            case .failure(PlayerError.decided(let state, let reason)) where state == "denied":
                fail(.denied, "the bridge's user denied the delegation request\(reason.map { " (\($0))" } ?? "")")
            case .failure(PlayerError.pairing(let state)):
                fail(.denied, "the bridge's user did not approve pairing this wallet (pairing \(state))")
            case .failure(let error):
                fail(.unavailable, "no delegation from the bridge at \(source.bridge): \(error)")
            }
        }
    }

    /// Under `lock`.
    private func fail(_ phase: Phase, _ message: String) {
        status = Status(phase: phase, message: message)
        failedAt = .now
        record(phase == .denied ? "delegation.denied" : "delegation.unavailable")
    }
}
