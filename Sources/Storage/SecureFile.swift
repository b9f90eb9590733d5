#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Writes secrets to disk atomically: a 0600 temporary file in the same directory, fsync,
/// then rename (or link, when refusing to replace), then fsync of the directory. A crash
/// leaves either the old file or the new one, never a torn one.
public enum SecureFile {
    public static func write(_ bytes: [UInt8], to path: String, replacing: Bool = true) throws(StorageError) {
        let directory = Paths.directory(of: path)
        let temporary = "\(directory)/.\(Paths.basename(of: path)).\(String(UInt64.random(in: 0...UInt64.max), radix: 16)).tmp"
        let fd = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw .io("cannot create \(temporary): \(Self.errnoText())") }
        var ok = fchmod(fd, 0o600) == 0
        ok =
            ok
            && bytes.withUnsafeBytes { raw in
                var offset = 0
                while offset < raw.count {
                    let n = Glibc_write(fd, raw.baseAddress! + offset, raw.count - offset)
                    if n < 0 { if errno == EINTR { continue }; return false }
                    offset += n
                }
                return true
            }
        ok = ok && fsync(fd) == 0
        let failure = Self.errnoText()
        close(fd)
        guard ok else {
            unlink(temporary)
            throw .io("cannot write \(path): \(failure)")
        }
        if replacing {
            guard rename(temporary, path) == 0 else {
                let why = Self.errnoText()
                unlink(temporary)
                throw .io("cannot replace \(path): \(why)")
            }
        } else {
            // link(2) fails with EEXIST instead of replacing: no window where an existing key is lost.
            let linked = link(temporary, path) == 0
            let why = Self.errnoText()
            unlink(temporary)
            guard linked else {
                throw .io(errno == EEXIST ? "\(path) already exists; refusing to overwrite it" : "cannot create \(path): \(why)")
            }
        }
        let dirfd = open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if dirfd >= 0 {
            fsync(dirfd)
            close(dirfd)
        }
    }

    public static func read(_ path: String) throws(StorageError) -> [UInt8] {
        let fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)
        guard fd >= 0 else { throw .io("cannot read \(path): \(Self.errnoText())") }
        defer { close(fd) }
        var out = [UInt8]()
        var chunk = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = chunk.withUnsafeMutableBytes { Glibc_read(fd, $0.baseAddress!, $0.count) }
            if n < 0 { if errno == EINTR { continue }; throw .io("cannot read \(path): \(Self.errnoText())") }
            if n == 0 { return out }
            out.append(contentsOf: chunk[0..<n])
        }
    }

    /// Opens (creating 0600 if needed) a lock file without following a symlink, and refuses one that is
    /// not a regular file of this user's: a planted link must not make us create or truncate anything.
    public static func openLock(_ path: String) throws(StorageError) -> Int32 {
        let fd = open(path, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw .io("cannot open \(path): \(Self.errnoText())") }
        var info = stat()
        guard fstat(fd, &info) == 0, info.st_mode & S_IFMT == S_IFREG, info.st_uid == geteuid(), info.st_mode & 0o077 == 0 else {
            close(fd)
            throw .unsafe("\(path) is not a private regular file of this user's: remove it and run again")
        }
        return fd
    }

    static func errnoText() -> String { String(cString: strerror(errno)) }
}

@inline(__always) private func Glibc_write(_ fd: Int32, _ buffer: UnsafeRawPointer, _ count: Int) -> Int {
    write(fd, buffer, count)
}

@inline(__always) private func Glibc_read(_ fd: Int32, _ buffer: UnsafeMutableRawPointer, _ count: Int) -> Int {
    read(fd, buffer, count)
}
