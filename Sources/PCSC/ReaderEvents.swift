import CPCSCLite
import Foundation

/// A change in the set of readers or in a reader's card.
public enum ReaderEvent: Hashable, Sendable {
    case readerAdded(String)
    case readerRemoved(String)
    case cardInserted(reader: String, atr: [UInt8])
    case cardRemoved(reader: String)
    /// pcscd went away; the monitor keeps trying to re-establish and resumes with fresh events.
    case serviceLost
    case serviceRestored
}

/// Watches readers and cards with `SCardGetStatusChange`, including the `\\?PnP?\Notification`
/// pseudo-reader for readers that come and go. The watcher blocks in pcscd (no polling) on its own
/// thread and context; cancelling the stream's consumer calls `SCardCancel`, so it never holds up
/// shutdown. The stream starts with the current state: one `readerAdded` per reader and one
/// `cardInserted` per present card.
public enum ReaderMonitor {
    static let pnpReader = "\\\\?PnP?\\Notification"

    /// How many times any monitor has entered SCardGetStatusChange (diagnostics: an idle monitor
    /// stays blocked in one call, it does not poll). Process-wide: every monitor running bumps it; to
    /// judge one monitor, pass it a `Counter` of its own.
    public static var statusChangeCalls: Int { counter.value }
    static let counter = Counter()

    /// Counts one monitor's calls into SCardGetStatusChange (`events(counting:)`).
    public final class Counter: @unchecked Sendable {
        private let lock = NSLock()
        private var count = 0
        public init() {}
        func increment() { lock.lock(); count += 1; lock.unlock() }
        public var value: Int { lock.lock(); defer { lock.unlock() }; return count }
    }

    /// The events, from a monitor of their own; `counting` counts this monitor's calls alone.
    public static func events(counting: Counter? = nil) -> AsyncStream<ReaderEvent> {
        let (stream, continuation) = AsyncStream<ReaderEvent>.makeStream(bufferingPolicy: .unbounded)
        let watcher = Watcher(continuation: continuation, counter: counting)
        continuation.onTermination = { _ in watcher.cancel() }
        let thread = Thread { watcher.run() }
        thread.name = "paratii.pcsc.monitor"
        thread.start()
        return stream
    }

    final class Watcher: @unchecked Sendable {
        private let continuation: AsyncStream<ReaderEvent>.Continuation
        private let lock = NSLock()
        private var context: SCARDCONTEXT = 0
        private var hasContext = false
        private var cancelled = false
        /// Per reader: last event state flags.
        private var known: [String: DWORD] = [:]

        private let counter: Counter?

        init(continuation: AsyncStream<ReaderEvent>.Continuation, counter: Counter?) {
            self.continuation = continuation
            self.counter = counter
        }

        func cancel() {
            lock.lock()
            cancelled = true
            if hasContext { SCardCancel(context) }
            lock.unlock()
        }

        private var isCancelled: Bool { lock.lock(); defer { lock.unlock() }; return cancelled }

        func run() {
            defer {
                lock.lock()
                if hasContext { SCardReleaseContext(context); hasContext = false }
                lock.unlock()
                continuation.finish()
            }
            var serviceLost = false
            while !isCancelled {
                guard establish() else {
                    if !serviceLost { serviceLost = true; continuation.yield(.serviceLost); forgetAll() }
                    // pcscd is down: nothing to block on, so wait a little before trying again.
                    Thread.sleep(forTimeInterval: 0.25)
                    continue
                }
                if serviceLost { serviceLost = false; continuation.yield(.serviceRestored) }
                let rc = watch()
                if isCancelled { return }
                if PCSCCode.meansServiceGone(rc) || rc == PCSCCode.securityViolation {
                    serviceLost = true
                    continuation.yield(.serviceLost)
                    forgetAll()
                    dropContext()
                } else if rc != PCSCCode.success && rc != PCSCCode.timeout {
                    dropContext()
                    Thread.sleep(forTimeInterval: 0.25)
                }
            }
        }

        private func forgetAll() {
            for (name, state) in known {
                if state & DWORD(SCARD_STATE_PRESENT) != 0 { continuation.yield(.cardRemoved(reader: name)) }
                continuation.yield(.readerRemoved(name))
            }
            known = [:]
        }

