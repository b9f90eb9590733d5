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
    /// The card does not announce private key import (extended capabilities, DO C0 byte 1, bit 6).
    case keyImportNotSupported
    /// The signature slot holds no key.
    case noKey
    case cardRemoved
    /// The card has no OpenPGP application (or it cannot be selected).
    case notOpenPGP
    /// The operation needs a PIN that has not been verified (or the verification was spent).
    case securityStatusNotSatisfied
    /// A PIN outside the card's length limits; nothing was sent.
    case invalidPIN(String)
    /// PW1 stays verified for several signatures (DO C4 byte 1 = 01) and the caller did not opt in:
    /// after any signature, every other PC/SC client could sign without the PIN.
    case pinValidForSeveralSignatures
    /// The card refused to reset the PIN's access status after a signature (VERIFY P1=FF) while it
    /// keeps PW1 valid for several signatures: the card is left unlocked.
    case accessStatusNotReset(UInt16)
    case unexpectedStatus(UInt16)
    case malformedResponse(String)

    public var description: String {
        switch self {
        case .wrongPIN(let n): "wrong PIN: \(n) \(n == 1 ? "try" : "tries") left"
        case .pinBlocked: "PIN blocked: unblock it with the admin PIN (or the resetting code), or reset the card"
        case .lastTryProtected: "only one PIN try is left: refusing to spend it without an explicit allowance"
        case .algorithmNotSupported: "the card does not support ECDSA on secp256k1 in the signature slot"
        case .keyImportNotSupported: "the card does not support importing a private key (OpenPGP card key import)"
        case .noKey: "the card has no signature key"
        case .cardRemoved: "the card was removed"
        case .notOpenPGP: "not an OpenPGP card (SELECT of the OpenPGP application failed)"
        case .securityStatusNotSatisfied: "security status not satisfied (PIN not verified)"
        case .invalidPIN(let why): "invalid PIN: \(why)"
        case .pinValidForSeveralSignatures:
            "the card keeps the PIN verified for several signatures, so any other program could sign after this one: set one signature per PIN with `paratii card set-signature-pin once` (or `paratii card init`)"
        case .accessStatusNotReset(let sw):
            "the card did not reset the PIN after signing (status \(String(format4: sw))) and keeps it valid for several signatures: remove the card, and set one signature per PIN with `paratii card set-signature-pin once`"
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
