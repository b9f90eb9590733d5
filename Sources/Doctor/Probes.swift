import OpenPGPCard
import PCSC

/// What PC/SC showed: the daemon's answer and, per reader, the card in it.
public enum PCSCProbe: Sendable {
    case unreachable(PCSCError)
    case readers([ReaderProbe])
}

public struct ReaderProbe: Sendable {
    public let name: String
    /// nil when the reader is empty.
    public let card: CardProbe?

    public init(name: String, card: CardProbe?) {
        self.name = name
        self.card = card
    }
}

public enum CardProbe: Sendable {
    /// Connecting or reading failed; `held` when another application holds the card exclusively.
    case unreadable(String, held: Bool)
    case notOpenPGP
    case openPGP(CardFacts)
    /// Present but not examined (doctor --reader named another reader).
    case skipped
}

/// The parts of an OpenPGP card's state doctor judges.
public struct CardFacts: Sendable {
    public let version: String
    public let manufacturer: String
    public let serial: String
    public let signatureAlgorithm: AlgorithmAttributes?
    /// The signature key's Ethereum address, nil when the slot is empty.
    public let address: String?
    public let userPINTries: Int
    public let adminPINTries: Int
    /// DO C4 byte 1: `.several` leaves the card unlocked after a signature.
    public let signaturePINPolicy: SignaturePINPolicy

    public init(version: String, manufacturer: String, serial: String, signatureAlgorithm: AlgorithmAttributes?,
                address: String?, userPINTries: Int, adminPINTries: Int, signaturePINPolicy: SignaturePINPolicy = .once) {
        self.version = version
        self.manufacturer = manufacturer
        self.serial = serial
        self.signatureAlgorithm = signatureAlgorithm
        self.address = address
        self.userPINTries = userPINTries
        self.adminPINTries = adminPINTries
        self.signaturePINPolicy = signaturePINPolicy
    }
}

/// What USB enumeration showed.
public enum USBProbe: Sendable {
    case unavailable(DoctorError)
    case devices([USBDeviceDescriptor])
}
