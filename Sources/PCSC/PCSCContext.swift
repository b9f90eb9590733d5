import CPCSCLite
import Foundation
import OpenPGPCard

/// A PC/SC resource manager context. Re-establishes itself once when pcscd went away
/// (`SCARD_E_NO_SERVICE`, or handles invalidated by a restart) and retries the call.
public final class PCSCContext: @unchecked Sendable {
    private let lock = NSLock()
    private var context: SCARDCONTEXT = 0
    private var established = false

    public init() throws(PCSCError) {
        try establish()
    }

    deinit {
        if established { SCardReleaseContext(context) }
    }

    private func establish() throws(PCSCError) {
        var ctx: SCARDCONTEXT = 0
        let rc = Int(SCardEstablishContext(DWORD(SCARD_SCOPE_SYSTEM), nil, nil, &ctx))
        guard rc == PCSCCode.success else {
            // pcsc-lite answers "security violation" when its socket file is left behind by a daemon
            // that died: nobody is listening, which is a missing service, not a denial.
            if rc == PCSCCode.securityViolation && !Self.daemonSocketAccepts() { throw .noService }
            throw PCSCError(code: rc)
        }
        context = ctx
        established = true
    }

    /// Drops the current context and establishes a new one.
    func reestablish() throws(PCSCError) {
        lock.lock(); defer { lock.unlock() }
        if established { SCardReleaseContext(context); established = false }
        try establish()
    }

    /// Runs a PC/SC call with the context; on a lost service, re-establishes once and retries.
    func call<T>(_ body: (SCARDCONTEXT) -> (code: Int, value: T)) throws(PCSCError) -> T {
        lock.lock()
        if !established {
            do { try establish() } catch { lock.unlock(); throw error }
        }
        var result = body(context)
        // A dead daemon shows up as NO_SERVICE, INVALID_HANDLE, or (pcsc-lite's client library, when
        // its socket went away) SECURITY_VIOLATION: re-establish once.
        if PCSCCode.meansServiceGone(result.code)
            || (result.code == PCSCCode.securityViolation && !Self.daemonSocketAccepts())
        {
            SCardReleaseContext(context)
            established = false
            do { try establish() } catch { lock.unlock(); throw error }
            result = body(context)
        }
        lock.unlock()
        guard result.code == PCSCCode.success else { throw PCSCError(code: result.code) }
        return result.value
    }

    /// Names of the readers pcscd knows; empty when there are none.
    public func readers() throws(PCSCError) -> [String] {
        do {
            return try call { ctx in
                var length: DWORD = 0
                var rc = Int(SCardListReaders(ctx, nil, nil, &length))
                guard rc == PCSCCode.success, length > 0 else { return (rc, [String]()) }
                var buffer = [CChar](repeating: 0, count: Int(length))
                rc = Int(SCardListReaders(ctx, nil, &buffer, &length))
                guard rc == PCSCCode.success else { return (rc, []) }
                return (rc, Self.splitMultiString(buffer))
            }
        } catch .noReaders {
            return []
        }
    }

    /// Each reader with whether a card is present and its ATR (a zero-timeout status query).
    public func readerStates() throws(PCSCError) -> [ReaderState] {
        let names = try readers()
        if names.isEmpty { return [] }
        return try call { ctx in
            var states = names.map { name -> SCARD_READERSTATE in
                var state = SCARD_READERSTATE()
                state.szReader = UnsafePointer(strdup(name))
                state.dwCurrentState = DWORD(SCARD_STATE_UNAWARE)
                return state
            }
            defer { for s in states { free(UnsafeMutableRawPointer(mutating: s.szReader)) } }
            let rc = Int(SCardGetStatusChange(ctx, 0, &states, DWORD(states.count)))
            guard rc == PCSCCode.success || rc == PCSCCode.timeout else { return (rc, []) }
            return (PCSCCode.success, zip(names, states).map { ReaderState(name: $0, raw: $1) })
        }
    }

    /// Connects in shared mode (T=1 or T=0) to the card in `reader`.
    public func connect(reader: String) throws(PCSCError) -> PCSCCard {
        let (handle, proto) = try connectHandle(reader: reader)
        return PCSCCard(context: self, reader: reader, handle: handle, activeProtocol: proto)
    }

    func connectHandle(reader: String) throws(PCSCError) -> (SCARDHANDLE, DWORD) {
        try call { ctx in
            var handle: SCARDHANDLE = 0
            var proto: DWORD = 0
            let rc = Int(
                SCardConnect(ctx, reader, DWORD(SCARD_SHARE_SHARED), DWORD(SCARD_PROTOCOL_T1 | SCARD_PROTOCOL_T0), &handle, &proto))
            return (rc, (handle, proto))
        }
    }

    /// Whether something accepts connections on pcsc-lite's socket (PCSCLITE_CSOCK_NAME overrides).
    static func daemonSocketAccepts() -> Bool {
        let path = ProcessInfo.processInfo.environment["PCSCLITE_CSOCK_NAME"] ?? "/run/pcscd/pcscd.comm"
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(path.utf8)
        guard bytes.count < MemoryLayout.size(ofValue: address.sun_path) else { return false }
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            for (i, b) in bytes.enumerated() { raw[i] = b }
        }
        return withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) == 0
            }
        }
    }

    static func splitMultiString(_ buffer: [CChar]) -> [String] {
        var out: [String] = []
        var current: [UInt8] = []
        for c in buffer {
            if c == 0 {
                if current.isEmpty { break }
                out.append(String(decoding: current, as: UTF8.self))
                current = []
            } else {
                current.append(UInt8(bitPattern: c))
            }
        }
        return out
    }
}

/// One reader as a status query saw it.
public struct ReaderState: Hashable, Sendable {
    public let name: String
    public let cardPresent: Bool
    public let inUseExclusively: Bool
    public let atr: [UInt8]

    init(name: String, raw: SCARD_READERSTATE) {
        self.name = name
        let flags = Int(raw.dwEventState)
        cardPresent = flags & Int(SCARD_STATE_PRESENT) != 0 && flags & Int(SCARD_STATE_MUTE) == 0
        inUseExclusively = flags & Int(SCARD_STATE_EXCLUSIVE) != 0
        var atr = raw.rgbAtr
        let count = min(Int(raw.cbAtr), MemoryLayout.size(ofValue: atr))
        self.atr = cardPresent ? withUnsafeBytes(of: &atr) { Array($0.prefix(count)) } : []
    }
}
