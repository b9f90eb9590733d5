import Foundation

/// Kills a child process that outlives its deadline. A test waiting for a hung child sits in a
/// synchronous `waitUntilExit` or pipe read: Swift Testing's `.timeLimit` records the overrun there but
/// cannot end the wait (seen: the run hung on until killed from outside), so the wait needs its own end.
/// Arm it after `run()`, call `disarm()` once the child has exited; `fired` says the child was killed.
public final class ChildDeadline: @unchecked Sendable {
    /// Generous for any one command on a loaded 2-core machine (under ThreadSanitizer too), short of
    /// the suites' 15-minute limits and CI's step limit; `PARATII_TEST_CHILD_DEADLINE` (seconds) sets another.
    public static let standard: TimeInterval =
        ProcessInfo.processInfo.environment["PARATII_TEST_CHILD_DEADLINE"].flatMap(TimeInterval.init) ?? 300
    public let seconds: TimeInterval
    private let lock = NSLock()
    private var done = false
    private var killed = false

    public init(_ process: Process, seconds: TimeInterval = ChildDeadline.standard) {
        self.seconds = seconds
        let pid = process.processIdentifier
        DispatchQueue.global().asyncAfter(deadline: .now() + seconds) { [self] in
            lock.lock()
            defer { lock.unlock() }
            // Not after `disarm()`: by then the pid may belong to another process.
            guard !done else { return }
            killed = true
            kill(pid, SIGKILL)
        }
    }

    /// Call once the child has exited (after `waitUntilExit`).
    public func disarm() { lock.lock(); done = true; lock.unlock() }

    public var fired: Bool { lock.lock(); defer { lock.unlock() }; return killed }

    /// The line a test records when the child was killed.
    public func describe(_ what: String) -> String { "\(what) still ran after \(Int(seconds)) s and was killed" }
}
