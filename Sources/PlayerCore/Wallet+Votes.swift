import BigInt
import Delegation
import Ethereum
import Foundation
import GRDB

/// A vote as the player casts it; each maps to a scope bit and a value.
public enum Ballot: Sendable, Equatable {
    case rate(Int16)  // 1…5
    case flag(String)  // raise a flag, with a reason
    case unflag  // withdraw a flag
    case moderate(Int16, String)  // an action code, with a reason

    var kind: UInt8 {
        switch self {
        case .rate: 1
        case .flag, .unflag: 2
        case .moderate: 4
        }
    }

    var value: Int16 {
        switch self {
        case .rate(let stars): stars
        case .flag: 1
        case .unflag: -1
        case .moderate(let action, _): action
        }
    }

    var reason: String {
        switch self {
        case .flag(let reason), .moderate(_, let reason): reason
        case .rate, .unflag: ""
        }
    }
}

extension Wallet {
    /// Creates a posting key (same password, its own keystore) and has the spending key sign its
    /// PostingDelegation under the live spending delegation that lasts longest.
    public func newPostingKey(scopes: Scopes, validFor: UInt64 = 30 * 86400, kdf: ScryptParameters = .standard) throws -> Envelope {
        guard scopes.rawValue != 0, Scopes.all.isSuperset(of: scopes) else {
            throw WalletError.invalid("scopes must be a subset of rate, flag, moderate")
        }
        let now = clock()
        let parentID = try database.read { db in
            try String.fetchOne(
                db,
                sql: """
                    SELECT id FROM delegation WHERE revokedAt IS NULL AND validAfter <= ? AND validUntil >= ? ORDER BY validUntil DESC LIMIT 1
                    """, arguments: [Int64(clamping: now), Int64(clamping: now)])
        }
        guard let parentID else { throw WalletError.refused(.noDelegation, "no live spending delegation to hang a posting key under") }
        let parent = try delegationEnvelope(try [UInt8](hex: parentID))
        guard case .spending(let spending) = parent.message else {
            throw WalletError.corrupted("delegation \(parentID) is not a SpendingDelegation")
        }

        let poster = PrivateKey.generate()
        let posting = PostingDelegation(
            parent: parent.id, spender: address, poster: poster.address, scopes: scopes,
            validAfter: max(now, spending.validAfter), validUntil: min(now + validFor, spending.validUntil), salt: Salt.random())
        let envelope = try Envelope.sign(posting, domain: parent.domain, signer: spendingKey, parents: [parent] + parent.parents)
        do {
            try Keystore.create(
                poster, at: "\(directory)/\(Wallet.postingDirectory)/\(poster.address.checksummed).json", password: password, kdf: kdf)
        } catch { throw WalletError.storage("\(error)") }
        try write { db in
            try db.execute(
                sql: """
                    INSERT INTO postingKey (address, delegationId, envelope, scopes, validUntil, createdAt) VALUES (?, ?, ?, ?, ?, ?)
                    """,
                arguments: [
                    poster.address.checksummed, parentID, envelope.json.compactText, Int64(scopes.rawValue),
                    Int64(clamping: posting.validUntil), Int64(clamping: now),
                ])
        }
        return envelope
    }

    /// Signs a Vote with a live posting key whose scopes allow it.
    public func vote(content: [UInt8], _ ballot: Ballot) throws -> Envelope {
        guard content.count == 32 else { throw WalletError.invalid("content id must be 32 bytes") }
        let now = clock()
        let row = try database.read { db in
            try Row.fetchOne(
                db,
                sql: """
                    SELECT address, envelope FROM postingKey WHERE revokedAt IS NULL AND validUntil >= ? AND (scopes & ?) != 0
                    ORDER BY validUntil DESC LIMIT 1
                    """, arguments: [Int64(clamping: now), Int64(ballot.kind)])
        }
        guard let row else {
            throw WalletError.invalid(
                "no live posting key may \(Scopes(rawValue: UInt32(ballot.kind)).names.joined()); create one with new-posting-key")
        }
        let posting: Envelope
        do { posting = try Envelope(parsing: Array((row["envelope"] as String).utf8)) } catch {
            throw WalletError.corrupted("posting key: \(error)")
        }
        let keyPath = "\(directory)/\(Wallet.postingDirectory)/\(row["address"] as String).json"
        let poster: PrivateKey
        do { poster = try Keystore.open(keyPath, password: password) } catch { throw WalletError.corrupted("\(keyPath): \(error)") }
        let vote = Vote(
            delegation: posting.id, content: content, kind: ballot.kind, value: ballot.value, reason: ballot.reason, issuedAt: now)
        guard vote.hasValidValue else { throw WalletError.invalid("value \(ballot.value) means nothing for this kind of vote") }
        let envelope = try Envelope.sign(vote, domain: posting.domain, signer: poster, parents: [posting] + posting.parents)
        try write { db in
            try db.execute(
                sql: "INSERT INTO vote (poster, content, kind, value, issuedAt, envelope) VALUES (?, ?, ?, ?, ?, ?)",
                arguments: [
                    poster.address.checksummed, content.hexString, Int64(vote.kind), Int64(vote.value),
                    Int64(clamping: now), envelope.json.compactText,
                ])
        }
        return envelope
    }

    /// The spending key revokes one of its posting keys: locally at once, and as a signed Revocation to publish.
    public func revokePostingKey(_ poster: Address) throws -> Envelope {
        let text = try database.read { db in
            try String.fetchOne(db, sql: "SELECT envelope FROM postingKey WHERE address = ?", arguments: [poster.checksummed])
        }
        guard let text else { throw WalletError.invalid("no posting key \(poster) in this wallet") }
        let posting: Envelope
        do { posting = try Envelope(parsing: Array(text.utf8)) } catch { throw WalletError.corrupted("posting key: \(error)") }
        let now = clock()
        let revocation = try Envelope.sign(
            Revocation(issuer: address, target: posting.id, issuedAt: now), domain: posting.domain, signer: spendingKey)
        try write { db in
            try db.execute(
                sql: "UPDATE postingKey SET revokedAt = ? WHERE address = ? AND revokedAt IS NULL",
                arguments: [Int64(clamping: now), poster.checksummed])
        }
        return revocation
    }
}
