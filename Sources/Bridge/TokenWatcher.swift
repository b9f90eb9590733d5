import Ethereum
import Foundation
import PCSC
import ServiceLifecycle

/// Watches readers and cards (pcscd's status changes, no polling) and records each insertion and
/// removal in the audit log, so `GET /v1/events` reports tokens coming and going. Runs as a service
/// of the application: graceful shutdown ends it.
struct TokenWatcher: Service {
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
            try? store.recordTokenEvent(kind: kind, subject: subject)
        }
    }
}
