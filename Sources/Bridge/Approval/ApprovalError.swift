import Delegation

/// Why an approval did not happen, and whether the request still waits: a front end (the CLI, a GUI)
/// says it to the user and, for the `stillPending` ones, may try again.
public enum ApprovalError: Error, CustomStringConvertible, Sendable, Equatable {
    /// The bridge was unreachable or refused (its error text).
    case bridge(String)
    /// The code typed is not the player's: the pairing stays pending.
    case wrongCode(player: String)
    /// A top-up to somewhere other than the player's wallet, not confirmed: it stays pending.
    case recipientNotConfirmed(to: String, wallet: String?)
    /// No card to sign with (none present, several, no key on it): it stays pending.
    case noCard(String)
    /// Refused before the card was asked (an attestation's ceiling, the wrong card): it stays pending.
    case refusedBeforeSigning(String)
    /// The PIN was not accepted (wrong, too short, last try protected, card in several-signatures mode):
    /// nothing was signed and the request stays pending.
    case pinRefused(String)
    /// The card failed during the signature (pulled, blocked): the request is failed, nothing released.
    case cardFailed(String)

    public var stillPending: Bool {
        switch self {
        case .wrongCode, .recipientNotConfirmed, .noCard, .refusedBeforeSigning, .pinRefused: true
        case .bridge, .cardFailed: false
        }
    }

    public var description: String {
        switch self {
        case .bridge(let text): text
        case .wrongCode(let player):
            "that is not the code of player \"\(TerminalText.escape(player))\": the pairing stays pending (deny it with --deny)"
        case .recipientNotConfirmed(let to, _):
            "confirm the recipient with --confirm-recipient \(to), or deny it with --deny (the request stays pending)"
        case .noCard(let why): "\(why) (the request stays pending)"
        case .refusedBeforeSigning(let why): "refused before signing: \(why) (the request stays pending: deny it with --deny)"
        case .pinRefused(let why): "\(why) (the request stays pending)"
        case .cardFailed(let why): "\(why): the request failed"
        }
    }
}
