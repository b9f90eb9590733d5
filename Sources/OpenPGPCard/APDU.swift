/// ISO 7816-4 command and response APDUs, and the channel a card driver talks through.
///
/// The driver owns these interfaces; transports (PC/SC, or anything else that can move bytes to a
/// card) implement `SmartCardChannel`.

/// A command APDU. `le` is the number of response bytes expected (`nil`: none; 256 or 65536 mean
/// "as many as the card has", encoded as 00 / 00 00).
public struct CommandAPDU: Hashable, Sendable {
    public var cla: UInt8
    public var ins: UInt8
    public var p1: UInt8
    public var p2: UInt8
    public var data: [UInt8]
    public var le: Int?

    public init(cla: UInt8 = 0x00, ins: UInt8, p1: UInt8, p2: UInt8, data: [UInt8] = [], le: Int? = nil) {
        self.cla = cla
        self.ins = ins
        self.p1 = p1
        self.p2 = p2
        self.data = data
        self.le = le
    }

    /// True when the body needs extended length fields (Lc > 255 or Le > 256).
    public var needsExtendedLength: Bool { data.count > 255 || (le ?? 0) > 256 }

    /// The wire form; short length fields unless `extended` or the body does not fit.
    public func encoded(extended: Bool = false) -> [UInt8] {
        var out: [UInt8] = [cla, ins, p1, p2]
        out.reserveCapacity(4 + data.count + 5)
        let useExtended = extended || needsExtendedLength
        if useExtended {
            if !data.isEmpty {
                out += [0x00, UInt8(truncatingIfNeeded: data.count >> 8), UInt8(truncatingIfNeeded: data.count)]
                out += data
            }
            if let le {
                let n = le >= 65536 ? 0 : le
                if data.isEmpty { out.append(0x00) }
                out += [UInt8(truncatingIfNeeded: n >> 8), UInt8(truncatingIfNeeded: n)]
            }
        } else {
            if !data.isEmpty {
                out.append(UInt8(data.count))
                out += data
            }
            if let le { out.append(le >= 256 ? 0x00 : UInt8(le)) }
        }
        return out
    }

    /// Parses a wire APDU (cases 1, 2S/E, 3S/E, 4S/E). Returns nil on an inconsistent length.
    public init?(bytes: [UInt8]) {
        guard bytes.count >= 4 else { return nil }
        cla = bytes[0]; ins = bytes[1]; p1 = bytes[2]; p2 = bytes[3]
        data = []
        le = nil
        let body = Array(bytes[4...])
        if body.isEmpty { return }
        if body.count == 1 {
            le = body[0] == 0 ? 256 : Int(body[0])
            return
        }
        if body[0] != 0 {
            // Short Lc.
            let lc = Int(body[0])
            if body.count == 1 + lc {
                data = Array(body[1...])
            } else if body.count == 2 + lc {
                data = Array(body[1...lc])
                le = body[lc + 1] == 0 ? 256 : Int(body[lc + 1])
            } else {
                return nil
            }
            return
        }
        // Extended: first byte 00.
        if body.count == 3 {
            let n = Int(body[1]) << 8 | Int(body[2])
            le = n == 0 ? 65536 : n
            return
        }
        guard body.count > 3 else { return nil }
        let lc = Int(body[1]) << 8 | Int(body[2])
        guard lc > 0 else { return nil }
        if body.count == 3 + lc {
            data = Array(body[3...])
        } else if body.count == 5 + lc {
            data = Array(body[3..<(3 + lc)])
            let n = Int(body[3 + lc]) << 8 | Int(body[4 + lc])
            le = n == 0 ? 65536 : n
        } else {
            return nil
        }
    }
}

/// A response APDU: data followed by the two status bytes.
public struct ResponseAPDU: Hashable, Sendable {
    public var data: [UInt8]
    public var sw: UInt16

    public init(data: [UInt8], sw: UInt16) {
        self.data = data
        self.sw = sw
    }

    /// Splits a wire response; nil when it is shorter than the two status bytes.
    public init?(bytes: [UInt8]) {
        guard bytes.count >= 2 else { return nil }
        data = Array(bytes[..<(bytes.count - 2)])
        sw = UInt16(bytes[bytes.count - 2]) << 8 | UInt16(bytes[bytes.count - 1])
    }

    public var sw1: UInt8 { UInt8(sw >> 8) }
    public var sw2: UInt8 { UInt8(sw & 0xFF) }
    public var isSuccess: Bool { sw == 0x9000 }
    public var bytes: [UInt8] { data + [sw1, sw2] }
}

/// What a card driver needs from a transport: exchange APDUs, and hold the card for a sequence of
/// them so that no other application interleaves its own (PC/SC `SCardBeginTransaction`).
///
/// `transmit` delivers a complete response: the transport handles command chaining or extended
/// length for long commands, `61xx` GET RESPONSE and `6Cxx` re-sends.
public protocol SmartCardChannel: AnyObject, Sendable {
    func transmit(_ command: CommandAPDU) throws -> ResponseAPDU
    /// Runs `body` while holding the card exclusively.
    func withTransaction<T>(_ body: () throws -> T) throws -> T
    /// Incremented whenever the transport had to reconnect (card reset, resource manager restart):
    /// any volatile card state (selected application, verified PINs) is gone.
    var connectionGeneration: Int { get }
}

/// Errors a transport throws may say the card is gone; the driver reports that as `cardRemoved`.
public protocol CardTransportError: Error {
    var indicatesCardRemoved: Bool { get }
}
