import Foundation
import GRDB

/// SQLite recovers a WAL by replaying frames up to the first bad checksum, silently forgets the rest
/// and deletes the file on close: garbage in the middle of a wallet's WAL would drop committed
/// vouchers, and the wallet would pay their sequence numbers again. Before a database is opened this
/// reads its WAL as SQLite would and refuses a damaged header, or a committed frame after a bad one.
/// A torn tail (the last transaction cut by power loss, never acknowledged) passes: SQLite drops it
/// and nothing acknowledged is lost. A damaged WAL is reported as SQLite reports a damaged file
/// (SQLITE_CORRUPT), so callers name the file and refuse it alike.
public enum WALCheck {
    public static func verify(_ databasePath: String) throws {
        let path = databasePath + "-wal"
        // Another process appending or restarting the WAL while it is read can look damaged: only a
        // verdict that holds on unchanged bytes counts.
        var previous: Data?
        for _ in 0..<3 {
            guard let data = FileManager.default.contents(atPath: path), !data.isEmpty else { return }
            guard let problem = damage(data) else { return }
            if data == previous {
                throw corrupt("\(path): \(problem); refusing to open it, as SQLite would discard committed transactions")
            }
            previous = data
            usleep(100_000)
        }
        throw corrupt("\(path) keeps changing while it is checked")
    }

    static func corrupt(_ message: String) -> DatabaseError { DatabaseError(resultCode: .SQLITE_CORRUPT, message: message) }

    /// Why the WAL image is damaged, or nil when SQLite would lose nothing that was committed.
    static func damage(_ data: Data) -> String? {
        let bytes = [UInt8](data)
        guard bytes.count >= 32 else { return "shorter than a WAL header (\(bytes.count) bytes)" }
        func u32(_ offset: Int) -> UInt32 {
            UInt32(bytes[offset]) << 24 | UInt32(bytes[offset + 1]) << 16 | UInt32(bytes[offset + 2]) << 8 | UInt32(bytes[offset + 3])
        }
        let magic = u32(0)
        guard magic == 0x377f0682 || magic == 0x377f0683, u32(4) == 3_007_000 else { return "not a WAL header" }
        let bigEndian = magic & 1 == 1
        let pageSize = Int(u32(8))
        guard pageSize >= 512, pageSize <= 65536, pageSize & (pageSize - 1) == 0 else { return "bad page size \(pageSize) in the header" }
        func checksum(_ range: Range<Int>, _ seed: (UInt32, UInt32)) -> (UInt32, UInt32) {
            var (s0, s1) = seed
            var i = range.lowerBound
            while i < range.upperBound {
                let x0 = bigEndian ? u32(i) : u32(i).byteSwapped
                let x1 = bigEndian ? u32(i + 4) : u32(i + 4).byteSwapped
                s0 = s0 &+ x0 &+ s1
                s1 = s1 &+ x1 &+ s0
                i += 8
            }
            return (s0, s1)
        }
        var sum = checksum(0..<24, (0, 0))
        guard sum == (u32(24), u32(28)) else { return "bad header checksum" }
        let salts = (u32(16), u32(20))
        let frameSize = 24 + pageSize
        var offset = 32
        while offset + frameSize <= bytes.count {
            // Frames with other salts are left over from before the last restart: the log ends here.
            guard (u32(offset + 8), u32(offset + 12)) == salts else { return nil }
            let next = checksum(offset + 24..<offset + frameSize, checksum(offset..<offset + 8, sum))
            if next != (u32(offset + 16), u32(offset + 20)) { break }
            sum = next
            offset += frameSize
        }
        let bad = (offset - 32) / frameSize
        var later = offset + frameSize
        while later + 24 <= bytes.count {
            if (u32(later + 8), u32(later + 12)) == salts && u32(later + 4) != 0 {
                return "frame \(bad) is damaged and a committed transaction follows it (frame \((later - 32) / frameSize))"
            }
            later += frameSize
        }
        return nil
    }
}
