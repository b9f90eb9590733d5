import Ethereum

/// Why a chain was rejected: a closed set, so payees, tests and UIs can act on it.
public enum Reason: String, Sendable, CaseIterable, Equatable {
    case malformed
    case wrongDomain
    case badSignature
    case brokenChain
    case expired
    case notYetValid
    case revoked
    case scopeNotGranted
    case overTotal
    case payeeNotAllowed
    case widensParent
    case unknownToken
    case notAttested
}

/// The answer of the verifier for one envelope.
public struct Verdict: Sendable, Equatable {
    public var reason: Reason?
    public var detail: String
    public var kind: String
    public var master: Address?
    public var id: [UInt8]
    /// Things worth saying that did not decide the verdict (e.g. revocations ignored for lack of standing).
    public var notes: [String] = []

    public var valid: Bool { reason == nil }

    public var json: JSONValue {
        var object: JSONObject = [
            "valid": .bool(valid), "reason": .string(reason?.rawValue ?? "ok"), "kind": .string(kind),
            "master": master.map { .string($0.checksummed) } ?? .null, "id": .string(id.hexString),
        ]
        if !detail.isEmpty { object["detail"] = .string(detail) }
        if !notes.isEmpty { object["notes"] = .array(notes.map { .string($0) }) }
        return .object(object)
    }
}

/// A rejection raised inside the verifier's checks.
struct Rejection: Error {
    let reason: Reason
    let detail: String
    init(_ reason: Reason, _ detail: String) { self.reason = reason; self.detail = detail }
}
