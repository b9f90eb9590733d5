import Foundation
import Storage
import Testing

/// Private directories as an attacker on the same machine would try them: created first by someone
/// else, opened to the group, replaced by a symlink. Each is refused with the path and nothing is
/// created inside or through it.
@Suite struct PrivateDirectoryTests {
    let base: String

    init() throws {
        var template = Array((NSTemporaryDirectory() + "/paratii-storage-XXXXXX").utf8CString)
        base = String(cString: try #require(mkdtemp(&template)))
    }

    @Test func createsMissingLevels0700() throws {
        let path = base + "/a/b/c"
        #expect(try PrivateDirectory.ensure(path) == path)
        for level in [base + "/a", base + "/a/b", path] {
            var info = stat()
            #expect(lstat(level, &info) == 0)
            #expect(info.st_mode & 0o777 == 0o700, "\(level)")
        }
        // Twice is fine.
        try PrivateDirectory.ensure(path)
    }

    @Test func refusesOpenModes() throws {
        let path = base + "/open"
        #expect(mkdir(path, 0o700) == 0)
        #expect(chmod(path, 0o750) == 0)
        #expect(throws: StorageError.unsafe("\(path) is open to other users (mode 750): run `chmod 700 \(path)`")) {
            try PrivateDirectory.ensure(path)
        }
    }

    @Test func refusesASymlinkAndCreatesNothingThroughIt() throws {
        let target = base + "/elsewhere"
        #expect(mkdir(target, 0o700) == 0)
        let link = base + "/link"
        #expect(symlink(target, link) == 0)
        #expect(throws: StorageError.self) { try PrivateDirectory.ensure(link) }
        #expect(try FileManager.default.contentsOfDirectory(atPath: target).isEmpty)
    }

    @Test func refusesADirectoryOfAnotherUser() throws {
        // As root, `nobody` stands in for the other local user who created the directory first.
        guard geteuid() == 0 else { return }
        let path = base + "/theirs"
        #expect(mkdir(path, 0o700) == 0)
        #expect(chown(path, 65534, 65534) == 0)
        #expect(throws: StorageError.self) { try PrivateDirectory.ensure(path) }
    }

    @Test func lockFilesFollowNoSymlink() throws {
        let target = base + "/victim"
        let link = base + "/card.lock"
        #expect(symlink(target, link) == 0)
        #expect(throws: StorageError.self) { try SecureFile.openLock(link) }
        #expect(access(target, F_OK) != 0, "nothing was created through the link")
        let real = try SecureFile.openLock(base + "/real.lock")
        close(real)
    }

    @Test func secureWritesAreAtomic0600AndReadsFollowNoLink() throws {
        let path = base + "/state.json"
        try SecureFile.write(Array("one".utf8), to: path)
        var info = stat()
        #expect(stat(path, &info) == 0 && info.st_mode & 0o777 == 0o600)
        #expect(try SecureFile.read(path) == Array("one".utf8))
        #expect(symlink(path, base + "/alias") == 0)
        #expect(throws: StorageError.self) { try SecureFile.read(self.base + "/alias") }
    }

    @Test func bareFileNamesHaveADirectory() throws {
        #expect(Paths.directory(of: "roster.sqlite") == ".")
        #expect(Paths.directory(of: "/roster.sqlite") == "/")
        #expect(Paths.directory(of: "a/b.sqlite") == "a")
        try PrivateDirectory.createParent(of: "roster.sqlite")
    }
}
