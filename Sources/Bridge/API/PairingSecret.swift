import Crypto
import Ethereum

/// What a player keeps while its pairing waits: 32 random bytes (as 64 hex digits) it alone knows. It
/// sends only their SHA-256 when it asks to pair, and shows the secret (`Authorization: Pairing …`)
/// when it collects the token, so a pairing id seen in `ps` or a log is worth nothing to anyone else.
public struct PairingSecret: Sendable {
    public let secret: String

    public init() {
        secret = SystemRandom.bytes(32).hexDigits
    }

    /// SHA-256 of the secret's 64 hex digits as text, in hex: the `secretHash` of `POST /v1/pairings`.
    public var hash: String { Array(SHA256.hash(data: Array(secret.utf8))).hexDigits }
}
