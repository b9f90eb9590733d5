import BigInt
import Delegation
import Ethereum
import Foundation

/// What every payee store does, whatever holds its channels (SQLite here, PostgreSQL in
/// PayeeStorePostgres): verify vouchers, keep the best per channel, list and export the channels.
/// Requirements are `async` so a networked store fits; `PayeeStore`'s synchronous methods satisfy them.
public protocol PayeeStoring: AnyObject, Sendable {
    /// Verifies every voucher, applies the channel rules in order and records the accepted ones before
    /// answering: one outcome per voucher; throws only when nothing of the batch was kept (storage).
    func acceptBatch(_ envelopes: [Envelope]) async throws(VoucherRejection) -> [Result<PayeeStore.Outcome, VoucherRejection>]
    /// Every channel, with its delegation's total for the token when the chain is known.
    func channels() async throws -> [ChannelState]
    /// The best voucher of every channel as a full envelope: what to redeem.
    func export() async throws -> [JSONValue]
    /// The best voucher of every channel (of `payee`; nil: all) above what the contract has settled for
    /// it, ordered by delegation: what `payee redeem` batches.
    func unredeemedVouchers(payee: Address?) async throws -> [RedeemableVoucher]
    /// Records a receipt's `Redeemed` events at once: each channel's settled cumulative only grows, its
    /// paid sum adds up what each event paid.
    func recordRedemptions(_ events: [ParatiiContract.Redemption], transactionHash: [UInt8]) async throws
    /// Every channel's redemption so far.
    func redemptions() async throws -> [ChannelRedemption]
    /// Releases connections; the store is not used afterwards.
    func close() async
}

extension PayeeStoring {
    public func accept(_ envelope: Envelope) async throws(VoucherRejection) -> PayeeStore.Outcome {
        try await acceptBatch([envelope])[0].get()
    }
}

/// The checks every store makes before it touches its channels: the verifier's verdict, the payees
/// it serves, and the fields a channel can hold. Pure and thread-safe.
public struct VoucherCheck: Sendable {
    public let verifier: Verifier
    public let payees: Set<Address>

    public init(verifier: Verifier, payees: Set<Address>) {
        self.verifier = verifier
        self.payees = payees
    }

    /// Verifies a batch on every core (signature recovery is the cost), one result per envelope, in order.
    public func batch(_ envelopes: [Envelope], now: UInt64) -> [Result<(Voucher, SpendingDelegation), VoucherRejection>] {
        let checked = UnsafeResults<Result<(Voucher, SpendingDelegation), VoucherRejection>>(count: envelopes.count)
        DispatchQueue.concurrentPerform(iterations: envelopes.count) { i in
            checked.set(i, Result { () throws(VoucherRejection) in try self.one(envelopes[i], now: now) })
        }
        return checked.values
    }

    public typealias Checked = Result<(Voucher, SpendingDelegation), VoucherRejection>

    /// Starts verifying `envelopes` in the background, chunk after chunk, each chunk on every core: a
    /// store applies and writes one chunk while the next verifies, instead of leaving the cores idle
    /// during its writes and round trips.
    /// `after`: a batch still verifying; this one starts once that one's last chunk is verified (a
    /// pipeline: the next batch verifies while the previous one commits, without taking cores from it before).
    public func start(_ envelopes: [Envelope], now: UInt64, chunk: Int = 100, after: VerifyingBatch? = nil) -> VerifyingBatch {
        VerifyingBatch(envelopes, now: now, chunk: chunk, check: self, after: after)
    }

    public func one(_ envelope: Envelope, now: UInt64) throws(VoucherRejection) -> (Voucher, SpendingDelegation) {
        guard case .voucher(let voucher) = envelope.message else { throw .notAVoucher(envelope.kind) }
        guard payees.isEmpty || payees.contains(voucher.payee) else { throw .wrongPayee(voucher.payee) }
        // Checked before anything is written, so one bad voucher is refused alone, not the batch by a CHECK.
        guard voucher.sequence >= 1 else { throw .outOfRange("sequence 0: sequences start at 1") }
        guard voucher.sequence <= UInt64(Int64.max) else { throw .outOfRange("sequence \(voucher.sequence) is above 2^63 - 1") }
        let verdict = verifier.verify(envelope, at: now)
        if let reason = verdict.reason { throw .invalid(reason, verdict.detail) }
        guard case .spending(let delegation) = envelope.parents.first?.message else { throw .invalid(.brokenChain, "no delegation") }
        // The verifier refuses v 0/1 in every link; what is stored must redeem through ecrecover.
        func check(_ link: Envelope) throws(VoucherRejection) {
            guard !(link.signature.last == 27 || link.signature.last == 28) else { return }
            throw .invalid(.badSignature, "\(link.kind): v must be 27 or 28")
        }
        try check(envelope)
        for link in envelope.parents { try check(link) }
        return (voucher, delegation)
    }
}

