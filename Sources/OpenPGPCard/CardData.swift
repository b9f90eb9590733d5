import Ethereum

/// Data objects read from an OpenPGP card, parsed from hostile bytes into plain values.

/// The OpenPGP application identifier: D2 76 00 01 24 01 ‖ version ‖ manufacturer ‖ serial ‖ RFU.
public struct ApplicationIdentifier: Hashable, Sendable {
    public static let rid: [UInt8] = [0xD2, 0x76, 0x00, 0x01, 0x24, 0x01]

    public let bytes: [UInt8]
    public let versionMajor: Int
    public let versionMinor: Int
    public let manufacturer: UInt16
    /// Four bytes, unique per manufacturer.
    public let serial: [UInt8]

    public init(bytes: [UInt8]) throws(OpenPGPCardError) {
        guard bytes.count == 16, Array(bytes[0..<6]) == Self.rid else {
            throw .malformedResponse("application identifier is not an OpenPGP AID")
        }
        self.bytes = bytes
        versionMajor = Int(bytes[6])
        versionMinor = Int(bytes[7])
        manufacturer = UInt16(bytes[8]) << 8 | UInt16(bytes[9])
        serial = Array(bytes[10..<14])
    }

    public var version: String { "\(versionMajor).\(versionMinor)" }
    public var serialHex: String { serial.map { String(format2: $0) }.joined() }

    public var manufacturerName: String {
        switch manufacturer {
        case 0x0001: "PPC Card Systems"
        case 0x0002: "Prism"
        case 0x0003: "OpenFortress"
        case 0x0004: "Wewid"
        case 0x0005: "ZeitControl"
        case 0x0006: "Yubico"
        case 0x0007: "OpenKMS"
        case 0x0008: "LogoEmail"
        case 0x000F: "Nitrokey"
        case 0x2C97: "Ledger"
        case 0xF517: "FSIJ (Gnuk)"
        case 0x0000, 0xFFFF: "test card"
        case 0xFF00...0xFFFE: "unmanaged serial range (software or test card)"
        default: "manufacturer \(String(format4: manufacturer))"
        }
    }
}

extension String {
    init(format2 byte: UInt8) {
        let digits = String(byte, radix: 16, uppercase: true)
        self = digits.count == 1 ? "0" + digits : digits
    }
}

/// Algorithm attributes of a key slot (DO C1/C2/C3).
public struct AlgorithmAttributes: Hashable, Sendable {
    public let bytes: [UInt8]
    public init(bytes: [UInt8]) { self.bytes = bytes }

    /// ECDSA (algorithm id 0x13) with the secp256k1 OID 1.3.132.0.10.
    public static let secp256k1 = AlgorithmAttributes(bytes: [0x13, 0x2B, 0x81, 0x04, 0x00, 0x0A])

    /// Same algorithm and curve, ignoring the optional trailing import-format byte.
    public var isSecp256k1: Bool {
        bytes.count >= 6 && Array(bytes[0..<6]) == Self.secp256k1.bytes
            && (bytes.count == 6 || (bytes.count == 7 && (bytes[6] == 0x00 || bytes[6] == 0xFF)))
    }

    public var name: String {
        if isSecp256k1 { return "secp256k1" }
        guard let id = bytes.first else { return "none" }
        switch id {
        case 0x01 where bytes.count >= 3: return "rsa\(Int(bytes[1]) << 8 | Int(bytes[2]))"
        case 0x12: return "ecdh"
        case 0x13: return "ecdsa(other curve)"
        case 0x16: return "eddsa"
        default: return "algorithm \(String(format2: id))"
        }
    }
}

/// PW status bytes (DO C4): validity of PW1 for signing, maximum lengths, retry counters.
public struct PINStatus: Hashable, Sendable {
    /// When true the card keeps PW1 verified for several PSO:CDS; otherwise one signature per VERIFY.
    public let pw1ValidForSeveralSignatures: Bool
    public let pw1MaxLength: Int
    public let resettingCodeMaxLength: Int
    public let pw3MaxLength: Int
    public let pw1TriesLeft: Int
    public let resettingCodeTriesLeft: Int
    public let pw3TriesLeft: Int

    public init(bytes: [UInt8]) throws(OpenPGPCardError) {
        guard bytes.count >= 7 else { throw .malformedResponse("PW status bytes: \(bytes.count) bytes, need 7") }
        pw1ValidForSeveralSignatures = bytes[0] != 0
        pw1MaxLength = Int(bytes[1] & 0x7F)
        resettingCodeMaxLength = Int(bytes[2])
        pw3MaxLength = Int(bytes[3] & 0x7F)
        pw1TriesLeft = Int(bytes[4])
        resettingCodeTriesLeft = Int(bytes[5])
        pw3TriesLeft = Int(bytes[6])
    }

