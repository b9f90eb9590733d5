import Crypto
import Ethereum
import Foundation

/// An OpenPGP card (application version 3.x) driven through any `SmartCardChannel`, with the
/// signature slot holding an ECDSA secp256k1 key as the Ethereum master key.
///
/// Every public operation runs inside one channel transaction, re-selects the application after a
/// reconnect, reads retry counters before presenting a PIN, and refuses to spend the last try unless
/// `allowLastTry` is set. Signatures leave the driver normalised to low-s, with v found by trial
/// recovery against the card's own public key, and verified. After each signature the driver resets
/// PW1's access status (VERIFY P1=FF), so no other PC/SC client can sign on the user's PIN, and it
/// refuses a card that keeps PW1 valid for several signatures unless the caller opts in.
public final class OpenPGPCard: @unchecked Sendable {
    public let channel: any SmartCardChannel
    private let lock = NSLock()
    private var selectedGeneration: Int?
    private var terminated = false
    private var cachedPublicKey: PublicKey?
    /// SHA-256 of the PW1 that last verified for signing on this connection. Presenting the same PIN
    /// again skips the retry-counter read (it cannot be the wrong PIN unless someone changed it in
    /// between; a failure clears this), so a signature costs VERIFY + PSO:CDS.
    private var knownGoodSignPIN: [UInt8]?
    /// DO C4 byte 1 as last read on this connection (nil: not read yet).
    private var knownSignaturePINPolicy: SignaturePINPolicy?

    public static let minimumUserPINLength = 6
    public static let minimumAdminPINLength = 8
    public static let maximumPINLength = 127
    /// Not a PIN: what `factoryReset(adminPIN: nil)` presents to PW3 until it blocks.
    static let resetBlocker = PIN("\u{0}paratii-reset\u{0}")

    public init(channel: any SmartCardChannel) {
        self.channel = channel
    }

    // MARK: Read-only

    public func applicationData() throws -> ApplicationData {
        try run { try readApplicationData() }
    }

    public func pinStatus() throws -> PINStatus {
        try run { try readPINStatus() }
    }

    public func signatureCounter() throws -> Int {
        try run { try readSignatureCounter() }
    }

    /// The signature key, or nil when the slot is empty.
    public func publicKey() throws -> PublicKey? {
        try run { try readPublicKey() }
    }

    public func status() throws -> CardStatus {
        try run {
            let app = try readApplicationData()
            let counter = try readSignatureCounter()
            let key = try readPublicKey()
            return CardStatus(application: app, signatureCounter: counter, publicKey: key?.xy)
        }
    }

    // MARK: PINs

    /// Checks a PIN: VERIFY after reading the retry counter, then VERIFY P1=FF, so that checking a PIN
    /// early (as institution enrollment does) leaves nothing unlocked for other PC/SC clients.
    public func verify(_ reference: PINReference, pin: PIN, allowLastTry: Bool = false) throws {
        try run {
            try verifyLocked(reference, pin: pin, allowLastTry: allowLastTry)
            if reference == .userSign { try resetSigningAccess() } else { resetAccess(reference) }
        }
    }

    /// CHANGE REFERENCE DATA for PW1 (`.userSign`/`.user`) or PW3 (`.admin`).
    public func changePIN(_ reference: PINReference, old: PIN, new: PIN, allowLastTry: Bool = false) throws {
        try run { try changePINLocked(reference, old: old, new: new, allowLastTry: allowLastTry) }
    }

    /// RESET RETRY COUNTER for PW1 with the admin PIN (verifies PW3 first), setting `newPIN`.
    public func unblockUserPIN(adminPIN: PIN, newPIN: PIN, allowLastTry: Bool = false) throws {
        try Self.checkLength(newPIN, for: .userSign)
        try run {
            try asAdmin(adminPIN, allowLastTry: allowLastTry) {
                try StatusWord.check(
                    try sendSecret(.resetRetryCounter, p1: CardParameter.resetAfterAdmin, p2: PINReference.userSign.rawValue, newPIN))
                knownGoodSignPIN = nil
            }
        }
    }

