import Ethereum
import Storage

/// A set of signed revocations, kept as a JSON array of Revocation envelopes in a file.
/// Adding and merging dedupe by id; entries that are not validly signed revocations are dropped,
/// and said so. Whether an issuer may revoke a given target is decided when a chain is verified.
public struct RevocationList: Sendable {
    public private(set) var envelopes: [Envelope] = []
    private var ids = Set<[UInt8]>()
    /// target id → (issuer, issuedAt) of every revocation naming it.
    private(set) var byTarget: [[UInt8]: [(issuer: Address, issuedAt: UInt64)]] = [:]

    public init() {}

    public var count: Int { envelopes.count }
    public var isEmpty: Bool { envelopes.isEmpty }

    /// Adds a revocation; returns why not when it is refused, nil when added or already present.
    /// A revocation signed with v 0/1 is still honoured (ignoring it would fail open), and kept with v 27/28.
    @discardableResult
    public mutating func add(_ envelope: Envelope) -> String? {
        guard case .revocation(let revocation) = envelope.message else { return "not a Revocation: \(envelope.kind)" }
        guard let signature = try? Signature(bytes: envelope.signature),
            let signer = try? signature.recoverAddress(digest: envelope.id), signer == revocation.issuer
        else { return "revocation \(envelope.id.hexString) is not signed by its issuer \(revocation.issuer)" }
        guard ids.insert(envelope.id).inserted else { return nil }
        envelopes.append(Envelope(message: envelope.message, domain: envelope.domain, signature: signature.bytes, parents: []))
        byTarget[revocation.target, default: []].append((revocation.issuer, revocation.issuedAt))
        return nil
    }

    /// Merges `other` in; returns the notes of entries it refused.
    public mutating func merge(_ other: RevocationList) -> [String] {
        other.envelopes.compactMap { add($0) }
    }

    public func revocations(of target: [UInt8]) -> [(issuer: Address, issuedAt: UInt64)] { byTarget[target] ?? [] }

    public var json: JSONValue { .array(envelopes.map(\.json)) }

    /// Parses the file form; returns the list and notes about dropped entries. Malformed JSON is an error.
    public static func parse(_ bytes: [UInt8]) throws(DelegationError) -> (list: RevocationList, notes: [String]) {
        let value: JSONValue
        do { value = try JSONValue.parse(bytes) } catch { throw .malformed("revocation list: \(error)") }
        guard case .array(let items) = value else { throw .malformed("a revocation list is a JSON array of envelopes") }
        var list = RevocationList()
        var notes: [String] = []
        for (i, item) in items.enumerated() {
            do {
                if let note = list.add(try Envelope(json: item)) { notes.append("entry \(i) ignored: \(note)") }
            } catch {
                notes.append("entry \(i) ignored: \(error)")
            }
        }
        return (list, notes)
    }

    public static func load(_ path: String) throws(DelegationError) -> (list: RevocationList, notes: [String]) {
        let bytes: [UInt8]
        do { bytes = try SecureFile.read(path) } catch { throw .io("\(error)") }
        return try parse(bytes)
    }

    /// Writes atomically (temporary file, fsync, rename).
    public func save(_ path: String) throws(DelegationError) {
        do { try SecureFile.write(Array(json.prettyText.utf8) + [0x0A], to: path) } catch { throw .io("\(error)") }
    }
}
