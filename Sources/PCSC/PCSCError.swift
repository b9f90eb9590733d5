import OpenPGPCard

/// Every way the PC/SC transport fails, mapped from the resource manager's return codes.
public enum PCSCError: Error, Equatable, Sendable, CustomStringConvertible, CardTransportError {
    /// pcscd is not running (or restarted and the context could not be re-established).
    case noService
    case noReaders
    case readerUnavailable
    /// The reader has no card.
    case noCard
    /// The card went away during or between operations.
    case cardRemoved
    /// Another application reset the card (the transport reconnects on the next transaction).
    case cardReset
    case sharingViolation
    case timeout
    case cancelled
    /// The card answered with something that is not a response APDU.
    case malformedResponse
    case other(code: Int)

    public var indicatesCardRemoved: Bool { self == .cardRemoved || self == .noCard }

    public init(code: Int) {
        switch code {
        case PCSCCode.noService, PCSCCode.serviceStopped: self = .noService
        case PCSCCode.noReadersAvailable: self = .noReaders
        case PCSCCode.readerUnavailable, PCSCCode.unknownReader: self = .readerUnavailable
        case PCSCCode.noSmartcard: self = .noCard
        case PCSCCode.removedCard, PCSCCode.unpoweredCard, PCSCCode.unresponsiveCard: self = .cardRemoved
        case PCSCCode.resetCard: self = .cardReset
        case PCSCCode.sharingViolation: self = .sharingViolation
        case PCSCCode.timeout: self = .timeout
        case PCSCCode.cancelled: self = .cancelled
        default: self = .other(code: code)
        }
    }

    public var description: String {
        switch self {
        case .noService: "the PC/SC service (pcscd) is not running"
        case .noReaders: "no smartcard readers"
        case .readerUnavailable: "the reader is unavailable"
        case .noCard: "no card in the reader"
        case .cardRemoved: "the card was removed"
        case .cardReset: "the card was reset by another application"
        case .sharingViolation: "another application holds the card exclusively"
        case .timeout: "timed out waiting for the card"
        case .cancelled: "cancelled"
        case .malformedResponse: "the card returned a malformed response"
        case .other(let code): "PC/SC error 0x\(String(UInt32(truncatingIfNeeded: code), radix: 16))"
        }
    }
}

/// pcsc-lite return codes (winscard's LONG; the C macros are casts Swift does not import).
enum PCSCCode {
    static let success = 0
    static let cancelled = 0x8010_0002
    static let invalidHandle = 0x8010_0003
    static let insufficientBuffer = 0x8010_0008
    static let unknownReader = 0x8010_0009
    static let timeout = 0x8010_000A
    static let sharingViolation = 0x8010_000B
    static let noSmartcard = 0x8010_000C
    static let commError = 0x8010_0013
    static let notTransacted = 0x8010_0016
    static let readerUnavailable = 0x8010_0017
    static let noService = 0x8010_001D
    static let serviceStopped = 0x8010_001E
    static let noReadersAvailable = 0x8010_002E
    static let unresponsiveCard = 0x8010_0066
    static let unpoweredCard = 0x8010_0067
    static let resetCard = 0x8010_0068
    static let securityViolation = 0x8010_006A
    static let removedCard = 0x8010_0069

    /// Codes after which the context (and every handle from it) must be re-established.
    static func meansServiceGone(_ code: Int) -> Bool {
        code == noService || code == serviceStopped || code == invalidHandle
    }
}