        private func establish() -> Bool {
            lock.lock(); defer { lock.unlock() }
            if hasContext { return true }
            var ctx: SCARDCONTEXT = 0
            guard Int(SCardEstablishContext(DWORD(SCARD_SCOPE_SYSTEM), nil, nil, &ctx)) == PCSCCode.success else { return false }
            context = ctx
            hasContext = true
            return true
        }

        private func dropContext() {
            lock.lock(); defer { lock.unlock() }
            if hasContext { SCardReleaseContext(context); hasContext = false }
        }

        private func listReaders() -> (Int, [String]) {
            var length: DWORD = 0
            var rc = Int(SCardListReaders(context, nil, nil, &length))
            if rc == PCSCCode.noReadersAvailable { return (PCSCCode.success, []) }
            guard rc == PCSCCode.success else { return (rc, []) }
            var buffer = [CChar](repeating: 0, count: Int(length))
            rc = Int(SCardListReaders(context, nil, &buffer, &length))
            if rc == PCSCCode.noReadersAvailable { return (PCSCCode.success, []) }
            return (rc, PCSCContext.splitMultiString(buffer))
        }

        /// Blocks until something changes (or cancel), emits the differences; returns the last code.
        private func watch() -> Int {
            let (rc, names) = listReaders()
            guard rc == PCSCCode.success else { return rc }
            // Readers that disappeared.
            for name in known.keys where !names.contains(name) {
                if known[name]! & DWORD(SCARD_STATE_PRESENT) != 0 { continuation.yield(.cardRemoved(reader: name)) }
                continuation.yield(.readerRemoved(name))
                known[name] = nil
            }
            for name in names where known[name] == nil {
                continuation.yield(.readerAdded(name))
                known[name] = DWORD(SCARD_STATE_UNAWARE)
            }
            let all = names + [ReaderMonitor.pnpReader]
            var states = all.map { name -> SCARD_READERSTATE in
                var state = SCARD_READERSTATE()
                state.szReader = UnsafePointer(strdup(name))
                state.dwCurrentState =
                    name == ReaderMonitor.pnpReader
                    ? DWORD(names.count << 16)
                    : (known[name] ?? DWORD(SCARD_STATE_UNAWARE)) & ~DWORD(SCARD_STATE_CHANGED)
                return state
            }
            defer { for s in states { free(UnsafeMutableRawPointer(mutating: s.szReader)) } }
            while true {
                ReaderMonitor.counter.increment()
                counter?.increment()
                let result = Int(SCardGetStatusChange(context, DWORD(INFINITE), &states, DWORD(states.count)))
                if result != PCSCCode.success { return result }
                var readersChanged = false
                for i in states.indices {
                    let name = all[i]
                    let event = states[i].dwEventState
                    if name == ReaderMonitor.pnpReader {
                        if event & DWORD(SCARD_STATE_CHANGED) != 0 { readersChanged = true }
                        states[i].dwCurrentState = event & ~DWORD(SCARD_STATE_CHANGED)
                        continue
                    }
                    guard event & DWORD(SCARD_STATE_CHANGED) != 0 else { continue }
                    let old = known[name] ?? 0
                    let wasPresent = old & DWORD(SCARD_STATE_PRESENT) != 0
                    let isPresent = event & DWORD(SCARD_STATE_PRESENT) != 0 && event & DWORD(SCARD_STATE_MUTE) == 0
                    let oldCount = old >> 16, newCount = event >> 16
                    if wasPresent && (!isPresent || (oldCount != newCount && old != DWORD(SCARD_STATE_UNAWARE))) {
                        continuation.yield(.cardRemoved(reader: name))
                    }
                    if isPresent && (!wasPresent || oldCount != newCount) {
                        let reader = ReaderState(name: name, raw: states[i])
                        continuation.yield(.cardInserted(reader: name, atr: reader.atr))
                    }
                    if event & DWORD(SCARD_STATE_UNKNOWN | SCARD_STATE_UNAVAILABLE) != 0 && event & DWORD(SCARD_STATE_PRESENT) == 0 {
                        readersChanged = true
                    }
                    known[name] =
                        isPresent ? (event & ~DWORD(SCARD_STATE_CHANGED)) : (event & ~DWORD(SCARD_STATE_CHANGED | SCARD_STATE_PRESENT))
                    states[i].dwCurrentState = event & ~DWORD(SCARD_STATE_CHANGED)
                }
                if readersChanged || isCancelled { return PCSCCode.success }
            }
        }
    }
}
