import Ethereum
import OpenPGPCard
import PCSC

/// `GET /v1/tokens`: each reader, and for an OpenPGP card in it its serial, master address, PIN tries
/// and signature counter. Read-only: no PIN is ever presented.
public enum CardProbe {
    @Sendable public static func tokens() throws -> [JSONValue] {
        let context: PCSCContext
        do { context = try PCSCContext() } catch { return [] }
        let states: [ReaderState]
        do { states = try context.readerStates() } catch { return [] }
        return states.map { state in
            var object: JSONObject = ["reader": .string(state.name), "cardPresent": .bool(state.cardPresent)]
            guard state.cardPresent, let channel = try? context.connect(reader: state.name) else { return .object(object) }
            let card = OpenPGPCard(channel: channel)
            guard let app = try? card.applicationData() else {
                object["openpgp"] = .bool(false)
                return .object(object)
            }
            object["openpgp"] = .bool(true)
            object["serial"] = .string(app.aid.serialHex)
            object["manufacturer"] = .string(app.aid.manufacturerName)
            object["version"] = .string(app.aid.version)
            object["pinTries"] = .number("\(app.pinStatus.pw1TriesLeft)")
            object["adminPinTries"] = .number("\(app.pinStatus.pw3TriesLeft)")
            if let counter = try? card.signatureCounter() { object["signatureCounter"] = .number("\(counter)") }
            if let key = try? card.publicKey() { object["master"] = .string(key.address.checksummed) } else { object["master"] = .null }
            return .object(object)
        }
    }
}