/// A batch being verified (`VoucherCheck.start`): its chunks in order, each ready once verified.
/// Results are written once per slot before their chunk's group is left, and read only after it is.
public final class VerifyingBatch: Sendable {
    public let ranges: [Range<Int>]
    private let results: UnsafeResults<VoucherCheck.Checked>
    private let ready: [DispatchGroup]

    init(_ envelopes: [Envelope], now: UInt64, chunk: Int, check: VoucherCheck, after previous: VerifyingBatch? = nil) {
        let ranges = Self.chunks(envelopes.count, chunk: chunk)
        let results = UnsafeResults<VoucherCheck.Checked>(count: envelopes.count)
        let ready = ranges.map { _ in DispatchGroup() }
        for group in ready { group.enter() }
        (self.ranges, self.results, self.ready) = (ranges, results, ready)
        let verify: @Sendable () -> Void = {
            for (range, group) in zip(ranges, ready) {
                DispatchQueue.concurrentPerform(iterations: range.count) { i in
                    let index = range.lowerBound + i
                    results.set(index, Result { () throws(VoucherRejection) in try check.one(envelopes[index], now: now) })
                }
                group.leave()
            }
        }
        if let last = previous?.ready.last {
            last.notify(queue: .global(), execute: verify)
        } else {
            DispatchQueue.global().async(execute: verify)
        }
    }

    /// `chunk`-sized ranges over `count`, the last one split in halves down to a quarter chunk: the store's
    /// work on the last chunk (and its commit) has nothing left to verify beside it, so a short last chunk
    /// keeps the time the cores idle short.
    static func chunks(_ count: Int, chunk: Int) -> [Range<Int>] {
        var ranges = stride(from: 0, to: count, by: chunk).map { $0..<min($0 + chunk, count) }
        guard var last = ranges.popLast() else { return [] }
        while last.count > max(chunk / 4, 1) {
            let half = last.lowerBound + last.count / 2
            ranges.append(last.lowerBound..<half)
            last = half..<last.upperBound
        }
        ranges.append(last)
        return ranges
    }

    /// Chunk `k`'s results, waiting on this thread until it is verified (for a synchronous store).
    public func chunk(_ k: Int) -> [VoucherCheck.Checked] {
        ready[k].wait()
        return results.values(ranges[k])
    }

    /// Chunk `k`'s results, suspending (no thread blocked) until it is verified.
    public func chunk(_ k: Int) async -> [VoucherCheck.Checked] {
        await withCheckedContinuation { continuation in ready[k].notify(queue: .global()) { continuation.resume() } }
        return results.values(ranges[k])
    }
}

/// A voucher's channel (delegation, payee, token) by its bytes, for a batch's in-memory maps: hashed as
/// three byte runs (an `[UInt8]`'s own hash feeds its bytes one at a time), used by both payee stores.
public struct ChannelBytes: Hashable, Sendable {
    public let delegation: [UInt8]
    public let payee: [UInt8]
    public let token: [UInt8]

    public init(_ voucher: Voucher) { (delegation, payee, token) = (voucher.delegation, voucher.payee.bytes, voucher.token.bytes) }

    public func hash(into hasher: inout Hasher) {
        delegation.withUnsafeBytes { hasher.combine(bytes: $0) }
        payee.withUnsafeBytes { hasher.combine(bytes: $0) }
        token.withUnsafeBytes { hasher.combine(bytes: $0) }
    }
}

