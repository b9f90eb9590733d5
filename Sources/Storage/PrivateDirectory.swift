#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Directories only their owner may enter. A directory someone else created first (in /tmp, say) or
/// a symlink planted in its place would let that someone swap in their own socket or files, so
/// after `mkdir` the directory is checked with `lstat`: a real directory, owned by this user, with
/// no group or other bits. Anything else is refused with one line naming the path and the fix.
public enum PrivateDirectory {
    /// Creates `path` (and missing parents, 0700) and verifies `path` itself. Returns `path`.
    @discardableResult
    public static func ensure(_ path: String) throws(StorageError) -> String {
        guard !path.isEmpty else { throw .io("an empty directory path") }
        try createMissing(path)
        try verify(path)
        return path
    }

    /// Refuses `path` unless it is a real directory owned by this user with no group or other bits.
    public static func verify(_ path: String) throws(StorageError) {
        var info = stat()
        guard lstat(path, &info) == 0 else { throw .io("cannot inspect \(path): \(SystemError.text())") }
        guard info.st_mode & S_IFMT == S_IFDIR else {
            throw .unsafe("\(path) is not a directory (a symlink or a file is in its place): remove it and run again")
        }
        guard info.st_uid == geteuid() else {
            throw .unsafe(
                "\(path) belongs to uid \(info.st_uid), not to this user (uid \(geteuid())): remove it (as its owner or root) and run again"
            )
        }
        guard info.st_mode & 0o077 == 0 else {
            throw .unsafe("\(path) is open to other users (mode \(String(info.st_mode & 0o777, radix: 8))): run `chmod 700 \(path)`")
        }
    }

    /// Creates the directory a state file goes in (missing components 0700; existing ones are the
    /// user's choice and left as they are). A bare file name needs nothing: its directory is ".".
    public static func createParent(of file: String) throws(StorageError) {
        let parent = Paths.directory(of: file)
        if parent != "." { try createMissing(parent) }
    }

    /// mkdir 0700 for each missing component, parents first; an existing component is left alone.
    public static func createMissing(_ path: String) throws(StorageError) {
        var info = stat()
        if lstat(path, &info) == 0 { return }
        let parent = Paths.directory(of: path)
        if parent != path, parent != "." { try createMissing(parent) }
        if mkdir(path, 0o700) != 0, errno != EEXIST {
            throw .io("cannot create \(path): \(SystemError.text())")
        }
    }
}

enum SystemError {
    static func text() -> String { String(cString: strerror(errno)) }
}
