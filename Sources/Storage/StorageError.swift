/// Every way the storage layer refuses: one closed set, each case a one-line description that names
/// the path and, where there is one, the fix.
public enum StorageError: Error, CustomStringConvertible, Sendable, Equatable {
    /// A system call failed on a path (the text names the path and the reason).
    case io(String)
    /// A directory or file that must be private is not: wrong owner, group or other bits, a symlink.
    case unsafe(String)

    public var description: String {
        switch self {
        case .io(let text), .unsafe(let text): text
        }
    }
}
