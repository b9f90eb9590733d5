import Ethereum
import Foundation

/// The JSON the store keeps as text (a request's body, its envelope), parsed: what `requestJSON` puts in
/// every answer about a request. A memo of `JSONValue.parse`, so each text is parsed once instead of on
/// every answer (a player polls its request; the approver lists what waits; ParatiiBench bridge). A text
/// the store writes is remembered with the value it was written from (`text == value.compactText`, so the
/// value is what parsing it gives); any other text (a restart, a row written by someone else) is
/// parsed on first use, and one that does not parse is never remembered. Bounded: emptied when full.
///
/// The lock is NSLock (a pthread mutex, which ThreadSanitizer sees; see TokenCache).
enum StoredJSON {
    static let capacity = 512
    private static let lock = NSLock()
    nonisolated(unsafe) private static var values: [String: JSONValue] = [:]

    /// What `JSONValue.parse(text)` gives, or nil when it throws.
    static func value(_ text: String) -> JSONValue? {
        if let known = lock.withLock({ values[text] }) { return known }
        guard let parsed = try? JSONValue.parse(text) else { return nil }
        remember(text, parsed)
        return parsed
    }

    /// `text` must be `value.compactText` (checked in debug builds: parsing it gives `value` back).
    static func remember(_ text: String, _ value: JSONValue) {
        assert((try? JSONValue.parse(text)) == value, "StoredJSON.remember: the text is not the value's")
        lock.withLock {
            if values.count >= capacity { values.removeAll(keepingCapacity: true) }
            values[text] = value
        }
    }

    static var count: Int { lock.withLock { values.count } }

    /// Forgets every text (the tests compare answers made with and without the memo).
    static func removeAll() { lock.withLock { values.removeAll() } }
}
