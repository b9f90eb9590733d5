import Foundation
import OpenPGPCard

#if canImport(Glibc)
import Glibc
#endif

/// Plugs a `SoftCard` into pcscd through vsmartcard's vpcd reader driver.
///
/// vpcd listens (127.0.0.1:35963 for its first slot, 35964 for the second); the virtual card
/// connects as a TCP client. Every message is a 2-byte big-endian length then the payload. A 1-byte
/// payload is a control message — 0x00 power off, 0x01 power on, 0x02 reset (no answer), 0x04 ATR
/// request (answered with the ATR) — anything longer is a C-APDU answered with the R-APDU.
///
/// The connection runs on its own thread and reconnects when vpcd goes away (pcscd restarting), so a
/// card "stays inserted" across a restart. `stop()` pulls the card.
public final class VPCDConnection: @unchecked Sendable {
    public enum HookAction: Sendable { case proceed, pullCard }

    public let card: SoftCard
    public let host: String
    public let port: UInt16
    /// Called before each C-APDU; `.pullCard` drops the connection instead of answering (a card pulled
    /// mid-operation). Runs on the connection thread.
    public var commandHook: (@Sendable (CommandAPDU) -> HookAction)? {
        get { lock.lock(); defer { lock.unlock() }; return _hook }
        set { lock.lock(); _hook = newValue; lock.unlock() }
    }

    private let lock = NSLock()
    private var _hook: (@Sendable (CommandAPDU) -> HookAction)?
    private var socketFD: Int32 = -1
    private var stopping = false
    private var running = false
    private let finished = DispatchSemaphore(value: 0)
    private var connectedOnce = DispatchSemaphore(value: 0)
    private var _connected = false

    public init(card: SoftCard, host: String = "127.0.0.1", port: UInt16 = 35963) {
        self.card = card
        self.host = host
        self.port = port
    }

    public var isConnected: Bool { lock.lock(); defer { lock.unlock() }; return _connected }

    /// Starts the connection thread.
    public func start() {
        lock.lock()
        guard !running else { lock.unlock(); return }
        running = true
        stopping = false
        lock.unlock()
        let thread = Thread { [self] in
            runLoop()
            finished.signal()
        }
        thread.name = "paratii.softcard.vpcd"
        thread.start()
    }

    /// Waits until the first connection to vpcd is up (false on timeout).
    public func waitUntilConnected(timeout: TimeInterval) -> Bool {
        if isConnected { return true }
        let ok = connectedOnce.wait(timeout: .now() + timeout) == .success
        if ok { connectedOnce.signal() }
        return ok || isConnected
    }

    /// Disconnects (the card leaves the reader) and waits for the thread to end.
    public func stop() {
        lock.lock()
        guard running else { lock.unlock(); return }
        stopping = true
        if socketFD >= 0 { shutdown(socketFD, Int32(SHUT_RDWR)) }
        lock.unlock()
        finished.wait()
        lock.lock(); running = false; lock.unlock()
    }

    private var isStopping: Bool { lock.lock(); defer { lock.unlock() }; return stopping }

    private func runLoop() {
        while !isStopping {
            guard let fd = connectSocket() else {
                Thread.sleep(forTimeInterval: 0.1)
                continue
            }
            lock.lock()
            if stopping { lock.unlock(); close(fd); break }
            socketFD = fd
            _connected = true
            lock.unlock()
            connectedOnce.signal()
            serve(fd)
            lock.lock()
            socketFD = -1
            _connected = false
            lock.unlock()
            close(fd)
            card.powerOff()
            if !isStopping { Thread.sleep(forTimeInterval: 0.1) }
        }
    }

    private func connectSocket() -> Int32? {
        var hints = addrinfo()
        hints.ai_family = AF_UNSPEC
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        var result: UnsafeMutablePointer<addrinfo>?
        guard getaddrinfo(host, String(port), &hints, &result) == 0, let first = result else { return nil }
        defer { freeaddrinfo(result) }
        var info: UnsafeMutablePointer<addrinfo>? = first
        while let ai = info {
            let fd = socket(ai.pointee.ai_family, ai.pointee.ai_socktype, ai.pointee.ai_protocol)
            if fd >= 0 {
                if connect(fd, ai.pointee.ai_addr, ai.pointee.ai_addrlen) == 0 {
                    var one: Int32 = 1
                    setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
                    return fd
                }
                close(fd)
            }
            info = ai.pointee.ai_next
        }
        return nil
    }

    private func serve(_ fd: Int32) {
        while true {
            guard let header = readExactly(fd, 2) else { return }
            let length = Int(header[0]) << 8 | Int(header[1])
            guard let payload = readExactly(fd, length) else { return }
            if payload.count == 1 {
                switch payload[0] {
                case 0x00: card.powerOff()
                case 0x01: card.powerOff()  // power on: a cold start, volatile state cleared
                case 0x02: card.reset()
                case 0x04: guard send(fd, SoftCard.atr) else { return }
                default: break
                }
                continue
            }
            if payload.isEmpty { continue }
            if let hook = commandHook, let command = CommandAPDU(bytes: payload), hook(command) == .pullCard {
                return
            }
            let response = card.process(payload)
            guard send(fd, response) else { return }
        }
    }

    private func readExactly(_ fd: Int32, _ count: Int) -> [UInt8]? {
        var buffer = [UInt8](repeating: 0, count: count)
        var got = 0
        while got < count {
            // vpcd writes a frame's length and payload in two sends; with Nagle on its side and delayed
            // ACKs on ours each exchange would stall ~40 ms. Acknowledge at once (Linux re-arms this per read).
            var one: Int32 = 1
            setsockopt(fd, Int32(IPPROTO_TCP), Int32(TCP_QUICKACK), &one, socklen_t(MemoryLayout<Int32>.size))
            let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress! + got, count - got, 0) }
            if n <= 0 {
                if n < 0 && errno == EINTR { continue }
                return nil
            }
            got += n
        }
        return buffer
    }

    private func send(_ fd: Int32, _ payload: [UInt8]) -> Bool {
        let frame = [UInt8(payload.count >> 8), UInt8(payload.count & 0xFF)] + payload
        var sent = 0
        while sent < frame.count {
            let n = frame.withUnsafeBytes { Glibc.send(fd, $0.baseAddress! + sent, frame.count - sent, Int32(MSG_NOSIGNAL)) }
            if n <= 0 {
                if n < 0 && errno == EINTR { continue }
                return false
            }
            sent += n
        }
        return true
    }
}
