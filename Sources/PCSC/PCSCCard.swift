import CPCSCLite
import Ethereum
import Foundation
import OpenPGPCard

#if canImport(Glibc)
import Glibc
#endif

/// A card connected through PC/SC in shared mode. Implements `SmartCardChannel`: each driver operation
/// runs inside `SCardBeginTransaction`/`SCardEndTransaction`; long commands are chained (CLA bit 0x10),
/// `61xx` is followed by GET RESPONSE and `6Cxx` re-sends with the exact Le.
///
/// When another application reset the card, or pcscd restarted under us, the next transaction
/// reconnects to the same reader and bumps `connectionGeneration` so the driver re-selects.
public final class PCSCCard: SmartCardChannel, @unchecked Sendable {
    public let reader: String
    private let context: PCSCContext
    private let lock = NSRecursiveLock()
    private var handle: SCARDHANDLE
    private var activeProtocol: DWORD
    private var generation = 0
    private var connected = true
    private var receiveBuffer = [UInt8](repeating: 0, count: 65538 + 2)
    private let log = APDULog.shared

    /// Statistics for the benchmark: raw `SCardTransmit` calls and the nanoseconds spent inside them.
    public private(set) var rawTransmitCount = 0
    public private(set) var rawTransmitNanoseconds: UInt64 = 0

    init(context: PCSCContext, reader: String, handle: SCARDHANDLE, activeProtocol: DWORD) {
        self.context = context
        self.reader = reader
        self.handle = handle
        self.activeProtocol = activeProtocol
    }

    deinit {
        if connected { SCardDisconnect(handle, DWORD(SCARD_LEAVE_CARD)) }
    }

    public var connectionGeneration: Int {
        lock.lock(); defer { lock.unlock() }
        return generation
    }

    public var protocolName: String {
        activeProtocol == DWORD(SCARD_PROTOCOL_T1) ? "T=1" : activeProtocol == DWORD(SCARD_PROTOCOL_T0) ? "T=0" : "raw"
    }

    /// Disconnects, leaving the card powered for other applications.
    public func disconnect() {
        lock.lock(); defer { lock.unlock() }
        if connected { SCardDisconnect(handle, DWORD(SCARD_LEAVE_CARD)); connected = false }
    }

    /// The card's ATR as the reader reports it now.
    public func atr() throws(PCSCError) -> [UInt8] {
        lock.lock(); defer { lock.unlock() }
        var atr = [UInt8](repeating: 0, count: Int(MAX_ATR_SIZE))
        var atrLength = DWORD(atr.count)
        var state: DWORD = 0
        var proto: DWORD = 0
        var nameLength: DWORD = 0
        let rc = Int(SCardStatus(handle, nil, &nameLength, &state, &proto, &atr, &atrLength))
        guard rc == PCSCCode.success else { throw PCSCError(code: rc) }
        return Array(atr.prefix(Int(atrLength)))
    }

    public func resetStatistics() {
        lock.lock(); defer { lock.unlock() }
        rawTransmitCount = 0
        rawTransmitNanoseconds = 0
    }

    // MARK: SmartCardChannel

    public func withTransaction<T>(_ body: () throws -> T) throws -> T {
        lock.lock()
        defer { lock.unlock() }
        try beginTransaction()
        defer { SCardEndTransaction(handle, DWORD(SCARD_LEAVE_CARD)) }
        return try body()
    }

