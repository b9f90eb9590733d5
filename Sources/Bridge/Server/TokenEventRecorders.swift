import Ethereum
import Foundation
import PCSC
import ServiceLifecycle
import TokenHub

/// Watches readers and cards (pcscd's status changes, no polling) and records each insertion and
/// removal in the audit log, so `GET /v1/events` reports tokens coming and going. Runs as a service
/// of the application: graceful shutdown ends it.
struct ReaderEventRecorder: Service {
    let store: BridgeStore

    func run() async throws {
        for await event in ReaderMonitor.events().cancelOnGracefulShutdown() {
            let (kind, subject): (String, String)
            switch event {
            case .readerAdded(let reader): (kind, subject) = ("token.reader-added", reader)
            case .readerRemoved(let reader): (kind, subject) = ("token.reader-removed", reader)
            case .cardInserted(let reader, _): (kind, subject) = ("token.inserted", reader)
            case .cardRemoved(let reader): (kind, subject) = ("token.removed", reader)
            case .serviceLost: (kind, subject) = ("token.service-lost", "pcscd")
            case .serviceRestored: (kind, subject) = ("token.service-restored", "pcscd")
            }
            try? await store.recordTokenEvent(kind: kind, subject: subject)
        }
    }
}

/// Records known tokens arriving on and leaving the USB bus (the token hub's `TokenWatcher`: libusb hotplug
/// where the bus is reachable), so a player hears of a YubiKey plugged in before pcscd sees its card,
/// and of a token whose CCID interface is off, which pcscd never sees at all.
struct USBEventRecorder: Service {
    let store: BridgeStore
    let watcher: TokenWatcher

    func run() async throws {
        let mode = watcher.start()
        if case .unavailable(let error) = mode {
            try? await store.recordTokenEvent(kind: "token.usb-unavailable", subject: "\(error)")
        }
        await withGracefulShutdownHandler {
            for await event in watcher.events {
                let (kind, match): (String, TokenMatch) =
                    switch event {
                    case .arrived(let match): ("token.usb-arrived", match)
                    case .departed(let match): ("token.usb-departed", match)
                    }
                try? await store.recordTokenEvent(kind: kind, subject: Self.subject(match), detail: Self.detail(match))
            }
        } onGracefulShutdown: {
            watcher.stop()
        }
    }

    /// `YubiKey 5 NFC 1050:0407 bus 1 address 5`: which token and where, never more than USB tells.
    static func subject(_ match: TokenMatch) -> String {
        "\(match.token.name) \(match.device.id) bus \(match.device.bus) address \(match.device.address)"
    }

    static func detail(_ match: TokenMatch) -> JSONValue {
        var object: JSONObject = [
            "token": .string(match.token.name), "usb": .string(match.device.id),
            "openpgp": .bool(match.token.openpgp), "interface": .string(match.token.interface.rawValue),
        ]
        if let firmware = match.firmwareHint { object["firmwareHint"] = .string("\(firmware)") }
        if let secp256k1 = match.secp256k1Capable { object["secp256k1"] = .bool(secp256k1) }
        return .object(object)
    }
}
