/// Every way the OpenPGP card driver refuses or fails. Transport failures other than a removed card
/// are passed through as the transport's own error type.
public enum OpenPGPCardError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The PIN was wrong; the card has this many tries left.
    case wrongPIN(triesLeft: Int)
    /// No tries left: unblock with the admin PIN or the resetting code, or factory-reset.
    case pinBlocked
    /// Only one try is left and the caller did not allow spending it.
    case lastTryProtected
    case algorithmNotSupported
    /// The signature slot holds no key.
    case noKey
    case cardRemoved
    /// The card has no OpenPGP application (or it cannot be selected).
    case notOpenPGP
    /// The operation needs a PIN that has not been verified (or the verification was spent).
    case securityStatusNotSatisfied
    /// A PIN outside the card's length limits; nothing was sent.
    case invalidPIN(String)
    case unexpectedStatus(UInt16)
    case malformedResponse(String)

    public var description: String {
        switch self {
        case .wrongPIN(let n): "wrong PIN: \(n) \(n == 1 ? "try" : "tries") left"
        case .pinBlocked: "PIN blocked: unblock it with the admin PIN (or the resetting code), or reset the card"
        case .lastTryProtected: "only one PIN try is left: refusing to spend it without an explicit allowance"
        case .algorithmNotSupported: "the card does not support ECDSA on secp256k1 in the signature slot"
        case .noKey: "the card has no signature key"
        case .cardRemoved: "the card was removed"
        case .notOpenPGP: "not an OpenPGP card (SELECT of the OpenPGP application failed)"
        case .securityStatusNotSatisfied: "security status not satisfied (PIN not verified)"
        case .invalidPIN(let why): "invalid PIN: \(why)"
        case .unexpectedStatus(let sw): "card answered with status \(String(format4: sw))"
        case .malformedResponse(let why): "malformed card response: \(why)"
        }
    }
}

extension String {
    init(format4 value: UInt16) {
        let digits = String(value, radix: 16, uppercase: true)
        self = String(repeating: "0", count: Swift.max(0, 4 - digits.count)) + digits
    }
}

/// Maps the ISO 7816 / OpenPGP status words that mean the same everywhere.
public enum StatusWords {
    public static func check(_ response: ResponseAPDU) throws(OpenPGPCardError) {
        let sw = response.sw
        if sw == 0x9000 { return }
        throw error(for: sw)
    }

    public static func error(for sw: UInt16) -> OpenPGPCardError {
        switch sw {
        case 0x63C1...0x63CF: .wrongPIN(triesLeft: Int(sw & 0x0F))
        case 0x63C0, 0x6983: .pinBlocked
        case 0x6982: .securityStatusNotSatisfied
        default: .unexpectedStatus(sw)
        }
    }

    /// One-line meaning of a status word, for transcripts and diagnostics.
    public static func describe(_ sw: UInt16) -> String {
        switch sw {
        case 0x9000: "OK"
        case 0x6285: "selected file in termination state"
        case 0x6700: "wrong length"
        case 0x6982: "security status not satisfied"
        case 0x6983: "authentication method blocked"
        case 0x6985: "conditions of use not satisfied"
        case 0x6A80: "incorrect data"
        case 0x6A82: "file or application not found"
        case 0x6A86: "incorrect P1/P2"
        case 0x6A88: "referenced data not found"
        case 0x6B00: "wrong parameters P1/P2"
        case 0x6D00: "instruction not supported"
        case 0x6E00: "class not supported"
        case 0x63C0...0x63CF: "wrong PIN, \(sw & 0x0F) tries left"
        case 0x6100...0x61FF: "\(sw & 0xFF == 0 ? 256 : Int(sw & 0xFF)) more bytes available (GET RESPONSE)"
        case 0x6C00...0x6CFF: "wrong Le, exact length \(sw & 0xFF)"
        default: "status \(String(format4: sw))"
        }
    }
}