    public func transmit(_ command: CommandAPDU) throws -> ResponseAPDU {
        lock.lock()
        defer { lock.unlock() }
        var response: ResponseAPDU
        if command.data.count > 255 {
            // Command chaining: all but the last chunk with CLA bit 0x10, no Le; each must answer 9000.
            var offset = 0
            var chunk = command
            while command.data.count - offset > 255 {
                chunk = CommandAPDU(
                    cla: command.cla | 0x10, ins: command.ins, p1: command.p1, p2: command.p2,
                    data: Array(command.data[offset..<(offset + 255)]))
                let partial = try exchange(chunk)
                guard partial.sw == StatusWord.ok else { return partial }
                offset += 255
            }
            chunk = CommandAPDU(
                cla: command.cla, ins: command.ins, p1: command.p1, p2: command.p2,
                data: Array(command.data[offset...]), le: command.le.map { min($0, 256) })
            response = try exchange(chunk)
        } else {
            var short = command
            if let le = short.le { short.le = min(le, 256) }
            response = try exchange(short)
            if response.sw1 == StatusWord.sw1WrongLe {
                short.le = response.sw2 == 0 ? 256 : Int(response.sw2)
                response = try exchange(short)
            }
        }
        // Collect the rest with GET RESPONSE while the card says 61xx.
        var collected = response.data
        var rounds = 0
        while response.sw1 == StatusWord.sw1MoreData {
            rounds += 1
            guard rounds <= 256 else { throw PCSCError.malformedResponse }
            let le = response.sw2 == 0 ? 256 : Int(response.sw2)
            response = try exchange(CommandAPDU(cla: command.cla & 0x03, .getResponse, p1: 0, p2: 0, le: le))
            collected += response.data
        }
        return ResponseAPDU(data: collected, sw: response.sw)
    }

    // MARK: Internals

    private func beginTransaction() throws(PCSCError) {
        if !connected { try reconnect(full: true) }
        var rc = Int(SCardBeginTransaction(handle))
        if rc == PCSCCode.success { return }
        if rc == PCSCCode.resetCard {
            // Same card, reset by someone else: reconnect on the handle, volatile state is gone.
            var proto: DWORD = 0
            rc = Int(
                SCardReconnect(
                    handle, DWORD(SCARD_SHARE_SHARED), DWORD(SCARD_PROTOCOL_T1 | SCARD_PROTOCOL_T0), DWORD(SCARD_LEAVE_CARD), &proto))
            if rc == PCSCCode.success {
                activeProtocol = proto
                generation += 1
                rc = Int(SCardBeginTransaction(handle))
                if rc == PCSCCode.success { return }
            }
        }
        if PCSCCode.meansServiceGone(rc) || rc == PCSCCode.readerUnavailable || rc == PCSCCode.securityViolation {
            // pcscd restarted: the context and this handle are dead. Re-establish and reconnect once.
            try reconnect(full: true)
            rc = Int(SCardBeginTransaction(handle))
            if rc == PCSCCode.success { return }
        }
        throw mapFailure(rc)
    }

    private func reconnect(full: Bool) throws(PCSCError) {
        if connected { SCardDisconnect(handle, DWORD(SCARD_LEAVE_CARD)); connected = false }
        if full {
            // Probe the context; `call` re-establishes it when the service was lost.
            _ = try context.readers()
        }
        let (newHandle, proto) = try context.connectHandle(reader: reader)
        handle = newHandle
        activeProtocol = proto
        connected = true
        generation += 1
    }

    /// One raw SCardTransmit, logged (PINs masked) when PARATII_APDU_LOG is set.
    private func exchange(_ command: CommandAPDU) throws(PCSCError) -> ResponseAPDU {
        var wire = command.encoded()
        // The wire copy of a PIN is wiped once sent, as the driver wipes its own.
        defer { if APDUDescription.carriesSecret(command) { secureZero(&wire) } }
        log?.command(command)
        var pci = SCARD_IO_REQUEST(dwProtocol: UInt(activeProtocol), cbPciLength: UInt(MemoryLayout<SCARD_IO_REQUEST>.size))
        var length = DWORD(receiveBuffer.count)
        let start = DispatchTime.now().uptimeNanoseconds
        let rc = Int(
            receiveBuffer.withUnsafeMutableBufferPointer { out in
                SCardTransmit(handle, &pci, wire, DWORD(wire.count), nil, out.baseAddress, &length)
            })
        rawTransmitNanoseconds &+= DispatchTime.now().uptimeNanoseconds - start
        rawTransmitCount += 1
        guard rc == PCSCCode.success else { throw mapFailure(rc) }
        guard let response = ResponseAPDU(bytes: Array(receiveBuffer[0..<Int(length)])) else {
            // No status word at all: the card did not answer (vpcd reports a vanished card this way,
            // a mute card likewise). Nothing more can be exchanged with it.
            log?.note("no response: card gone")
            throw PCSCError.cardRemoved
        }
        log?.response(response)
        return response
    }

