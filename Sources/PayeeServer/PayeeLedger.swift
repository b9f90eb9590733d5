import BigInt
import Delegation
import Ethereum
import Foundation
import LoopbackHTTP
import PlayerCore
import Synchronization

/// A segment paid for: the channel after the voucher, what it added, whether it was a replay.
public struct PaidSegment: Sendable {
    public var channel: ChannelState
    public var increase: BigUInt
    public var duplicate: Bool
    public var voucherId: [UInt8]
}

/// Why a voucher does not buy the segment: a 402 naming the reason, with the server's channel when known.
public struct PaymentRefusal: Error, Sendable {
    public var code: String
    public var message: String
    public var channel: ChannelState?
}

/// The server's one door to the payee store: every store call of the server is in this file, so the
/// store's implementation (SQLite today, PostgreSQL too) changes here only.
///
/// On top of `PayeeStore.accept`'s channel rules it adds the price: a voucher buys a segment when its
/// increase over the channel covers the price. Payments on one channel are serialized (the price is
/// judged against the channel as it stands), different channels run in parallel. The channels are
/// cached, loaded once and kept from the store's own outcomes; the store stays the judge (another
/// writer, e.g. `paratii payee accept`, makes the cache stale: the store's refusal reloads it, and its
/// reported increase, not the cache's, decides whether the segment is paid).
public final class PayeeLedger: Sendable {
    struct Key: Hashable, Sendable {
        let delegation: [UInt8]
        let token: Address
    }

    let store: any PayeeStoring
    let settings: PayeeSettings
    private let channels: Mutex<[Key: ChannelState]>
    private let locks = KeyedLock<Key>()
    private let activity = Mutex(Activity())
    private static let storeQueue = DispatchQueue(label: "paratii.payee.store", attributes: .concurrent)

    private init(store: any PayeeStoring, settings: PayeeSettings, channels all: [ChannelState]) {
        self.store = store
        self.settings = settings
        channels = Mutex(Self.index(all, payee: settings.payee))
    }

    public convenience init(store: PayeeStore, settings: PayeeSettings) throws {
        self.init(store: store, settings: settings, channels: try store.channels())
    }

    /// Any store: SQLite, or PostgreSQL shared with other accept processes (`PayeeStores.open`).
    public convenience init(store: any PayeeStoring, settings: PayeeSettings) async throws {
        self.init(store: store, settings: settings, channels: try await store.channels())
    }

    private static func index(_ all: [ChannelState], payee: Address) -> [Key: ChannelState] {
        Dictionary(all.filter { $0.payee == payee }.map { (Key(delegation: $0.delegation, token: $0.token), $0) }) { $1 }
    }

    /// The channel this voucher's payer holds with us, if any (for a 402's `extra.channel`).
    func channel(of voucher: Voucher) -> ChannelState? {
        channels.withLock { $0[Key(delegation: voucher.delegation, token: voucher.token)] }
    }

    /// Pays for the resource whose memo text is `memo`, or says why not. Nothing is stored unless the
    /// voucher is for us, in our token, for this resource, and raises the channel by at least the price.
    func pay(_ envelope: Envelope, memo: String) async -> Result<PaidSegment, PaymentRefusal> {
        let result = await judge(envelope, memo: memo)
        activity.withLock { $0.record(result, memo: memo) }
        return result
    }

    private func judge(_ envelope: Envelope, memo: String) async -> Result<PaidSegment, PaymentRefusal> {
        guard case .voucher(let voucher) = envelope.message else {
            return .failure(PaymentRefusal(code: "notAVoucher", message: "the payload is a \(envelope.kind), not a Voucher", channel: nil))
        }
        @Sendable func refuse(_ code: String, _ message: String) -> Result<PaidSegment, PaymentRefusal> {
            .failure(PaymentRefusal(code: code, message: message, channel: channel(of: voucher)))
        }
        guard voucher.payee == settings.payee else {
            return refuse("wrongPayee", "the voucher pays \(voucher.payee), not \(settings.payee)")
        }
        guard voucher.token == settings.token else {
            return refuse("wrongToken", "the voucher is in \(voucher.token), this server takes \(settings.token)")
        }
        guard voucher.memo == PaymentRequest.memo(memo) else { return refuse("wrongMemo", "the voucher's memo is not \(memo)'s") }
        let key = Key(delegation: voucher.delegation, token: voucher.token)
        return await locks.withLock(key) {
            let held = channels.withLock { $0[key] }
            // Not above the channel: a replay (served again) or a stale voucher; the store tells which.
            if let held, voucher.cumulative <= held.cumulative {
                return await self.accept(envelope, key: key)
            }
            let increase = voucher.cumulative - (held?.cumulative ?? 0)
            guard increase >= settings.price else {
                return refuse(
                    "underpaid",
                    "the voucher adds \(increase) over the channel's \(held?.cumulative ?? 0), a segment costs \(settings.price)")
            }
            return await self.accept(envelope, key: key)
        }
    }