/// The channel rules, the same for every store: the best voucher again is a duplicate; an older
/// sequence must match what was accepted for it; a new one must raise the amount.
public enum ChannelRules {
    /// The best voucher a channel holds.
    public struct Best: Sendable, Equatable {
        public var cumulative: BigUInt
        public var sequence: UInt64
        public init(cumulative: BigUInt, sequence: UInt64) {
            self.cumulative = cumulative
            self.sequence = sequence
        }
    }

    public enum Verdict: Sendable, Equatable {
        case accepted(increase: BigUInt)
        case duplicate
    }

    /// `held` is the channel's best (nil for a new channel); `seen` reads the amount accepted at an
    /// older sequence, asked only for a voucher at or below the held sequence.
    public static func judge<Failure: Error>(
        _ voucher: Voucher, held: Best?, seen: (UInt64) throws(Failure) -> BigUInt?
    ) throws(VoucherRejection) -> Verdict {
        guard let held else { return .accepted(increase: voucher.cumulative) }
        if voucher.sequence <= held.sequence {
            let amount: BigUInt?
            do { amount = try seen(voucher.sequence) } catch { throw .storage("\(error)") }
            if amount == voucher.cumulative { return .duplicate }
            if let amount { throw .sequenceConflict("sequence \(voucher.sequence) was \(amount), now \(voucher.cumulative)") }
            if voucher.cumulative <= held.cumulative { throw .decreasing(held: held.cumulative, offered: voucher.cumulative) }
            throw .sequenceConflict("sequence \(voucher.sequence) after \(held.sequence) with a higher amount")
        }
        guard voucher.cumulative > held.cumulative else { throw .decreasing(held: held.cumulative, offered: voucher.cumulative) }
        return .accepted(increase: voucher.cumulative - held.cumulative)
    }
}

/// Channels as stored rows, whatever the store: the stored chain (a JSON array of envelopes) and the
/// best voucher's fields become a `ChannelState` or a redeemable envelope.
public enum StoredChannel {
    /// An amount as both stores' tables hold it (decimal text); most fit a machine word, whose conversion
    /// is much cheaper than BigUInt's.
    public static func decimal(_ amount: BigUInt) -> String {
        amount.words.count <= 1 ? String(UInt64(amount.words.first ?? 0)) : String(amount)
    }

    /// The spending delegation at the head of a stored chain, if it reads.
    public static func spending(parents: String?) -> SpendingDelegation? {
        guard let parents, case .array(let items)? = try? JSONValue.parse(Array(parents.utf8)), let first = items.first,
            case .spending(let delegation)? = try? Envelope(json: first).message
        else { return nil }
        return delegation
    }

    /// The best voucher with what `redeemBatch` needs, if the contract has settled less than it
    /// (`settled`: the recorded redemption's cumulative).
    public static func unredeemed(
        _ voucher: Voucher, signature: [UInt8], parents text: String, settled: BigUInt?
    ) throws
        -> RedeemableVoucher?
    {
        guard voucher.cumulative > settled ?? 0 else { return nil }
        guard case .array(let items) = try JSONValue.parse(text), let first = items.first, case let head = try Envelope(json: first),
            case .spending(let delegation) = head.message
        else { throw WalletError.corrupted("delegation chain \(voucher.delegation.hexString)") }
        return RedeemableVoucher(
            delegation: delegation, delegationId: voucher.delegation, domain: head.domain,
            masterSignature: try PayeeStore.redeemable(head.signature), voucher: voucher,
            spenderSignature: try PayeeStore.redeemable(signature))
    }

    /// The best voucher with its chain, as a contract redeems it: every v 27/28 (rows written before
    /// v 0/1 was refused may hold 0/1).
    public static func envelope(_ voucher: Voucher, signature: [UInt8], parents text: String) throws -> Envelope {
        guard case .array(let items) = try JSONValue.parse(text), let first = items.first else {
            throw WalletError.corrupted("delegation chain \(voucher.delegation.hexString)")
        }
        let parents = try items.map { item in
            let parent = try Envelope(json: item)
            return Envelope(
                message: parent.message, domain: parent.domain, signature: try PayeeStore.redeemable(parent.signature), parents: [])
        }
        return Envelope(
            message: .voucher(voucher), domain: try Envelope(json: first).domain, signature: try PayeeStore.redeemable(signature),
            parents: parents)
    }
}