    /// RESET RETRY COUNTER for PW1 with the resetting code.
    public func unblockUserPIN(resettingCode: PIN, newPIN: PIN, allowLastTry: Bool = false) throws {
        try Self.checkLength(newPIN, for: .userSign)
        try run {
            let status = try readPINStatus()
            if status.resettingCodeTriesLeft == 0 { throw OpenPGPCardError.pinBlocked }
            if status.resettingCodeTriesLeft == 1 && !allowLastTry { throw OpenPGPCardError.lastTryProtected }
            try StatusWord.check(
                try sendSecret(
                    .resetRetryCounter, p1: CardParameter.resetWithResettingCode, p2: PINReference.userSign.rawValue,
                    resettingCode, newPIN))
            knownGoodSignPIN = nil
        }
    }

    /// Sets (or, with nil, deletes) the resetting code (PUT DATA D3; needs PW3) with which PW1 can be
    /// unblocked without the admin PIN.
    public func setResettingCode(adminPIN: PIN, code: PIN?, allowLastTry: Bool = false) throws {
        if let code, code.count < 8 || code.count > Self.maximumPINLength {
            throw OpenPGPCardError.invalidPIN("the resetting code must have 8 to 127 characters")
        }
        try run {
            try asAdmin(adminPIN, allowLastTry: allowLastTry) {
                let tag = DataObject.resettingCode
                try StatusWord.check(try sendSecret(.putData, p1: UInt8(tag >> 8), p2: UInt8(tag & 0xFF), code.map { [$0] } ?? []))
            }
        }
    }

    // MARK: Key management

    /// Sets the signature slot to ECDSA secp256k1 (PUT DATA C1). Needs PW3 verified in the same transaction,
    /// so it takes the admin PIN.
    public func setSignatureAlgorithmSecp256k1(adminPIN: PIN, allowLastTry: Bool = false) throws {
        try run {
            try asAdmin(adminPIN, allowLastTry: allowLastTry) { try putSecp256k1Attributes() }
        }
    }

    /// Sets secp256k1 attributes if needed, generates the key on the card, and records its creation time
    /// and OpenPGP v4 fingerprint (C7, CE) as GnuPG would. Returns the new public key.
    public func generateSigningKey(
        adminPIN: PIN, creationTime: UInt32 = UInt32(Date().timeIntervalSince1970), allowLastTry: Bool = false
    ) throws -> PublicKey {
        try run {
            try asAdmin(adminPIN, allowLastTry: allowLastTry) { try generateLocked(creationTime: creationTime) }
        }
    }

    /// Makes a factory-fresh card (default PINs) a master-key card, in one transaction: secp256k1 key
    /// generated on the card, PW1 valid for one signature only (DO C4 byte 1 = 00), then the new user
    /// and admin PINs. `paratii card init` and institution enrollment both come through here.
    /// With `importing`, the key is imported (a key born off card, `paratii card init --backup` and
    /// `card restore`) instead of generated.
    public func initialize(
        userPIN: PIN, adminPIN: PIN, importing imported: PrivateKey? = nil, creationTime: UInt32 = UInt32(Date().timeIntervalSince1970)
    ) throws -> PublicKey {
        try Self.checkLength(userPIN, for: .userSign)
        try Self.checkLength(adminPIN, for: .admin)
        return try run {
            try asAdmin(.defaultAdmin, allowLastTry: false) {
                let key =
                    try imported.map { try importLocked($0, creationTime: creationTime) } ?? generateLocked(creationTime: creationTime)
                try putSignaturePINPolicy(.once)
                try changePINLocked(.userSign, old: .defaultUser, new: userPIN, allowLastTry: false)
                try changePINLocked(.admin, old: .defaultAdmin, new: adminPIN, allowLastTry: false)
                return key
            }
        }
    }

