import Delegation
import Foundation
import PlayerCore

/// Group commit for the pages' payments: what arrives while a commit runs waits, and goes into the
/// next transaction together (`Wallet.payForSites`, one fsync for all). Each payment still gets its
/// own answer (a site over its budget fails alone). One writer thread at a time, started on demand,
/// never on Swift's cooperative pool (an fsync blocks).
final class PaymentQueue: @unchecked Sendable {
    typealias Waiter = CheckedContinuation<Result<Envelope, WalletError>, Error>
    private let lock = NSLock()
    private var waiting: [(request: PaymentRequest, site: String, waiter: Waiter)] = []
    private var writing = false
    /// The most one transaction takes: a long batch delays its first page's answer.
    static let batchLimit = 64

    /// Pays once the payment's batch has committed; throws what stops the whole batch (locked, storage).
    func pay(_ request: PaymentRequest, site: String, wallet: @escaping @Sendable () throws -> Wallet) async throws -> Envelope {
        let outcome = try await withCheckedThrowingContinuation { (waiter: Waiter) in
            let start = lock.withLock {
                waiting.append((request, site, waiter))
                defer { writing = true }
                return !writing
            }
            if start { Thread.detachNewThread { self.drain(wallet) } }
        }
        return try outcome.get()
    }

    private func drain(_ wallet: () throws -> Wallet) {
        while true {
            let batch = lock.withLock {
                let taken = Array(waiting.prefix(Self.batchLimit))
                waiting.removeFirst(taken.count)
                if taken.isEmpty { writing = false }
                return taken
            }
            if batch.isEmpty { return }
            do {
                let results = try wallet().payForSites(batch.map { ($0.request, $0.site) })
                for (item, result) in zip(batch, results) { item.waiter.resume(returning: result) }
            } catch {
                for item in batch { item.waiter.resume(throwing: error) }
            }
        }
    }
}
