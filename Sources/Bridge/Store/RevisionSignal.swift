import Foundation
import GRDB

/// The bridge's revision (the last audit sequence number committed) kept in memory, and the long polls
/// waiting for it to move. Every commit that inserts audit entries, through the store or straight through
/// its writer, raises it before the write returns and wakes the waiters from the writer's queue: a
/// waiting player or approver hears of a commit without a query of its own or a new observation per wait
/// (a GRDB ValueObservation installed and fetched afresh for each wait was most of a long poll's cost).
///
/// The lock is NSLock (a pthread mutex, which ThreadSanitizer sees), as in TokenCache.
final class RevisionSignal: TransactionObserver, @unchecked Sendable {
    /// A wait from its start until it is resumed (then it is removed).
    private enum Wait {
        /// Started, its continuation not registered yet.
        case starting
        /// Ended by its deadline or cancellation before its continuation was registered.
        case ended
        case waiting(after: Int64, CheckedContinuation<Bool, Never>)
    }

    private let lock = NSLock()
    private var latest: Int64
    private var waits: [UInt64: Wait] = [:]
    private var nextWait: UInt64 = 0
    /// Written only on the writer's queue (GRDB calls observers there), between change and commit.
    private var inserted: Int64?

    init(revision: Int64) { latest = revision }

    var revision: Int64 { lock.withLock { latest } }

    /// Waits until the revision passes `revision` (true) or `deadline` comes or the task is cancelled (false).
    func wait(after revision: Int64, until deadline: ContinuousClock.Instant) async -> Bool {
        let id: UInt64 = lock.withLock {
            nextWait &+= 1
            waits[nextWait] = .starting
            return nextWait
        }
        let timer = Task {
            guard (try? await Task.sleep(until: deadline)) != nil else { return }
            self.end(id)
        }
        defer { timer.cancel() }
        return await withTaskCancellationHandler {
            await withCheckedContinuation { continuation in
                let now: Bool? = lock.withLock {
                    if case .ended = waits[id] {
                        waits[id] = nil
                        return false
                    }
                    if latest > revision {
                        waits[id] = nil
                        return true
                    }
                    waits[id] = .waiting(after: revision, continuation)
                    return nil
                }
                if let now { continuation.resume(returning: now) }
            }
        } onCancel: {
            end(id)
        }
    }

    /// The deadline or cancellation: resumes wait `id` with false unless something resumed it already.
    private func end(_ id: UInt64) {
        let continuation: CheckedContinuation<Bool, Never>? = lock.withLock {
            switch waits[id] {
            case .waiting(_, let continuation):
                waits[id] = nil
                return continuation
            case .starting:
                waits[id] = .ended
                return nil
            case .ended, nil: return nil
            }
        }
        continuation?.resume(returning: false)
    }

    // MARK: TransactionObserver

    func observes(eventsOfKind eventKind: DatabaseEventKind) -> Bool {
        if case .insert(let table) = eventKind { return table == AuditEntry.databaseTableName }
        return false
    }

    /// `seq` is the audit table's INTEGER PRIMARY KEY, so the event's rowID is the sequence number.
    func databaseDidChange(with event: DatabaseEvent) { inserted = max(inserted ?? 0, event.rowID) }

    func databaseDidCommit(_ db: Database) {
        guard let inserted else { return }
        self.inserted = nil
        let woken: [CheckedContinuation<Bool, Never>] = lock.withLock {
            latest = max(latest, inserted)
            var ready: [CheckedContinuation<Bool, Never>] = []
            for (id, wait) in waits {
                guard case .waiting(let after, let continuation) = wait, after < latest else { continue }
                waits[id] = nil
                ready.append(continuation)
            }
            return ready
        }
        for continuation in woken { continuation.resume(returning: true) }
    }

    func databaseDidRollback(_ db: Database) { inserted = nil }
}