    /// The store's verdict, under the channel's lock.
    private func accept(_ envelope: Envelope, key: Key) async -> Result<PaidSegment, PaymentRefusal> {
        let outcome: Result<PayeeStore.Outcome, VoucherRejection>
        if let sqlite = store as? PayeeStore {
            // Off Swift's cooperative pool (a durable commit blocks), on a dispatch queue rather than a new
            // thread per voucher: the thread's start was a tenth of a paid segment's added time.
            outcome = await withCheckedContinuation { continuation in
                Self.storeQueue.async {
                    continuation.resume(returning: Result { () throws(VoucherRejection) in try sqlite.accept(envelope) })
                }
            }
        } else {
            // A networked store (PostgreSQL) waits without blocking a thread.
            do throws(VoucherRejection) { outcome = .success(try await store.accept(envelope)) } catch { outcome = .failure(error) }
        }
        switch outcome {
        case .success(.accepted(let channel, let increase)):
            channels.withLock { $0[key] = channel }
            guard increase >= settings.price else {
                // The cache was behind another writer: the voucher counts, the segment is not paid.
                return .failure(
                    PaymentRefusal(
                        code: "underpaid", message: "the voucher adds \(increase), a segment costs \(settings.price)", channel: channel))
            }
            return .success(PaidSegment(channel: channel, increase: increase, duplicate: false, voucherId: envelope.id))
        case .success(.duplicate(let channel)):
            let current = channels.withLock { $0[key] } ?? channel
            return .success(PaidSegment(channel: current, increase: 0, duplicate: true, voucherId: envelope.id))
        case .failure(let rejection):
            if case .decreasing = rejection { await reload() }
            if case .sequenceConflict = rejection { await reload() }
            return .failure(PaymentRefusal(code: rejection.code, message: rejection.description, channel: channels.withLock { $0[key] }))
        }
    }

    /// Reads the channels again from the store (another writer moved them).
    private func reload() async {
        guard let all = try? await allChannels() else { return }
        channels.withLock { $0 = Self.index(all, payee: settings.payee) }
    }

    /// Every channel of the store, read off the cooperative pool when the store is SQLite.
    private func allChannels() async throws -> [ChannelState] {
        if let sqlite = store as? PayeeStore { return try await Blocking.run { try sqlite.channels() } }
        return try await store.channels()
    }

    /// The dashboard's data: every channel of ours, earned per token, the latest vouchers, counters.
    func dashboard() async throws -> JSONValue {
        let all = try await allChannels().filter { $0.payee == settings.payee }
        var earned: [Address: BigUInt] = [:]
        for channel in all { earned[channel.token, default: 0] += channel.cumulative }
        let chain = settings.chain
        return activity.withLock { activity in
            .object([
                "payee": .string(settings.payee.checksummed), "network": .string(settings.network),
                "price": .string(String(settings.price)), "priceText": .string(chain.formatAmount(settings.price, token: settings.token)),
                "token": .string(chain.tokenName(settings.token)),
                "earned": .array(
                    earned.sorted { $0.key.checksummed < $1.key.checksummed }.map { token, amount in
                        .object([
                            "token": .string(token.checksummed), "symbol": .string(chain.tokenName(token)),
                            "amount": .string(String(amount)),
                            "text": .string(chain.formatAmount(amount, token: token)),
                        ])
                    }),
                "channels": .array(
                    all.map { c in
                        .object([
                            "delegation": .string(c.delegation.hexString), "master": .string(c.master.checksummed),
                            "spender": .string(c.spender.checksummed), "token": .string(chain.tokenName(c.token)),
                            "cumulative": .string(String(c.cumulative)), "text": .string(chain.formatAmount(c.cumulative, token: c.token)),
                            "sequence": .number(String(c.sequence)),
                            "total": c.total.map { .string(chain.formatAmount($0, token: c.token)) } ?? .null,
                        ])
                    }),
                "paidSegments": .number(String(activity.paid)), "replays": .number(String(activity.replays)),
                "refusals": .object(JSONObject(activity.refusals.sorted { $0.key < $1.key }.map { ($0.key, .number(String($0.value))) })),
                "recent": .array(activity.recent.reversed()),
            ])
        }
    }
}

/// What the server did since it started, for the dashboard (the store keeps only the best per channel).
struct Activity {
    var paid = 0
    var replays = 0
    var refusals: [String: Int] = [:]
    var recent: [JSONValue] = []

    mutating func record(_ result: Result<PaidSegment, PaymentRefusal>, memo: String) {
        let entry: JSONValue
        switch result {
        case .success(let paid):
            if paid.duplicate { replays += 1 } else { self.paid += 1 }
            entry = .object([
                "at": .number(String(UInt64(Date().timeIntervalSince1970))), "resource": .string(memo),
                "payer": .string(paid.channel.spender.checksummed), "cumulative": .string(String(paid.channel.cumulative)),
                "sequence": .number(String(paid.channel.sequence)), "increase": .string(String(paid.increase)),
                "duplicate": .bool(paid.duplicate),
            ])
        case .failure(let refusal):
            refusals[refusal.code, default: 0] += 1
            entry = .object([
                "at": .number(String(UInt64(Date().timeIntervalSince1970))), "resource": .string(memo), "refused": .string(refusal.code),
            ])
        }
        recent.append(entry)
        if recent.count > 50 { recent.removeFirst(recent.count - 50) }
    }
}

/// Mutual exclusion per key, for async callers: waiters queue in order, other keys never wait.
actor KeyedLock<Key: Hashable & Sendable> {
    private var queues: [Key: [CheckedContinuation<Void, Never>]] = [:]

    func withLock<T: Sendable>(_ key: Key, _ body: @Sendable () async -> T) async -> T {
        await lock(key)
        let result = await body()
        unlock(key)
        return result
    }

    private func lock(_ key: Key) async {
        guard queues[key] != nil else {
            queues[key] = []
            return
        }
        await withCheckedContinuation { queues[key]!.append($0) }
    }

    private func unlock(_ key: Key) {
        guard var queue = queues[key], !queue.isEmpty else {
            queues[key] = nil
            return
        }
        let next = queue.removeFirst()
        queues[key] = queue
        next.resume()
    }
}