    /// Imports a secp256k1 private key into the signature slot (PUT DATA odd DB 3FFF with the extended
    /// header list; needs PW3), records its creation time and fingerprint as `generateSigningKey` does,
    /// and checks that the card now answers with the key's public key. The card's copy is the only
    /// one this driver keeps: the command's data is wiped after the exchange (the transport wipes its
    /// wire copy, and its log masks the data).
    public func importSigningKey(
        _ key: PrivateKey, adminPIN: PIN, creationTime: UInt32 = UInt32(Date().timeIntervalSince1970), allowLastTry: Bool = false
    ) throws -> PublicKey {
        try run {
            try asAdmin(adminPIN, allowLastTry: allowLastTry) { try importLocked(key, creationTime: creationTime) }
        }
    }

    /// Sets DO C4 byte 1 (PUT DATA C4; needs PW3): `.once` makes every signature need its own VERIFY.
    public func setSignaturePINPolicy(_ policy: SignaturePINPolicy, adminPIN: PIN, allowLastTry: Bool = false) throws {
        try run {
            try asAdmin(adminPIN, allowLastTry: allowLastTry) { try putSignaturePINPolicy(policy) }
        }
    }

    /// TERMINATE DF then ACTIVATE FILE: every key, PIN and counter back to factory state. With the admin PIN
    /// it verifies PW3 first; without it, it blocks PW3 on purpose (as `gpg --card-edit factory-reset` does),
    /// since the card only terminates after PW3 is verified or blocked.
    public func factoryReset(adminPIN: PIN?) throws {
        try run {
            if !terminated {
                if let adminPIN {
                    try verifyLocked(.admin, pin: adminPIN, allowLastTry: true)
                } else {
                    var guardRounds = 0
                    while guardRounds < 16 {
                        guardRounds += 1
                        let response = try sendSecret(
                            .verify, p1: CardParameter.verifyPresent, p2: PINReference.admin.rawValue, Self.resetBlocker)
                        if response.sw == StatusWord.authenticationBlocked || response.sw == StatusWord.wrongPIN(triesLeft: 0) { break }
                        if response.sw == StatusWord.ok { break }
                        guard StatusWord.wrongPINRange.contains(response.sw) else { throw StatusWord.error(for: response.sw) }
                    }
                }
                let terminate = try send(CommandAPDU(.terminateDF, p1: 0x00, p2: 0x00))
                guard terminate.isSuccess else { throw StatusWord.error(for: terminate.sw) }
            }
            try StatusWord.check(try send(CommandAPDU(.activateFile, p1: 0x00, p2: 0x00)))
            cachedPublicKey = nil
            knownGoodSignPIN = nil
            knownSignaturePINPolicy = nil
            terminated = false
            try selectApplication()
        }
    }

    // MARK: Signing

    /// Signs a 32-byte digest with the signature key: VERIFY PW1 (81), PSO:COMPUTE DIGITAL SIGNATURE, then
    /// VERIFY P1=FF to reset PW1's access status, all in one transaction, so the PIN unlocks exactly this
    /// signature. A card that keeps PW1 valid for several signatures (DO C4 byte 1 = 01) is refused with
    /// `pinValidForSeveralSignatures` unless `allowSeveralSignatures`; then the reset must succeed.
    /// The raw r‖s is normalised to low-s, v found by trial recovery and the result verified against the
    /// card's public key before it is returned.
    public func sign(digest: [UInt8], pin: PIN, allowLastTry: Bool = false, allowSeveralSignatures: Bool = false) throws -> Signature {
        guard digest.count == 32 else { throw OpenPGPCardError.malformedResponse("digest must be 32 bytes, got \(digest.count)") }
        return try run {
            guard let key = try cachedPublicKey ?? readPublicKey() else { throw OpenPGPCardError.noKey }
            // The first signature on a connection reads C4 once, for the policy and the retry counter.
            let status = knownSignaturePINPolicy == nil ? try readPINStatus() : nil
            if knownSignaturePINPolicy == .several && !allowSeveralSignatures { throw OpenPGPCardError.pinValidForSeveralSignatures }
            try verifyLocked(.userSign, pin: pin, allowLastTry: allowLastTry, status: status)
            let response = try send(
                CommandAPDU(.performSecurityOperation, p1: CardParameter.psoCDSP1, p2: CardParameter.psoCDSP2, data: digest, le: 256))
            // Whatever PSO:CDS answered, the verification is not left for anyone else.
            try resetSigningAccess()
            switch response.sw {
            case StatusWord.ok: break
            case StatusWord.referencedDataNotFound: throw OpenPGPCardError.noKey
            default:
                knownGoodSignPIN = nil
                throw StatusWord.error(for: response.sw)
            }
            let raw = try Self.rawSignature(response.data)
            do {
                return try Signature(rawRS: raw, digest: digest, signer: key)
            } catch {
                // The key may have changed under us (another application regenerated it): drop the cache.
                cachedPublicKey = nil
                throw OpenPGPCardError.malformedResponse("card signature does not verify: \(error)")
            }
        }
    }

