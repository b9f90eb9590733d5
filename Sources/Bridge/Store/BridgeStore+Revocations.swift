import Ethereum
import Foundation
import GRDB

extension BridgeStore {
    /// Revocations one player may post, and all together: the list every player downloads stays small.
    public static let revocationsPerPairing = 64
    public static let revocationsTotal = 4096

    /// Whether this bridge released the delegation `id` (an approved request's envelope).
    public func released(_ id: [UInt8]) async throws -> Bool {
        let key = Data(id)
        return try await read { db in
            try BridgeRequest.filter(BridgeRequest.Columns.delegation == key && BridgeRequest.Columns.state == RequestState.approved)
                .fetchCount(db) > 0
        }
    }

    public func addRevocation(id: [UInt8], envelope: JSONValue, pairing: String?) async throws {
        let now = clock()
        let record = RevocationRecord(id: Data(id), envelope: envelope.compactText, addedAt: now, pairing: pairing)
        try await write { db in
            guard try !record.exists(db) else { return }
            let mine = try RevocationRecord.filter(RevocationRecord.Columns.pairing == pairing).fetchCount(db)
            guard mine < Self.revocationsPerPairing, try RevocationRecord.fetchCount(db) < Self.revocationsTotal else {
                throw BridgeStoreError.tooManyRevocations
            }
            try record.insert(db)
            try Self.audit(db, at: now, kind: "revocation.added", subject: id.hexString, pairing: pairing, detail: .object([:]))
        }
    }

    /// The signed revocation envelopes, oldest first.
    public func revocations() async throws -> [String] {
        try await read { db in
            try RevocationRecord.order(RevocationRecord.Columns.addedAt, RevocationRecord.Columns.id).fetchAll(db).map(\.envelope)
        }
    }
}
