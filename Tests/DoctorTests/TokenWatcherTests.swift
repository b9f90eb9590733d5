import Doctor
import Foundation
import Testing
import TokenHub

/// A bus whose contents the test changes between scans.
final class ChangingUSB: USBEnumerator, @unchecked Sendable {
    private let lock = NSLock()
    private var current: [USBDeviceDescriptor]
    init(_ devices: [USBDeviceDescriptor]) { current = devices }
    func set(_ devices: [USBDeviceDescriptor]) { lock.lock(); current = devices; lock.unlock() }
    func devices() throws(TokenHubError) -> [USBDeviceDescriptor] { lock.lock(); defer { lock.unlock() }; return current }
}

struct TokenWatcherTests {
    @Test func arrivalsAndDeparturesOfKnownTokensOnly() async throws {
        let bus = ChangingUSB([MatchingTests.yubiKey5NFC, MatchingTests.logitechReceiver])
        let watcher = TokenWatcher(table: try TokenTable.bundled(), enumerator: bus)
        #expect(watcher.start(hotplug: false) == .onDemand)
        bus.set([MatchingTests.logitechReceiver, MatchingTests.nitrokey3])
        try watcher.rescan()
        try watcher.rescan()  // nothing changed: no events
        watcher.stop()
        var events: [TokenEvent] = []
        for await event in watcher.events { events.append(event) }
        let ids = events.map { event -> String in
            switch event {
            case .arrived(let m): "+\(m.device.id)"
            case .departed(let m): "-\(m.device.id)"
            }
        }
        #expect(ids == ["+1050:0407", "-1050:0407", "+20a0:42b2"])
    }

    @Test func libusbWatcherStartsAndStopsCleanlyWithOrWithoutABus() async throws {
        let watcher = TokenWatcher(table: try TokenTable.bundled())
        let mode = watcher.start()
        // In a container libusb has no bus: unavailable, never a crash. On a host: hotplug.
        if case .unavailable(let error) = mode { #expect(error.description.contains("no USB access")) }
        #if os(Linux)
        // Debian's libusb has hotplug (netlink/udev): the event thread must start and be joined below.
        #expect(mode != .onDemand)
        #endif
        let started = Date()
        watcher.stop()
        // At most one 0.2 s libusb timeout by design; 5 s leaves a loaded machine room and still catches a hang.
        #expect(Date().timeIntervalSince(started) < 5)
        for await _ in watcher.events {}  // finished: the loop ends
        watcher.stop()  // idempotent
    }
}
