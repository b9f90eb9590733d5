import Foundation

/// A store holds what payers owe and whom they paid: owner-only whatever the process umask.
/// SQLite creates its -wal and -shm files with the database file's mode, so a database created
/// 0600 here keeps all three 0600.
enum PrivateFile {
    /// Creates `path`'s missing directories 0700 and the file itself 0600, leaving existing ones as they are
    /// (a directory the user chose, such as /tmp, is not ours to change).
    static func prepare(_ path: String) throws {
        let parent = (path as NSString).deletingLastPathComponent
        if !parent.isEmpty, !FileManager.default.fileExists(atPath: parent) {
            try makeDirectory(parent)
        }
        let fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        if fd >= 0 {
            defer { close(fd) }
            guard fchmod(fd, 0o600) == 0 else {
                throw WalletError.storage("cannot make \(path) private: \(String(cString: strerror(errno)))")
            }
        } else if errno != EEXIST {
            throw WalletError.storage("cannot create \(path): \(String(cString: strerror(errno)))")
        }
    }

    private static func makeDirectory(_ directory: String) throws {
        let parent = (directory as NSString).deletingLastPathComponent
        if !parent.isEmpty, parent != directory, !FileManager.default.fileExists(atPath: parent) { try makeDirectory(parent) }
        if mkdir(directory, 0o700) == 0 {
            chmod(directory, 0o700)  // mkdir's mode passes through the umask
        } else if errno != EEXIST {
            throw WalletError.storage("cannot create \(directory): \(String(cString: strerror(errno)))")
        }
    }
}