    // MARK: Internals

    private func run<T>(_ body: () throws -> T) throws -> T {
        lock.lock()
        defer { lock.unlock() }
        do {
            return try channel.withTransaction {
                if selectedGeneration != channel.connectionGeneration {
                    cachedPublicKey = nil
                    knownGoodSignPIN = nil
                    knownSignaturePINPolicy = nil
                    try selectApplication()
                    try bindToCard()
                }
                return try body()
            }
        } catch let error as CardTransportError where error.indicatesCardRemoved {
            selectedGeneration = nil
            cachedPublicKey = nil
            knownGoodSignPIN = nil
            knownSignaturePINPolicy = nil
            throw OpenPGPCardError.cardRemoved
        }
    }

    /// The AID (with its serial) of the card this driver first talked to. After a reconnect (card reset,
    /// pcscd restart) the reader may hold a different card: that is not this session's card.
    private var boundAID: [UInt8]?

    private func bindToCard() throws {
        guard !terminated else { return }
        let aid = try getData(DataObject.applicationIdentifier)
        if let boundAID, boundAID != aid {
            selectedGeneration = nil
            throw OpenPGPCardError.cardRemoved
        }
        boundAID = aid
    }

    private func send(_ command: CommandAPDU) throws -> ResponseAPDU {
        try channel.transmit(command)
    }

    /// Sends a command whose data is PIN material: the PINs are copied into the command's data here
    /// and that copy is wiped after the exchange (the transport wipes its wire copy likewise).
    private func sendSecret(_ instruction: Instruction, p1: UInt8, p2: UInt8, _ pins: PIN...) throws -> ResponseAPDU {
        try sendSecret(instruction, p1: p1, p2: p2, pins)
    }

    private func sendSecret(_ instruction: Instruction, p1: UInt8, p2: UInt8, _ pins: [PIN]) throws -> ResponseAPDU {
        var command = CommandAPDU(instruction, p1: p1, p2: p2)
        command.data.reserveCapacity(pins.reduce(0) { $0 + $1.count })
        for pin in pins { pin.withUnsafeBytes { command.data.append(contentsOf: $0) } }
        defer { secureZero(&command.data) }
        return try send(command)
    }

    /// Runs `body` with PW3 verified, then resets PW3's access status: an admin operation does not leave
    /// the card open to PUT DATA, key generation or a new user PIN (RESET RETRY COUNTER) from another client.
    private func asAdmin<T>(_ adminPIN: PIN, allowLastTry: Bool, _ body: () throws -> T) throws -> T {
        try verifyLocked(.admin, pin: adminPIN, allowLastTry: allowLastTry)
        defer { resetAccess(.admin) }
        return try body()
    }

    /// VERIFY P1=FF for `reference`, best effort: a card without it, or gone, keeps what it keeps.
    private func resetAccess(_ reference: PINReference) {
        _ = try? send(CommandAPDU(.verify, p1: CardParameter.verifyResetAccess, p2: reference.rawValue))
    }

