import Ethereum
import Foundation
import Testing
import TokenHub

@testable import Bridge

/// Recorded descriptors on a bus the test changes: there is no USB bus on CI machines, so the
/// libusb enumerator is swapped for these (Doctor's tests cover libusb itself starting and stopping).
final class RecordedBus: USBEnumerator, @unchecked Sendable {
    private let lock = NSLock()
    private var current: [USBDeviceDescriptor] = []
    func set(_ devices: [USBDeviceDescriptor]) { lock.withLock { current = devices } }
    func devices() throws(TokenHubError) -> [USBDeviceDescriptor] { lock.withLock { current } }
}

@Suite struct USBEventTests {
    static let yubiKey5 = USBDeviceDescriptor(
        vendorId: 0x1050, productId: 0x0407, bus: 1, address: 4, bcdDevice: 0x0543,
        manufacturer: "Yubico", product: "YubiKey OTP+FIDO+CCID")
    static let keyboard = USBDeviceDescriptor(vendorId: 0x046D, productId: 0xC31C, bus: 1, address: 2, bcdDevice: 0x6400)

    @Test func knownTokensArrivingAndLeavingReachPlayersAsEvents() async throws {
        let bus = RecordedBus()
        bus.set([Self.keyboard])
        let watcher = TokenWatcher(table: try TokenTable.bundled(), enumerator: bus)
        let bridge = try await TestBridge(usbWatcher: watcher)
        let player = bridge.client(token: try await bridge.pair())
        let start = try await bridge.store.revision()

        bus.set([Self.keyboard, Self.yubiKey5])
        try watcher.rescan()
        bus.set([Self.keyboard])
        try watcher.rescan()

        var seen: [(String, String)] = []
        let deadline = Date().addingTimeInterval(60)
        var since = start
        while seen.count < 2 && Date() < deadline {
            let path = "/v1/events?since=\(since)&timeout=5"
            let page = try await call { try player.get(path) }
            for event in page.json?["events"]?.arrayValue ?? [] {
                guard let type = event["type"]?.stringValue, type.hasPrefix("token.usb-") else { continue }
                seen.append((type, event["id"]?.stringValue ?? ""))
            }
            if case .number(let text) = page.json?["revision"], let revision = Int64(text) { since = revision }
        }
        #expect(seen.map(\.0) == ["token.usb-arrived", "token.usb-departed"])
        #expect(seen.allSatisfy { $0.1.contains("YubiKey 5") && $0.1.contains("1050:0407") })
        // The keyboard is not a token: never reported. The audit keeps the details and still verifies.
        let entries = try await bridge.store.auditEntries().filter { $0.kind == "token.usb-arrived" }
        #expect(entries.count == 1)
        #expect(entries.first?.detail.contains("\"firmwareHint\":\"5.4.3\"") == true)
        #expect(try await bridge.store.verifyAudit().broken.isEmpty)
        await bridge.stop()
    }
}
