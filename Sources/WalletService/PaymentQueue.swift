import Delegation
import Foundation
import PlayerCore

/// Group commit for the pages' payments: what arrives while a commit runs waits, and goes into the
/// next transaction together (`Wallet.recordForSites`, one fsync for all). Each payment still gets its
/// own answer (a site over its budget fails alone). One writer thread at a time, started on demand,
/// never on Swift's cooperative pool (an fsync blocks). The writer only records: each page's own task
/// signs its committed payment, so signatures are made on every core while the next batch commits.
final class PaymentQueue: @unchecked Sendable {
    typealias Waiter = CheckedContinuation<(Wallet, Result<RecordedPayment, WalletError>), Error>
    private let condition = NSCondition()
    private var waiting: [(request: PaymentRequest, site: String, waiter: Waiter)] = []
    private var writing = false
    /// The most one transaction takes: a long batch delays its first page's answer.
    static let batchLimit = 64
    /// How long an idle writer waits for the next payment before its thread ends: pages paying one
    /// segment after another keep one thread, instead of a new thread for nearly every batch.
    static let linger: TimeInterval = 0.25

    /// Pays once the payment's batch has committed, then signs; throws what stops the whole batch (locked, storage).
    func pay(
        _ request: PaymentRequest, site: String, wallet: @escaping @Sendable () throws -> Wallet
    ) async throws -> Vault.Paid {
        let (recordedBy, outcome) = try await withCheckedThrowingContinuation { (waiter: Waiter) in
            let start = condition.withLock {
                waiting.append((request, site, waiter))
                condition.signal()
                defer { writing = true }
                return !writing
            }
            if start { Thread.detachNewThread { self.drain(wallet) } }
        }
        let payment = try outcome.get()
        do {
            let envelope = try recordedBy.sign(payment)
            return Vault.Paid(envelope: envelope, json: recordedBy.json(envelope), budgets: payment.budgets)
        } catch let error as WalletError { throw error } catch {
            throw WalletError.invalid("\(error)")
        }
    }

    private func drain(_ wallet: () throws -> Wallet) {
        while true {
            let batch = condition.withLock {
                if waiting.isEmpty { _ = condition.wait(until: Date(timeIntervalSinceNow: Self.linger)) }
                let taken = Array(waiting.prefix(Self.batchLimit))
                waiting.removeFirst(taken.count)
                if taken.isEmpty { writing = false }
                return taken
            }
            if batch.isEmpty { return }
            do {
                let wallet = try wallet()
                let results = try wallet.recordForSites(batch.map { ($0.request, $0.site) })
                for (item, result) in zip(batch, results) { item.waiter.resume(returning: (wallet, result)) }
            } catch {
                for item in batch { item.waiter.resume(throwing: error) }
            }
        }
    }
}