    /// VERIFY P1=FF P2=81 (spec 3.4 §7.2.2): PW1 for signing is no longer verified. A card that cannot do
    /// this is acceptable only if it spends the verification on each signature itself (C4 byte 1 = 00).
    private func resetSigningAccess() throws {
        let reset = try send(CommandAPDU(.verify, p1: CardParameter.verifyResetAccess, p2: PINReference.userSign.rawValue))
        guard reset.sw != StatusWord.ok else { return }
        if try readPINStatus().signaturePINPolicy == .several { throw OpenPGPCardError.accessStatusNotReset(reset.sw) }
    }

    private func putSignaturePINPolicy(_ policy: SignaturePINPolicy) throws {
        try StatusWord.check(try send(CommandAPDU(.putData, object: DataObject.pwStatus, data: [policy.rawValue])))
        knownSignaturePINPolicy = policy
    }

    private func generateLocked(creationTime: UInt32) throws -> PublicKey {
        let app = try readApplicationData()
        if app.signatureAlgorithm?.isSecp256k1 != true { try putSecp256k1Attributes() }
        let response = try send(
            CommandAPDU(.generateAsymmetricKeyPair, p1: CardParameter.generateKey, p2: 0x00, data: CardParameter.signatureKeyCRT, le: 256))
        switch response.sw {
        case StatusWord.ok: break
        case StatusWord.incorrectData, StatusWord.referencedDataNotFound, StatusWord.wrongP1P2, StatusWord.incorrectP1P2:
            throw OpenPGPCardError.algorithmNotSupported
        default: throw StatusWord.error(for: response.sw)
        }
        let key = try Self.parsePublicKey(response.data)
        cachedPublicKey = key
        knownGoodSignPIN = nil
        try recordKeyMetadata(key, creationTime: creationTime)
        return key
    }

    private func importLocked(_ key: PrivateKey, creationTime: UInt32) throws -> PublicKey {
        let app = try readApplicationData()
        guard let capabilities = app.extendedCapabilities?.first, capabilities & CardParameter.keyImportCapability != 0 else {
            throw OpenPGPCardError.keyImportNotSupported
        }
        if app.signatureAlgorithm?.isSecp256k1 != true { try putSecp256k1Attributes() }
        var command = CommandAPDU(.putDataOdd, p1: CardParameter.extendedHeaderListP1, p2: CardParameter.extendedHeaderListP2)
        KeyImport.append(key, to: &command.data)
        defer { secureZero(&command.data) }
        let response = try send(command)
        cachedPublicKey = nil
        knownGoodSignPIN = nil
        switch response.sw {
        case StatusWord.ok: break
        case StatusWord.instructionNotSupported, StatusWord.functionNotSupported: throw OpenPGPCardError.keyImportNotSupported
        default: throw StatusWord.error(for: response.sw)
        }
        // The card must now hold exactly this key: a card that stored something else would sign for
        // another address than the one the user wrote the words down for.
        guard let held = try readPublicKey(), held == key.publicKey else {
            throw OpenPGPCardError.malformedResponse("the card does not hold the imported key")
        }
        try recordKeyMetadata(held, creationTime: creationTime)
        return held
    }

    /// CE (generation time) and C7 (OpenPGP v4 fingerprint), as GnuPG records them for a new key.
    private func recordKeyMetadata(_ key: PublicKey, creationTime: UInt32) throws {
        let time = withUnsafeBytes(of: creationTime.bigEndian, Array.init)
        try StatusWord.check(try send(CommandAPDU(.putData, object: DataObject.signatureGenerationTime, data: time)))
        try StatusWord.check(
            try send(CommandAPDU(.putData, object: DataObject.signatureFingerprint, data: Self.fingerprint(of: key, created: creationTime)))
        )
    }

    /// CHANGE REFERENCE DATA for PW1 (`.userSign`/`.user`) or PW3 (`.admin`).
    private func changePINLocked(_ reference: PINReference, old: PIN, new: PIN, allowLastTry: Bool) throws {
        let ref: PINReference = reference == .admin ? .admin : .userSign
        try Self.checkLength(new, for: ref)
        try Self.checkLength(old, for: ref)
        try guardTries(for: ref, allowLastTry: allowLastTry)
        let response = try sendSecret(.changeReferenceData, p1: 0x00, p2: ref.rawValue, old, new)
        knownGoodSignPIN = nil
        try StatusWord.check(response)
    }