    /// Maps a failed call; for vague I/O failures asks the reader whether the card is still there.
    private func mapFailure(_ rc: Int) -> PCSCError {
        let error = PCSCError(code: rc)
        switch error {
        case .other, .readerUnavailable:
            var state: DWORD = 0
            var proto: DWORD = 0
            var nameLength: DWORD = 0
            var atrLength: DWORD = 0
            let status = Int(SCardStatus(handle, nil, &nameLength, &state, &proto, nil, &atrLength))
            if status == PCSCCode.removedCard || status == PCSCCode.noSmartcard
                || (status == PCSCCode.success && state & DWORD(SCARD_ABSENT) != 0)
            {
                return .cardRemoved
            }
            if rc == PCSCCode.commError || rc == PCSCCode.notTransacted { return .cardRemoved }
            return error
        default:
            return error
        }
    }
}

/// Appends every exchanged APDU to the file named by PARATII_APDU_LOG, one annotated line each,
/// with secret data (PINs, the resetting code, key material) masked. Used to record the transcripts
/// in firmware-notes/transcripts.
///
/// The file is created 0600 and opened with O_NOFOLLOW: a trace shows which commands ran when, so it
/// is not for other users to read, and a symlink planted at the path is refused rather than followed.
final class APDULog: @unchecked Sendable {
    static let shared: APDULog? = {
        guard let path = ProcessInfo.processInfo.environment["PARATII_APDU_LOG"], !path.isEmpty else { return nil }
        do { return try APDULog(path: path) } catch {
            FileHandle.standardError.write(Data("paratii: PARATII_APDU_LOG: \(error)\n".utf8))
            return nil
        }
    }()

    struct OpenError: Error, CustomStringConvertible { let description: String }

    private let fd: Int32
    private let lock = NSLock()

    /// Opens (or creates) `path` for appending: a regular file of this user's, never through a symlink,
    /// and mode 0600 whatever it was.
    init(path: String) throws {
        let fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0o600)
        guard fd >= 0 else {
            let reason = errno == ELOOP ? "is a symbolic link: refused" : String(cString: strerror(errno))
            throw OpenError(description: "cannot open \(path): \(reason)")
        }
        var info = stat()
        guard fstat(fd, &info) == 0, info.st_mode & S_IFMT == S_IFREG, info.st_uid == geteuid() else {
            close(fd)
            throw OpenError(description: "\(path) is not a regular file of this user's: refused")
        }
        guard fchmod(fd, 0o600) == 0 else {
            close(fd)
            throw OpenError(description: "cannot make \(path) private (0600)")
        }
        self.fd = fd
    }

    deinit { close(fd) }

    func command(_ c: CommandAPDU) {
        write("C: \(APDUDescription.redactedHex(c))\n   # \(APDUDescription.describe(c))\n")
    }

    func response(_ r: ResponseAPDU) {
        write(
            "R: \(APDUDescription.hex(r.bytes))\n   # \(StatusWord.describe(r.sw))\(r.data.isEmpty ? "" : ", \(r.data.count) data bytes")\n"
        )
    }

    func note(_ text: String) { write("   # \(text)\n") }

    private func write(_ text: String) {
        lock.lock(); defer { lock.unlock() }
        let bytes = Array(text.utf8)
        var offset = 0
        while offset < bytes.count {
            let n = bytes[offset...].withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else { return }
            offset += n
        }
    }
}
