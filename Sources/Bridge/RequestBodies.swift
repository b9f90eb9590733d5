import Delegation
import Ethereum
import Foundation

/// The JSON bodies of `POST /v1/pairings` and `POST /v1/revocations`, checked apart from the routes so
/// tests and the fuzzer reach them directly (delegation requests: `DelegationRequest`).
enum RequestBodies {
    /// The body as an object holding only `allowed` members.
    static func object(_ value: JSONValue, keys allowed: [String]) throws(APIError) -> JSONObject {
        guard case .object(let object) = value else { throw .badRequest("the body must be a JSON object") }
        try APIError.onlyKeys(object, allowed, in: "body")
        return object
    }

    /// `{"name": "…"}`: 1 to 64 printable characters.
    static func pairingName(_ value: JSONValue) throws(APIError) -> String {
        let object = try object(value, keys: ["name"])
        guard let name = object["name"]?.stringValue, !name.isEmpty, name.count <= 64,
              name.unicodeScalars.allSatisfy({ !CharacterSet.controlCharacters.contains($0) })
        else { throw .badRequest("name must be 1 to 64 printable characters") }
        return name
    }

    /// A Revocation envelope. Whether it verifies is the route's check: that needs the chain and the clock.
    static func revocation(_ value: JSONValue) throws(APIError) -> Envelope {
        let envelope: Envelope
        do { envelope = try Envelope(json: value) } catch { throw .badRequest("\(error)") }
        guard envelope.message.typed is Revocation else { throw .badRequest("not a Revocation envelope") }
        return envelope
    }
}