    private func selectApplication() throws {
        let generation = channel.connectionGeneration
        let response = try send(CommandAPDU(.select, p1: CardParameter.selectByName, p2: 0x00, data: ApplicationIdentifier.rid))
        switch response.sw {
        case StatusWord.ok: terminated = false
        case StatusWord.terminated: terminated = true
        case StatusWord.fileNotFound, StatusWord.functionNotSupported, StatusWord.instructionNotSupported, StatusWord.classNotSupported:
            throw OpenPGPCardError.notOpenPGP
        default: throw StatusWord.error(for: response.sw)
        }
        selectedGeneration = generation
    }

    private func getData(_ tag: UInt16) throws -> [UInt8] {
        let response = try send(CommandAPDU(.getData, object: tag, le: 256))
        try StatusWord.check(response)
        return response.data
    }

    private func readApplicationData() throws -> ApplicationData {
        if terminated { throw OpenPGPCardError.unexpectedStatus(StatusWord.terminated) }
        return try ApplicationData(bytes: try getData(DataObject.applicationRelatedData))
    }

    private func readPINStatus() throws -> PINStatus {
        var bytes = try getData(DataObject.pwStatus)
        // Some cards wrap it: C4 07 …
        if bytes.count >= 2, bytes[0] == 0xC4, let tlv = try? TLV.parse(bytes).first, tlv.tag == 0xC4 {
            bytes = tlv.value
        }
        let status = try PINStatus(bytes: bytes)
        knownSignaturePINPolicy = status.signaturePINPolicy
        return status
    }

    private func readSignatureCounter() throws -> Int {
        let bytes = try getData(DataObject.securitySupportTemplate)
        let objects: [TLV]
        do { objects = try TLV.parse(bytes) } catch { throw OpenPGPCardError.malformedResponse(error.description) }
        guard let counter = TLV.find(0x93, in: objects), counter.value.count <= 4 else {
            throw OpenPGPCardError.malformedResponse("security support template without signature counter (93)")
        }
        return counter.value.reduce(0) { $0 << 8 | Int($1) }
    }

    private func readPublicKey() throws -> PublicKey? {
        let response = try send(
            CommandAPDU(.generateAsymmetricKeyPair, p1: CardParameter.readPublicKey, p2: 0x00, data: CardParameter.signatureKeyCRT, le: 256)
        )
        switch response.sw {
        case StatusWord.ok: break
        case StatusWord.referencedDataNotFound, StatusWord.incorrectData, StatusWord.conditionsNotSatisfied:
            cachedPublicKey = nil; return nil
        default: throw StatusWord.error(for: response.sw)
        }
        if response.data.isEmpty { return nil }
        let key = try Self.parsePublicKey(response.data)
        cachedPublicKey = key
        return key
    }

    private func putSecp256k1Attributes() throws {
        let response = try send(CommandAPDU(.putData, object: DataObject.signatureAlgorithm, data: AlgorithmAttributes.secp256k1.bytes))
        switch response.sw {
        case StatusWord.ok: return
        case StatusWord.incorrectData, StatusWord.referencedDataNotFound, StatusWord.wrongP1P2, StatusWord.incorrectP1P2,
            StatusWord.instructionNotSupported:
            throw OpenPGPCardError.algorithmNotSupported
        default: throw StatusWord.error(for: response.sw)
        }
    }

    private func guardTries(for reference: PINReference, allowLastTry: Bool, status known: PINStatus? = nil) throws {
        let status = try known ?? readPINStatus()
        let tries = reference == .admin ? status.pw3TriesLeft : status.pw1TriesLeft
        if tries == 0 { throw OpenPGPCardError.pinBlocked }
        if tries == 1 && !allowLastTry { throw OpenPGPCardError.lastTryProtected }
    }

