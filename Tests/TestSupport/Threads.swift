import Foundation

/// Runs `body(0..<count)` on `count` threads of its own, all at once, and returns when every one has.
///
/// `DispatchQueue.concurrentPerform` runs no more iterations at a time than there are cores (two here), so
/// "8 clients" through it were 2: a load generator or a concurrency test that means N at once uses this.
public func concurrently(_ count: Int, _ body: @escaping @Sendable (Int) -> Void) {
    let done = DispatchGroup()
    for i in 0..<count {
        done.enter()
        let thread = Thread {
            body(i)
            done.leave()
        }
        thread.start()
    }
    done.wait()
}
