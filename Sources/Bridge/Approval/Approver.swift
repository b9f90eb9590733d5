import Delegation
import Ethereum
import Foundation
import OpenPGPCard
import Storage

/// The user's side of the bridge as a library, so `paratii approve` and a GUI approver share one set of
/// rules: list what waits; approve a pairing only with the code its player shows; approve a request by
/// having the card sign exactly what was asked (one approval at a time on the card, an exclusive lock
/// next to the socket), a top-up elsewhere than the player's wallet only when the user confirmed that
/// recipient. A refused PIN leaves the request pending; a card that fails mid-signature fails it.
public struct Approver: Sendable {
    public let client: BridgeClient
    /// Used only when the bridge sends no chain settings of its own.
    let fallback: Configuration

    /// The approver's calls (what waits, the decision, the signature posted back) share one kept-alive
    /// connection: an approval is four calls, and a new connection each was most of the bridge's share.
    public init(client: BridgeClient, configuration: Configuration) {
        self.client = client.keepAlive ? client : client.keepingAlive()
        self.fallback = configuration
    }

    /// How the approver reaches the card: the front end finds it (by reader) and asks the PIN (no echo,
    /// a pinentry, a GUI dialog), told which reader and what will be signed.
    public struct CardAccess {
        public var open: () throws -> (card: OpenPGPCard, reader: String)
        public var pin: (_ reader: String, _ signs: String) throws -> PIN
        public var allowLastTry: Bool

        public init(
            open: @escaping () throws -> (card: OpenPGPCard, reader: String),
            pin: @escaping (_ reader: String, _ signs: String) throws -> PIN, allowLastTry: Bool = false
        ) {
            self.open = open
            self.pin = pin
            self.allowLastTry = allowLastTry
        }
    }

    public enum Approved: Sendable {
        case delegation(Envelope)
        case transaction(SignedTransaction)
    }

    public func pending() throws(ApprovalError) -> PendingWork {
        try PendingWork(json: try call("GET", "/v1/admin/pending"), fallback: fallback)
    }

    /// What waits, once something does: at once if something already waits, else when a request or
    /// pairing arrives (long polls of at most a minute each, which the bridge answers from that commit),
    /// or after `seconds` with nothing.
    public func waitForWork(seconds: Int) throws(ApprovalError) -> PendingWork {
        let end = Date().addingTimeInterval(TimeInterval(seconds))
        while true {
            let left = max(0, Int(end.timeIntervalSinceNow.rounded(.up)))
            let work = try PendingWork(json: try call("GET", "/v1/admin/pending?timeout=\(min(60, left))"), fallback: fallback)
            if !work.pairings.isEmpty || !work.requests.isEmpty || left == 0 { return work }
        }
    }

    /// Approves `pairing` if `typedCode` is the code its player shows, or denies it.
    public func decide(_ pairing: PendingWork.Pairing, approve: Bool, typedCode: String? = nil) throws(ApprovalError) {
        if approve {
            let typed = Array((typedCode ?? "").trimmingCharacters(in: .whitespaces).utf8)
            guard ConstantTime.equal(typed, Array(pairing.code.utf8)) else { throw .wrongCode(player: pairing.name) }
        }
        _ = try call("POST", "/v1/admin/pairings/\(pairing.id)/\(approve ? "approve" : "deny")")
    }

    public func deny(_ request: PendingWork.Request) throws(ApprovalError) {
        _ = try call("POST", "\(request.path)/deny")
    }