    private func verifyLocked(_ reference: PINReference, pin: PIN, allowLastTry: Bool, status: PINStatus? = nil) throws {
        try Self.checkLength(pin, for: reference)
        let digest = pin.withUnsafeBytes { Array(SHA256.hash(data: $0)) }
        let knownGood = reference == .userSign && knownGoodSignPIN.map { Self.constantTimeEqual($0, digest) } == true
        if !knownGood {
            try guardTries(for: reference, allowLastTry: allowLastTry, status: status)
        }
        let response = try sendSecret(.verify, p1: CardParameter.verifyPresent, p2: reference.rawValue, pin)
        guard response.isSuccess else {
            if reference == .userSign { knownGoodSignPIN = nil }
            throw StatusWord.error(for: response.sw)
        }
        if reference == .userSign { knownGoodSignPIN = digest }
    }

    static func checkLength(_ pin: PIN, for reference: PINReference) throws(OpenPGPCardError) {
        let minimum = reference == .admin ? minimumAdminPINLength : minimumUserPINLength
        guard pin.count >= minimum else {
            throw .invalidPIN("\(reference == .admin ? "admin PIN" : "PIN") must have at least \(minimum) characters")
        }
        guard pin.count <= maximumPINLength else { throw .invalidPIN("longer than \(maximumPINLength) bytes") }
    }

    private static func constantTimeEqual(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        guard a.count == b.count else { return false }
        var diff: UInt8 = 0
        for i in a.indices { diff |= a[i] ^ b[i] }
        return diff == 0
    }

    /// Parses 7F49 { 86 len 04‖X‖Y } (some cards omit the outer template).
    public static func parsePublicKey(_ bytes: [UInt8]) throws(OpenPGPCardError) -> PublicKey {
        let objects: [TLV]
        do { objects = try TLV.parse(bytes) } catch { throw .malformedResponse(error.description) }
        guard let point = TLV.find(0x86, in: objects) else {
            throw .malformedResponse("public key template without EC point (86)")
        }
        guard point.value.count == 65, point.value[0] == 0x04 else {
            throw .malformedResponse("EC point is \(point.value.count) bytes, expected an uncompressed secp256k1 point")
        }
        do { return try PublicKey(bytes: point.value) } catch { throw .malformedResponse("EC point is not on secp256k1") }
    }

    /// A PSO:CDS answer for ECDSA is r‖s (64 bytes); tolerate a DER SEQUENCE as some firmware returns.
    static func rawSignature(_ data: [UInt8]) throws(OpenPGPCardError) -> [UInt8] {
        if data.count == 64 { return data }
        if data.first == 0x30, let seq = try? TLV.parse(data).first, seq.tag == 0x30,
            let ints = try? TLV.parse(seq.value), ints.count == 2, ints.allSatisfy({ $0.tag == 0x02 })
        {
            func fixed(_ v: [UInt8]) -> [UInt8]? {
                let trimmed = Array(v.drop(while: { $0 == 0 }))
                guard trimmed.count <= 32 else { return nil }
                return [UInt8](repeating: 0, count: 32 - trimmed.count) + trimmed
            }
            if let r = fixed(ints[0].value), let s = fixed(ints[1].value) { return r + s }
        }
        throw .malformedResponse("signature is \(data.count) bytes, expected r‖s (64)")
    }

    /// OpenPGP v4 fingerprint of an ECDSA secp256k1 public key packet (RFC 4880 §12.2, RFC 6637).
    public static func fingerprint(of key: PublicKey, created: UInt32) -> [UInt8] {
        var body: [UInt8] = [0x04]
        body += withUnsafeBytes(of: created.bigEndian, Array.init)
        body += [0x13, 0x05, 0x2B, 0x81, 0x04, 0x00, 0x0A]
        body += [0x02, 0x08] + key.uncompressed  // MPI: 520 bits
        let packet: [UInt8] = [0x99, UInt8(body.count >> 8), UInt8(body.count & 0xFF)] + body
        return Array(Insecure.SHA1.hash(data: packet))
    }
}