    public var signaturePINPolicy: SignaturePINPolicy { pw1ValidForSeveralSignatures ? .several : .once }
}

/// The parts of application related data (DO 6E) the bridge uses.
public struct ApplicationData: Hashable, Sendable {
    public let aid: ApplicationIdentifier
    public let historicalBytes: [UInt8]?
    public let signatureAlgorithm: AlgorithmAttributes?
    public let pinStatus: PINStatus
    /// Fingerprint of the signature key (first 20 bytes of C5); nil when all zero.
    public let signatureFingerprint: [UInt8]?
    public let extendedCapabilities: [UInt8]?

    public init(bytes: [UInt8]) throws(OpenPGPCardError) {
        let top: [TLV]
        do { top = try TLV.parse(bytes) } catch { throw .malformedResponse(error.description) }
        // Cards answer with 6E { … }, some with the contents directly.
        let objects: [TLV]
        if let outer = top.first(where: { $0.tag == 0x6E }) {
            do { objects = try outer.children() } catch { throw .malformedResponse(error.description) }
        } else {
            objects = top
        }
        guard let aidObject = TLV.find(0x4F, in: objects) else {
            throw .malformedResponse("application related data without AID (4F)")
        }
        aid = try ApplicationIdentifier(bytes: aidObject.value)
        historicalBytes = TLV.find(0x5F52, in: objects)?.value
        signatureAlgorithm = TLV.find(0xC1, in: objects).map { AlgorithmAttributes(bytes: $0.value) }
        guard let pw = TLV.find(0xC4, in: objects) else {
            throw .malformedResponse("application related data without PW status (C4)")
        }
        pinStatus = try PINStatus(bytes: pw.value)
        if let fp = TLV.find(0xC5, in: objects), fp.value.count >= 20 {
            let first = Array(fp.value[0..<20])
            signatureFingerprint = first.allSatisfy { $0 == 0 } ? nil : first
        } else {
            signatureFingerprint = nil
        }
        extendedCapabilities = TLV.find(0xC0, in: objects)?.value
    }
}

/// A card's identity and state as `paratii card status` shows it.
public struct CardStatus: Hashable, Sendable {
    public let application: ApplicationData
    public let signatureCounter: Int
    /// The signature key's X‖Y, or nil when the slot is empty.
    public let publicKey: [UInt8]?
}

/// A PIN in one allocation of its own, zeroed when the last reference to it goes; never printed.
/// The driver copies it only into the command APDU that carries it and wipes that copy after the
/// exchange, so the PIN's bytes do not linger in arrays nobody clears.
public final class PIN: @unchecked Sendable, CustomStringConvertible, CustomDebugStringConvertible {
    private let storage: UnsafeMutableRawBufferPointer

    public convenience init(_ text: String) {
        var bytes = Array(text.utf8)
        defer { secureZero(&bytes) }
        self.init(bytes: bytes)
    }

    /// Takes a copy of `bytes`; the caller should wipe its own copy.
    public init(bytes: some Collection<UInt8>) {
        storage = UnsafeMutableRawBufferPointer.allocate(byteCount: max(bytes.count, 1), alignment: 8)
        storage.initializeMemory(as: UInt8.self, repeating: 0)
        UnsafeMutableRawBufferPointer(rebasing: storage[0..<bytes.count]).copyBytes(from: bytes)
        count = bytes.count
    }

    deinit {
        secureZero(storage)
        storage.deallocate()
    }

    /// Length in bytes (UTF-8 for a typed PIN).
    public let count: Int

    /// Lends the PIN's bytes; do not keep them.
    public func withUnsafeBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        try body(UnsafeRawBufferPointer(rebasing: storage[0..<count]))
    }

    public var description: String { "PIN(redacted)" }
    public var debugDescription: String { description }

    public static let defaultUser = PIN("123456")
    public static let defaultAdmin = PIN("12345678")
}

/// Whether PW1 stays verified after a signature (DO C4 byte 1): `once` (00) spends the verification
/// on one PSO:CDS; `several` (01) keeps the card unlocked for any PC/SC client until reset.
public enum SignaturePINPolicy: UInt8, Sendable, CaseIterable {
    case once = 0x00
    case several = 0x01
}

/// The PIN references of VERIFY / CHANGE REFERENCE DATA.
public enum PINReference: UInt8, Sendable {
    /// PW1 for PSO:CDS.
    case userSign = 0x81
    /// PW1 for other operations (decipher, authenticate, reading private DOs).
    case user = 0x82
    /// PW3, the admin PIN.
    case admin = 0x83
}