    /// Has the card sign `request` and hands the result to the bridge, which checks it grants exactly
    /// what was asked before releasing it. `attestation` (an institution's card) is carried as the
    /// delegation's root and its ceiling checked before the PIN is asked.
    public func approve(
        _ request: PendingWork.Request, in work: PendingWork, card access: CardAccess, attestation: Envelope? = nil,
        confirmedRecipient: Address? = nil, now: UInt64
    ) throws(ApprovalError) -> Approved {
        let configuration = work.configuration
        switch request.ask {
        case .transaction(let asked):
            if asked.needsConfirmedRecipient(wallet: request.wallet), confirmedRecipient != asked.to {
                throw .recipientNotConfirmed(to: asked.to.checksummed, wallet: request.wallet?.checksummed)
            }
            let (signed, counter) = try withCard(access, request, configuration) { signer in
                try asked.transaction(chainId: configuration.chainId).sign(with: signer)
            }
            try settle(request, ["raw": .string(signed.raw.hexString)], counter)
            return .transaction(signed)
        case .delegation(let asked):
            var ceiling: CardAttestation?
            if let attestation {
                guard case .attestation(let message) = attestation.message else {
                    throw .refusedBeforeSigning("the attestation is not a CardAttestation")
                }
                guard attestation.domain == configuration.domain else {
                    throw .refusedBeforeSigning("the attestation is for another chain or contract than the bridge's")
                }
                if let refusal = message.refusal(for: asked.delegation(master: message.master, now: now)) {
                    throw .refusedBeforeSigning("\(refusal)")
                }
                ceiling = message
            }
            let (envelope, counter) = try withCard(access, request, configuration, expecting: ceiling?.master) { signer in
                try Envelope.sign(
                    asked.delegation(master: signer.address, now: now), domain: configuration.domain, signer: signer,
                    parents: attestation.map { [$0] } ?? [])
            }
            try settle(request, ["envelope": envelope.json], counter)
            return .delegation(envelope)
        }
    }

    private func settle(_ request: PendingWork.Request, _ object: JSONObject, _ counter: Int?) throws(ApprovalError) {
        var object = object
        if let counter { object["signatureCounter"] = .number("\(counter)") }
        _ = try call("POST", "\(request.path)/approve", body: .object(object))
    }

    /// Lock, open, check the key, ask the PIN, sign, read the counter. Errors say whether the request
    /// still waits (nothing signed) or failed (the card faulted mid-way).
    private func withCard<T>(
        _ access: CardAccess, _ request: PendingWork.Request, _ configuration: Configuration, expecting expected: Address? = nil,
        _ sign: (CardSigner) throws -> T
    ) throws(ApprovalError) -> (T, Int?) {
        let lockPath = Paths.directory(of: client.socketPath ?? BridgeSettings.defaultSocketPath) + "/card.lock"
        let lock: Int32
        do { lock = try SecureFile.openLock(lockPath) } catch { throw .noCard("\(error)") }
        defer { close(lock) }
        flock(lock, LOCK_EX)

        let opened: (card: OpenPGPCard, reader: String)
        let key: PublicKey
        do {
            opened = try access.open()
            guard let found = try opened.card.publicKey() else {
                throw ApprovalError.noCard("the card has no signature key: run `paratii card init`")
            }
            key = found
        } catch let error as ApprovalError { throw error } catch { throw .noCard("\(error)") }
        if let expected, key.address != expected {
            throw .refusedBeforeSigning(
                "the attestation is for card key \(expected), but the card in \(opened.reader) holds \(key.address)")
        }
        let pin: PIN
        do { pin = try access.pin(opened.reader, request.signs(configuration)) } catch { throw .pinRefused("\(error)") }
        let signer = CardSigner(card: opened.card, pin: pin, allowLastTry: access.allowLastTry, address: key.address)
        do {
            let signed = try sign(signer)
            return (signed, try? opened.card.signatureCounter())
        } catch {
            switch error as? OpenPGPCardError {
            case .wrongPIN, .invalidPIN, .lastTryProtected, .pinValidForSeveralSignatures:
                throw .pinRefused("\(error)")
            default:
                _ = try? client.post("\(request.path)/fail", .object(["reason": .string("card: \(error)")]))
                throw .cardFailed("\(error)")
            }
        }
    }

    private func call(_ method: String, _ path: String, body: JSONValue? = nil) throws(ApprovalError) -> JSONValue {
        let response: BridgeClient.Response
        do { response = try client.request(method, path, body: body.map { Array($0.compactText.utf8) }) } catch {
            throw .bridge("cannot reach the bridge: \(error)")
        }
        guard response.status == 200, let json = response.json else { throw .bridge(response.errorText) }
        return json
    }
}

/// The card's signature key for one approval; card errors pass through typed, so a wrong PIN can
/// leave the request pending while a pulled card fails it.
final class CardSigner: DigestSigner {
    let card: OpenPGPCard
    let pin: PIN
    let allowLastTry: Bool
    let address: Address

    init(card: OpenPGPCard, pin: PIN, allowLastTry: Bool, address: Address) {
        self.card = card
        self.pin = pin
        self.allowLastTry = allowLastTry
        self.address = address
    }

    func sign(digest: [UInt8]) throws -> Signature { try card.sign(digest: digest, pin: pin, allowLastTry: allowLastTry) }
}
