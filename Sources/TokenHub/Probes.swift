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
    /// The card's answer to reset (empty when there is no card).
    public let atr: [UInt8]

    public init(name: String, card: CardProbe?, atr: [UInt8] = []) {
        self.name = name
        self.card = card
        self.atr = atr
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

/// An OpenPGP card's state, read without a PIN: what doctor judges and the bridge lists.
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
    /// DO 93: signatures made so far (nil when unreadable).
    public let signatureCounter: Int?

    public init(
        version: String, manufacturer: String, serial: String, signatureAlgorithm: AlgorithmAttributes?,
        address: String?, userPINTries: Int, adminPINTries: Int, signaturePINPolicy: SignaturePINPolicy = .once,
        signatureCounter: Int? = nil
    ) {
        self.version = version
        self.manufacturer = manufacturer
        self.serial = serial
        self.signatureAlgorithm = signatureAlgorithm
        self.address = address
        self.userPINTries = userPINTries
        self.adminPINTries = adminPINTries
        self.signaturePINPolicy = signaturePINPolicy
        self.signatureCounter = signatureCounter
    }
}

/// What USB enumeration showed.
public enum USBProbe: Sendable {
    case unavailable(TokenHubError)
    case devices([USBDeviceDescriptor])
}
