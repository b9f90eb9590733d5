import CLibUSB
import Foundation

/// A known token appearing on or leaving the USB bus.
public enum TokenEvent: Hashable, Sendable {
    case arrived(TokenMatch)
    case departed(TokenMatch)
}

/// Watches the bus for known tokens and reports arrivals and departures as an `AsyncStream`, even before
/// pcscd sees a card. With libusb hotplug each bus change triggers a rescan; without it (or in tests),
/// callers rescan on demand. Events are differences between scans, so a rescan too many is harmless.
public final class TokenWatcher: @unchecked Sendable {
    public enum Mode: Equatable, Sendable {
        case hotplug
        case onDemand
        /// No USB access at all: the stream stays open but silent.
        case unavailable(TokenHubError)
    }

    public let events: AsyncStream<TokenEvent>
    private let continuation: AsyncStream<TokenEvent>.Continuation
    private let table: TokenTable
    private let enumerator: any USBEnumerator
    private let lock = NSLock()
    private var present: [String: TokenMatch] = [:]
    private var hotplug: LibUSBHotplug?
    private var stopped = false

    public init(table: TokenTable, enumerator: (any USBEnumerator)? = nil) {
        self.table = table
        self.enumerator = enumerator ?? LibUSBEnumerator(openIf: { table.token(vendorId: $0, productId: $1) != nil })
        (events, continuation) = AsyncStream.makeStream(bufferingPolicy: .bufferingNewest(256))
    }

    deinit { stop() }

    /// Scans once (tokens already plugged in arrive first), then listens for hotplug where libusb can.
    @discardableResult
    public func start(hotplug useHotplug: Bool = true) -> Mode {
        lock.lock()
        let running = hotplug != nil
        lock.unlock()
        if running { return .hotplug }
        do { try scan() } catch { return .unavailable(error) }
        guard useHotplug, let watcher = LibUSBHotplug(onChange: { [weak self] in try? self?.scan() }) else { return .onDemand }
        lock.lock(); defer { lock.unlock() }
        if stopped { watcher.stop(); return .onDemand }
        hotplug = watcher
        return .hotplug
    }

    /// Enumerates now and reports the difference from the last scan.
    public func rescan() throws(TokenHubError) { try scan() }

    /// Stops hotplug (joining its thread) and finishes the stream. Idempotent.
    public func stop() {
        lock.lock()
        let watcher = hotplug
        hotplug = nil
        stopped = true
        lock.unlock()
        watcher?.stop()
        continuation.finish()
    }

    private func scan() throws(TokenHubError) {
        let now = table.matches(try enumerator.devices())
        lock.lock(); defer { lock.unlock() }
        if stopped { return }
        var next: [String: TokenMatch] = [:]
        for match in now { next[match.device.key] = match }
        for match in present.values.sorted(by: { $0.device.key < $1.device.key }) where next[match.device.key] == nil {
            continuation.yield(.departed(match))
        }
        for match in now where present[match.device.key] == nil { continuation.yield(.arrived(match)) }
        present = next
    }
}

/// libusb hotplug on its own context and thread. The C callback only raises a flag: libusb forbids
/// most calls inside it, so the event thread does the work after `handle_events` returns.
final class LibUSBHotplug: @unchecked Sendable {
    private let context: LibUSBContext
    private let onChange: @Sendable () -> Void
    private var handle: libusb_hotplug_callback_handle = 0
    private let lock = NSLock()
    private var running = true
    private var pending = false
    private let finished = DispatchSemaphore(value: 0)
    private var thread: Thread?

    init?(onChange: @escaping @Sendable () -> Void) {
        guard let context = try? LibUSBContext(), context.hasHotplug else { return nil }
        self.context = context
        self.onChange = onChange
        let events = Int32(LIBUSB_HOTPLUG_EVENT_DEVICE_ARRIVED.rawValue | LIBUSB_HOTPLUG_EVENT_DEVICE_LEFT.rawValue)
        let rc = libusb_hotplug_register_callback(
            context.raw, events, 0, -1, -1, -1,
            { _, _, _, user in
                if let user { Unmanaged<LibUSBHotplug>.fromOpaque(user).takeUnretainedValue().markPending() }
                return 0
            }, Unmanaged.passUnretained(self).toOpaque(), &handle)
        guard rc == 0 else { return nil }
        // The thread holds a strong reference until it exits, so the callback's unretained pointer stays valid.
        let thread = Thread { [self] in loop() }
        thread.name = "paratii.usb-hotplug"
        self.thread = thread
        thread.start()
    }

    private func markPending() {
        lock.lock(); pending = true; lock.unlock()
    }

    private func loop() {
        while true {
            var timeout = timeval(tv_sec: 0, tv_usec: 200_000)
            libusb_handle_events_timeout_completed(context.raw, &timeout, nil)
            lock.lock()
            let go = running, changed = pending
            pending = false
            lock.unlock()
            guard go else { break }
            if changed { onChange() }
        }
        libusb_hotplug_deregister_callback(context.raw, handle)
        finished.signal()
    }

    /// Returns once the event thread has left libusb (at most one timeout later).
    func stop() {
        lock.lock()
        let wasRunning = running
        running = false
        lock.unlock()
        // Stopped from its own callback (the last owner let go there): the loop ends by itself.
        if wasRunning && Thread.current !== thread { finished.wait() }
    }
}
