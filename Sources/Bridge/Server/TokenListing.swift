import Ethereum
import TokenHub

/// `GET /v1/tokens`: each reader, and for an OpenPGP card in it its serial, master address, PIN tries
/// and signature counter, as the token hub reads them. Read-only: no PIN is ever presented.
public enum TokenListing {
    @Sendable public static func tokens() throws -> [JSONValue] {
        guard case .readers(let readers) = TokenHub.readers() else { return [] }
        return readers.map { reader in
            var object: JSONObject = ["reader": .string(reader.name), "cardPresent": .bool(reader.card != nil)]
            switch reader.card {
            case nil:
                break
            case .openPGP(let facts)?:
                object["openpgp"] = .bool(true)
                object["serial"] = .string(facts.serial)
                object["manufacturer"] = .string(facts.manufacturer)
                object["version"] = .string(facts.version)
                object["pinTries"] = .number("\(facts.userPINTries)")
                object["adminPinTries"] = .number("\(facts.adminPINTries)")
                if let counter = facts.signatureCounter { object["signatureCounter"] = .number("\(counter)") }
                object["master"] = facts.address.map { .string($0) } ?? .null
            case .some:
                object["openpgp"] = .bool(false)
            }
            return .object(object)
        }
    }
}
