import Delegation
import Ethereum
import Foundation
import LoopbackHTTP

/// The JSON bodies of `POST /v1/pairings` and `POST /v1/revocations`, checked apart from the routes so
/// tests and the fuzzer reach them directly (delegation requests: `DelegationRequest`).
public enum RequestBodies {
    /// The body as an object holding only `allowed` members.
    public static func object(_ value: JSONValue, keys allowed: [String]) throws -> JSONObject {
        guard case .object(let object) = value else { throw APIError.badRequest("the body must be a JSON object") }
        try APIError.onlyKeys(object, allowed, in: "body")
        return object
    }

    /// `POST /v1/pairings`: `{"name": "…", "secretHash": "<64 hex>", "wallet": "0x…"}`. The name is 1 to 64
    /// printable characters; `secretHash` is the SHA-256 of the creator's secret (its 64 hex digits as
    /// text), which the creator alone can later show to collect the token; `wallet` (optional) is the
    /// player's spending address, where top-ups go.
    struct Pairing: Equatable {
        var name: String
        var secretHash: [UInt8]
        var wallet: Address?
    }

    static func pairing(_ value: JSONValue) throws -> Pairing {
        let object = try object(value, keys: ["name", "secretHash", "wallet"])
        guard let name = object["name"]?.stringValue, !name.isEmpty, name.count <= 64,
            name.unicodeScalars.allSatisfy({ !CharacterSet.controlCharacters.contains($0) && !TerminalText.isUnsafe($0) })
        else { throw APIError.badRequest("name must be 1 to 64 printable characters") }
        guard let text = object["secretHash"]?.stringValue, text.utf8.count == 64, text.utf8.allSatisfy(RequestHeaders.isHexDigit),
            let secretHash = try? [UInt8](hex: text)
        else { throw APIError.badRequest("secretHash must be the SHA-256 (64 hex digits) of a secret only the player keeps") }
        var wallet: Address?
        if let member = object["wallet"] {
            guard let text = member.stringValue, let address = try? Address(text) else {
                throw APIError.badRequest("wallet must be an address")
            }
            wallet = address
        }
        return Pairing(name: name, secretHash: secretHash, wallet: wallet)
    }

    /// A Revocation envelope. Whether it verifies is the route's check: that needs the chain and the clock.
    static func revocation(_ value: JSONValue) throws -> Envelope {
        let envelope: Envelope
        do { envelope = try Envelope(json: value) } catch { throw APIError.badRequest("\(error)") }
        guard envelope.message.typed is Revocation else { throw APIError.badRequest("not a Revocation envelope") }
        return envelope
    }
}
