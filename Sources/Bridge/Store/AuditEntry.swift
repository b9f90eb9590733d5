import Crypto
import Ethereum
import Foundation
import GRDB

/// One link of the hash-chained audit log (table `audit`). `seq` is also the bridge's revision.
public struct AuditEntry: Codable, Sendable, FetchableRecord, PersistableRecord {
    public static let databaseTableName = "audit"

    public var seq: Int64
    public var at: UInt64
    public var kind: String
    public var subject: String
    public var pairing: String?
    /// Compact JSON.
    public var detail: String
    public var signatureCounter: Int?
    public var previous: Data
    public var hash: Data

    public enum Columns {
        static let seq = Column(CodingKeys.seq)
        static let kind = Column(CodingKeys.kind)
        static let pairing = Column(CodingKeys.pairing)
    }

    /// The columns GRDB's Codable encoder would write, written directly (every change appends an entry).
    public func encode(to container: inout PersistenceContainer) {
        container[CodingKeys.seq.stringValue] = seq
        container[CodingKeys.at.stringValue] = at
        container[CodingKeys.kind.stringValue] = kind
        container[CodingKeys.subject.stringValue] = subject
        container[CodingKeys.pairing.stringValue] = pairing
        container[CodingKeys.detail.stringValue] = detail
        container[CodingKeys.signatureCounter.stringValue] = signatureCounter
        container[CodingKeys.previous.stringValue] = previous
        container[CodingKeys.hash.stringValue] = hash
    }

    /// Appends the entry through one statement compiled once per connection: every change writes one,
    /// and a record's `insert` builds its SQL anew each time (GRDB caches the statement, not the text).
    func append(_ db: Database) throws {
        try db.cachedStatement(
            sql: """
                INSERT INTO \(Self.databaseTableName) (seq, at, kind, subject, pairing, detail, signatureCounter, previous, hash)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
                """
        ).execute(arguments: [seq, at, kind, subject, pairing, detail, signatureCounter, previous, hash])
    }

    /// sha256(previous ‖ canonical JSON of the entry without its hash). Byte for byte what every
    /// earlier version computed: existing databases keep verifying.
    public func computedHash() -> Data {
        let body: JSONValue = .object([
            "seq": .number("\(seq)"), "at": .number("\(at)"), "kind": .string(kind), "subject": .string(subject),
            "pairing": pairing.map { .string($0) } ?? .null, "detail": .string(detail),
            "signatureCounter": signatureCounter.map { .number("\($0)") } ?? .null,
        ])
        var hasher = SHA256()
        hasher.update(data: previous)
        hasher.update(data: Array(body.compactText.utf8))
        return Data(hasher.finalize())
    }
}

/// The audit chain's check: each entry's hash and link; signature counters that skip values.
public struct AuditReport: Sendable {
    public var entries = 0
    public var signatures = 0
    public var broken: [String] = []
    public var counterGaps: [String] = []

    /// Walks the chain in sequence order.
    init(_ chain: [AuditEntry]) {
        var previous = Data(count: 32)
        var expectedSeq: Int64 = 1
        var lastCounter: Int?
        for entry in chain {
            entries += 1
            if entry.seq != expectedSeq { broken.append("entry \(entry.seq): expected sequence \(expectedSeq) (entries removed)") }
            if entry.previous != previous { broken.append("entry \(entry.seq): does not link to the entry before it") }
            if entry.computedHash() != entry.hash { broken.append("entry \(entry.seq): hash does not match its content (altered)") }
            if let counter = entry.signatureCounter {
                signatures += 1
                if let lastCounter, counter != lastCounter + 1 {
                    counterGaps.append(
                        counter > lastCounter
                            ? "before entry \(entry.seq): the card made \(counter - lastCounter - 1) signature(s) outside the bridge (counter \(lastCounter) → \(counter))"
                            : "entry \(entry.seq): the card's counter went back (\(lastCounter) → \(counter)): another card, or a reset")
                }
                lastCounter = counter
            }
            previous = entry.hash
            expectedSeq = entry.seq + 1
        }
    }
}
