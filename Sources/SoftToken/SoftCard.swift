import Ethereum
import Foundation
import OpenPGPCard

/// A software OpenPGP card, application version 3.4, for the operations the bridge uses: SELECT,
/// GET DATA, PUT DATA, VERIFY, CHANGE REFERENCE DATA, RESET RETRY COUNTER, GENERATE ASYMMETRIC KEY
/// PAIR (secp256k1 signature key), PUT DATA odd (key import, extended header list), PSO:CDS, GET RESPONSE, GET CHALLENGE, TERMINATE DF, ACTIVATE FILE.
///
/// PIN counters are decremented and persisted before the comparison (as a card does against tearing);
/// PW1 stays valid for one PSO:CDS unless DO C4 byte 1 says "several" (PUT DATA C4, one byte, under
/// PW3); VERIFY P1=FF resets a verification, which belongs to the card, not to a connection; the
/// signature counter counts; status words follow ISO 7816-4 and the OpenPGP card spec. Every state change is written
/// atomically before the response leaves. Not thread-safe: one connection thread drives it.
public final class SoftCard: @unchecked Sendable {
    /// ATR of an OpenPGP card v3.x (T=1; historical bytes announce extended Lc/Le).
    public static let atr: [UInt8] = [
        0x3B, 0xDA, 0x18, 0xFF, 0x81, 0xB1, 0xFE, 0x75, 0x1F, 0x03,
        0x00, 0x31, 0xC5, 0x73, 0xC0, 0x01, 0x40, 0x00, 0x90, 0x00, 0x0C,
    ]
    public static let historicalBytes: [UInt8] = [0x00, 0x31, 0xC5, 0x73, 0xC0, 0x01, 0x40, 0x00, 0x90, 0x00]
    static let rsa2048Attributes: [UInt8] = [0x01, 0x08, 0x00, 0x00, 0x20, 0x00]
    static let maxExtendedLength = 2048

    public private(set) var state: SoftCardState
    private let statePath: String?
    private let passphrase: String?
    private let kdf: ScryptParameters
    private var privateKey: PrivateKey?

    /// When true, PSO:CDS returns the high-s twin of the signature half the time: real cards do not
    /// promise low-s, so the driver's normalisation must be exercised.
    public var returnHighSHalfTheTime = true

    // Volatile (lost on power off / reset).
    private var selected = false
    private var pw1VerifiedForSigning = false
    private var pw1Verified = false
    private var pw3Verified = false
    private var pendingResponse: [UInt8] = []
    private var chainINS: UInt8?
    private var chainData: [UInt8] = []

    /// Loads the key: encrypted keys need the passphrase.
    public init(state: SoftCardState, statePath: String?, passphrase: String?, kdf: ScryptParameters = .standard) throws(SoftTokenError) {
        self.state = state
        self.statePath = statePath
        self.passphrase = passphrase
        self.kdf = kdf
        switch state.key {
        case .none: privateKey = nil
        case .plain(let raw):
            do { privateKey = try PrivateKey(bytes: raw) } catch { throw .invalidState("stored key is invalid") }
        case .encrypted(let keystore):
            guard let passphrase else { throw .passphraseRequired }
            do {
                privateKey = try Keystore.decrypt(Array(keystore.compactText.utf8), password: passphrase)
            } catch .wrongPassword {
                throw .wrongPassphrase
            } catch {
                throw .invalidState("stored key: \(error)")
            }
        }
        if !state.insecure && passphrase == nil { throw .passphraseRequired }
    }

    /// Opens a state file (as `paratii softcard run` does).
    public convenience init(path: String, passphrase: String?, kdf: ScryptParameters = .standard) throws(SoftTokenError) {
        try self.init(state: try SoftCardState.load(path: path), statePath: path, passphrase: passphrase, kdf: kdf)
    }

    public var publicKey: PublicKey? { privateKey?.publicKey }

    // MARK: Power

    public func powerOff() { clearVolatile() }
    public func reset() { clearVolatile() }

    private func clearVolatile() {
        selected = false
        pw1VerifiedForSigning = false
        pw1Verified = false
        pw3Verified = false
        pendingResponse = []
        chainINS = nil
        chainData = []
    }

    // MARK: APDU processing

    /// Processes one wire C-APDU and returns the wire R-APDU.
    public func process(_ bytes: [UInt8]) -> [UInt8] {
        guard let command = CommandAPDU(bytes: bytes) else {
            chainINS = nil; chainData = []
            return sw(StatusWord.wrongLength)
        }
        let extended = bytes.count > 5 && bytes[4] == 0x00 && !(bytes.count == 5)
        if command.instruction != .getResponse { pendingResponse = [] }
        guard command.cla & ~0x10 == 0x00 else { return sw(StatusWord.classNotSupported) }

        // Command chaining.
        if command.cla & 0x10 != 0 {
            if let ins = chainINS, ins != command.ins { chainINS = nil; chainData = []; return sw(StatusWord.lastCommandOfChainExpected) }
            chainINS = command.ins
            chainData += command.data
            if chainData.count > Self.maxExtendedLength { chainINS = nil; chainData = []; return sw(StatusWord.wrongLength) }
            return sw(StatusWord.ok)
        }
        var full = command
        if let ins = chainINS {
            chainINS = nil
            if ins != command.ins { chainData = []; return sw(StatusWord.lastCommandOfChainExpected) }
            full.data = chainData + command.data
            chainData = []
        }

        let result: Result
        do {
            result = try dispatch(full)
        } catch let failure as Failure {
            return sw(failure.sw)
        } catch {
            return sw(StatusWord.noPreciseDiagnosis)
        }
        return deliver(result.data, sw: result.sw, le: full.le, extended: extended)
    }

    private struct Result { var data: [UInt8] = []; var sw: UInt16 = StatusWord.ok }
    private struct Failure: Error { let sw: UInt16; init(_ sw: UInt16) { self.sw = sw } }

    private func sw(_ sw: UInt16) -> [UInt8] { [UInt8(sw >> 8), UInt8(sw & 0xFF)] }

    /// Applies Le: 6Cxx when a short Le is too small for a short answer, 61xx (GET RESPONSE) when the
    /// answer is longer than 256 bytes and the terminal did not ask with extended length.
    private func deliver(_ data: [UInt8], sw status: UInt16, le: Int?, extended: Bool) -> [UInt8] {
        if data.isEmpty || status != StatusWord.ok { return data + sw(status) }
        let ne = le ?? (extended ? 65536 : 256)
        if ne >= data.count { return data + sw(status) }
        if data.count <= 256 && ne < 256 && !extended {
            return [StatusWord.sw1WrongLe, UInt8(data.count & 0xFF)]
        }
        let first = Array(data.prefix(ne))
        pendingResponse = Array(data.dropFirst(ne))
        return first + [StatusWord.sw1MoreData, UInt8(min(pendingResponse.count, 256) & 0xFF)]
    }

    private func dispatch(_ c: CommandAPDU) throws -> Result {
        switch c.instruction {
        case .select: return try select(c)
        case .getResponse: return try getResponse(c)
        default: break
        }
        guard selected else { throw Failure(StatusWord.conditionsNotSatisfied) }
        if state.terminated {
            guard c.instruction == .activateFile else { throw Failure(StatusWord.terminated) }
        }
        switch c.instruction {
        case .getData: return try getData(c)
        case .putData: return try putData(c)
        case .verify: return try verify(c)
        case .changeReferenceData: return try changeReferenceData(c)
        case .resetRetryCounter: return try resetRetryCounter(c)
        case .generateAsymmetricKeyPair: return try generateKeyPair(c)
        case .performSecurityOperation: return try performSecurityOperation(c)
        case .getChallenge: return try getChallenge(c)
        case .terminateDF: return try terminate(c)
        case .activateFile: return try activate(c)
        case .putDataOdd: return try importKey(c)
        case .select, .getResponse, nil: throw Failure(StatusWord.instructionNotSupported)
        }
    }

    private func select(_ c: CommandAPDU) throws -> Result {
        guard c.p1 == CardParameter.selectByName else { throw Failure(StatusWord.incorrectP1P2) }
        guard c.data.count >= 5, c.data.count <= 16, Array(aid.prefix(c.data.count)) == c.data else {
            selected = false
            throw Failure(StatusWord.fileNotFound)
        }
        selected = true
        return Result(sw: state.terminated ? StatusWord.terminated : StatusWord.ok)
    }

    private func getResponse(_ c: CommandAPDU) throws -> Result {
        guard c.p1 == 0, c.p2 == 0 else { throw Failure(StatusWord.incorrectP1P2) }
        guard !pendingResponse.isEmpty else { throw Failure(StatusWord.conditionsNotSatisfied) }
        let rest = pendingResponse
        pendingResponse = []
        return Result(data: rest)
    }

    // MARK: Data objects

    var aid: [UInt8] {
        ApplicationIdentifier.rid + [0x03, 0x04, UInt8(state.manufacturer >> 8), UInt8(state.manufacturer & 0xFF)] + state.serial + [
            0x00, 0x00,
        ]
    }

    private var pwStatus: [UInt8] {
        [
            (state.pw1ValidForSeveralSignatures ? SignaturePINPolicy.several : .once).rawValue, 0x7F, 0x7F, 0x7F,
            UInt8(state.pw1TriesLeft), UInt8(state.resettingCode == nil ? 0 : state.resettingCodeTriesLeft), UInt8(state.pw3TriesLeft),
        ]
    }

    private var extendedCapabilities: [UInt8] {
        // GET CHALLENGE, key import, PW status changeable, algorithm attributes changeable; challenge
        // ≤ 255 bytes, no certificates, special DOs ≤ 255 bytes.
        [0x74, 0x00, 0x00, 0xFF, 0x00, 0x00, 0x00, 0xFF, 0x00, 0x00]
    }

    private var keyInformation: [UInt8] {
        // Key status: 00 none, 01 generated on the card, 02 imported.
        [0x01, privateKey == nil ? 0x00 : state.keyImported ? 0x02 : 0x01, 0x02, 0x00, 0x03, 0x00]
    }

    private func applicationRelatedData() -> [UInt8] {
        let discretionary: [UInt8] =
            TLV(tag: 0xC0, value: extendedCapabilities).encoded
            + TLV(tag: 0xC1, value: state.signatureAttributes).encoded
            + TLV(tag: 0xC2, value: Self.rsa2048Attributes).encoded
            + TLV(tag: 0xC3, value: Self.rsa2048Attributes).encoded
            + TLV(tag: 0xC4, value: pwStatus).encoded
            + TLV(tag: 0xC5, value: state.signatureFingerprint + [UInt8](repeating: 0, count: 40)).encoded
            + TLV(tag: 0xC6, value: [UInt8](repeating: 0, count: 60)).encoded
            + TLV(tag: 0xCD, value: state.signatureGenerationTime + [UInt8](repeating: 0, count: 8)).encoded
            + TLV(tag: 0xDE, value: keyInformation).encoded
        let inner =
            TLV(tag: 0x4F, value: aid).encoded
            + TLV(tag: 0x5F52, value: Self.historicalBytes).encoded
            + TLV(tag: 0x7F66, value: extendedLengthInformation).encoded
            + TLV(tag: 0x73, value: discretionary).encoded
        return TLV(tag: 0x6E, value: inner).encoded
    }

    private var extendedLengthInformation: [UInt8] {
        let n = UInt8(Self.maxExtendedLength >> 8)
        return [0x02, 0x02, n, 0x00, 0x02, 0x02, n, 0x00]
    }

    private func getData(_ c: CommandAPDU) throws -> Result {
        guard c.data.isEmpty else { throw Failure(StatusWord.wrongLength) }
        let tag = c.p1p2
        switch tag {
        case DataObject.applicationIdentifier: return Result(data: aid)
        case DataObject.loginData, DataObject.url: return Result(data: [])
        case DataObject.cardholderRelatedData:
            let holder =
                TLV(tag: 0x5B, value: state.cardholderName).encoded
                + TLV(tag: 0x5F2D, value: Array("en".utf8)).encoded + TLV(tag: 0x5F35, value: [0x39]).encoded
            return Result(data: TLV(tag: 0x65, value: holder).encoded)
        case DataObject.applicationRelatedData: return Result(data: applicationRelatedData())
        case DataObject.securitySupportTemplate:
            let counter = UInt32(min(state.signatureCounter, 0xFFFFFF))
            return Result(
                data: TLV(
                    tag: 0x7A,
                    value: TLV(tag: 0x93, value: [UInt8(counter >> 16), UInt8((counter >> 8) & 0xFF), UInt8(counter & 0xFF)]).encoded
                ).encoded)
        case DataObject.pwStatus: return Result(data: pwStatus)
        case DataObject.historicalBytes: return Result(data: Self.historicalBytes)
        case DataObject.extendedLengthInformation: return Result(data: extendedLengthInformation)
        case DataObject.extendedCapabilities: return Result(data: extendedCapabilities)
        case DataObject.signatureAlgorithm: return Result(data: state.signatureAttributes)
        case DataObject.fingerprints: return Result(data: state.signatureFingerprint + [UInt8](repeating: 0, count: 40))
        case DataObject.keyInformation: return Result(data: keyInformation)
        default: throw Failure(StatusWord.referencedDataNotFound)
        }
    }

    private func putData(_ c: CommandAPDU) throws -> Result {
        let tag = c.p1p2
        guard pw3Verified else { throw Failure(StatusWord.securityStatusNotSatisfied) }
        var next = state
        switch tag {
        case DataObject.signatureAlgorithm:
            let attrs = AlgorithmAttributes(bytes: c.data)
            guard attrs.isSecp256k1 else { throw Failure(StatusWord.incorrectData) }
            if c.data != next.signatureAttributes {
                next.signatureAttributes = c.data
                next.key = nil
                next.keyImported = false
                next.signatureFingerprint = [UInt8](repeating: 0, count: 20)
                next.signatureGenerationTime = [0, 0, 0, 0]
            }
        case DataObject.pwStatus:
            // Only byte 1 (PW1 valid for one or several signatures) is writable here.
            guard c.data.count == 1 else { throw Failure(StatusWord.wrongLength) }
            guard let policy = SignaturePINPolicy(rawValue: c.data[0]) else { throw Failure(StatusWord.incorrectData) }
            next.pw1ValidForSeveralSignatures = policy == .several
        case DataObject.signatureFingerprint:
            guard c.data.count == 20 else { throw Failure(StatusWord.wrongLength) }
            next.signatureFingerprint = c.data
        case DataObject.signatureGenerationTime:
            guard c.data.count == 4 else { throw Failure(StatusWord.wrongLength) }
            next.signatureGenerationTime = c.data
        case DataObject.resettingCode:
            if c.data.isEmpty {
                next.resettingCode = nil
                next.resettingCodeTriesLeft = 0
            } else {
                guard c.data.count >= 8, c.data.count <= 127 else { throw Failure(StatusWord.incorrectData) }
                next.resettingCode = .init(pin: c.data)
                next.resettingCodeTriesLeft = SoftCardState.maxTries
            }
        case DataObject.name:
            guard c.data.count <= 39 else { throw Failure(StatusWord.wrongLength) }
            next.cardholderName = c.data
        default:
            throw Failure(StatusWord.referencedDataNotFound)
        }
        try commit(next)
        if tag == DataObject.signatureAlgorithm && next.key == nil { privateKey = nil }
        return Result()
    }

    // MARK: PINs

    private func triesLeft(_ reference: UInt8) -> Int {
        reference == 0x83 ? state.pw3TriesLeft : state.pw1TriesLeft
    }

    /// Decrements the counter and persists before comparing; restores it on a match.
    private func check(_ pin: [UInt8], reference: UInt8) throws {
        let tries = triesLeft(reference)
        guard tries > 0 else { throw Failure(StatusWord.authenticationBlocked) }
        var next = state
        if reference == 0x83 { next.pw3TriesLeft -= 1 } else { next.pw1TriesLeft -= 1 }
        try commit(next)
        let stored = reference == 0x83 ? state.pw3 : state.pw1
        let minimum = reference == 0x83 ? 8 : 6
        guard pin.count >= minimum, pin.count <= 127, stored.matches(pin) else {
            let left = triesLeft(reference)
            throw Failure(left == 0 ? StatusWord.authenticationBlocked : StatusWord.wrongPIN(triesLeft: left))
        }
        next = state
        if reference == 0x83 { next.pw3TriesLeft = SoftCardState.maxTries } else { next.pw1TriesLeft = SoftCardState.maxTries }
        try commit(next)
    }

    private func setVerified(_ reference: UInt8, _ value: Bool) {
        switch reference {
        case 0x81: pw1VerifiedForSigning = value
        case 0x82: pw1Verified = value
        default: pw3Verified = value
        }
    }

    private func isVerified(_ reference: UInt8) -> Bool {
        switch reference {
        case 0x81: pw1VerifiedForSigning
        case 0x82: pw1Verified
        default: pw3Verified
        }
    }

    private func verify(_ c: CommandAPDU) throws -> Result {
        guard [0x81, 0x82, 0x83].contains(c.p2) else { throw Failure(StatusWord.incorrectP1P2) }
        if c.p1 == CardParameter.verifyResetAccess {
            // Reset the access status (spec 3.4 §7.2.2): the PIN is no longer verified.
            guard c.data.isEmpty else { throw Failure(StatusWord.wrongLength) }
            setVerified(c.p2, false)
            return Result()
        }
        guard c.p1 == CardParameter.verifyPresent else { throw Failure(StatusWord.incorrectP1P2) }
        if c.data.isEmpty {
            // Status query: no try spent.
            if isVerified(c.p2) { return Result() }
            let tries = triesLeft(c.p2)
            throw Failure(tries == 0 ? StatusWord.authenticationBlocked : StatusWord.wrongPIN(triesLeft: tries))
        }
        setVerified(c.p2, false)
        try check(c.data, reference: c.p2)
        setVerified(c.p2, true)
        return Result()
    }

    private func changeReferenceData(_ c: CommandAPDU) throws -> Result {
        guard c.p1 == 0x00 else { throw Failure(StatusWord.incorrectP1P2) }
        guard c.p2 == 0x81 || c.p2 == 0x83 else { throw Failure(StatusWord.incorrectP1P2) }
        let stored = c.p2 == 0x83 ? state.pw3 : state.pw1
        guard triesLeft(c.p2) > 0 else { throw Failure(StatusWord.authenticationBlocked) }
        guard c.data.count > stored.length else {
            try check(c.data, reference: c.p2)  // a wrong-length old PIN still costs a try
            throw Failure(StatusWord.incorrectData)
        }
        let old = Array(c.data.prefix(stored.length))
        let new = Array(c.data.dropFirst(stored.length))
        try check(old, reference: c.p2)
        let minimum = c.p2 == 0x83 ? 8 : 6
        guard new.count >= minimum, new.count <= 127 else { throw Failure(StatusWord.incorrectData) }
        var next = state
        if c.p2 == 0x83 {
            next.pw3 = .init(pin: new); pw3Verified = false
        } else {
            next.pw1 = .init(pin: new); pw1Verified = false; pw1VerifiedForSigning = false
        }
        try commit(next)
        return Result()
    }

    private func resetRetryCounter(_ c: CommandAPDU) throws -> Result {
        guard c.p2 == 0x81 else { throw Failure(StatusWord.incorrectP1P2) }
        var next = state
        switch c.p1 {
        case CardParameter.resetWithResettingCode:
            guard let rc = state.resettingCode else { throw Failure(StatusWord.securityStatusNotSatisfied) }
            guard state.resettingCodeTriesLeft > 0 else { throw Failure(StatusWord.authenticationBlocked) }
            guard c.data.count > rc.length else { throw Failure(StatusWord.incorrectData) }
            next.resettingCodeTriesLeft -= 1
            try commit(next)
            guard rc.matches(Array(c.data.prefix(rc.length))) else {
                let left = state.resettingCodeTriesLeft
                throw Failure(left == 0 ? StatusWord.authenticationBlocked : StatusWord.wrongPIN(triesLeft: left))
            }
            next = state
            next.resettingCodeTriesLeft = SoftCardState.maxTries
            let new = Array(c.data.dropFirst(rc.length))
            guard new.count >= 6, new.count <= 127 else { try commit(next); throw Failure(StatusWord.incorrectData) }
            next.pw1 = .init(pin: new)
        case CardParameter.resetAfterAdmin:
            guard pw3Verified else { throw Failure(StatusWord.securityStatusNotSatisfied) }
            guard c.data.count >= 6, c.data.count <= 127 else { throw Failure(StatusWord.incorrectData) }
            next.pw1 = .init(pin: c.data)
        default:
            throw Failure(StatusWord.incorrectP1P2)
        }
        next.pw1TriesLeft = SoftCardState.maxTries
        try commit(next)
        return Result()
    }

    // MARK: Keys and signatures

    private func generateKeyPair(_ c: CommandAPDU) throws -> Result {
        guard c.p2 == 0x00 else { throw Failure(StatusWord.wrongP1P2) }
        guard c.data.count == 2 || c.data.count == 5, c.data[1] == 0x00 || c.data.count == 5 else { throw Failure(StatusWord.wrongLength) }
        let crt = c.data[0]
        guard [0xB6, 0xB8, 0xA4].contains(crt) else { throw Failure(StatusWord.incorrectData) }
        switch c.p1 {
        case CardParameter.readPublicKey:
            guard crt == 0xB6, let key = privateKey else { throw Failure(StatusWord.referencedDataNotFound) }
            return Result(data: Self.publicKeyTemplate(key.publicKey))
        case CardParameter.generateKey:
            guard pw3Verified else { throw Failure(StatusWord.securityStatusNotSatisfied) }
            guard crt == 0xB6 else { throw Failure(StatusWord.incorrectData) }
            let key = PrivateKey.generate()
            try install(key, imported: false)
            return Result(data: Self.publicKeyTemplate(key.publicKey))
        default:
            throw Failure(StatusWord.wrongP1P2)
        }
    }

    /// PUT DATA odd (DB 3FFF): imports the signature key from an extended header list, under PW3, into
    /// a slot set to secp256k1. A public point sent along must be the private key's own (6A80 if not).
    private func importKey(_ c: CommandAPDU) throws -> Result {
        guard c.p1 == CardParameter.extendedHeaderListP1, c.p2 == CardParameter.extendedHeaderListP2 else {
            throw Failure(StatusWord.incorrectP1P2)
        }
        guard pw3Verified else { throw Failure(StatusWord.securityStatusNotSatisfied) }
        guard AlgorithmAttributes(bytes: state.signatureAttributes).isSecp256k1 else { throw Failure(StatusWord.conditionsNotSatisfied) }
        var parts: KeyImport.Parts
        do { parts = try KeyImport.parse(c.data) } catch { throw Failure(StatusWord.incorrectData) }
        defer { secureZero(&parts.privateKey) }
        let key: PrivateKey
        do { key = try PrivateKey(bytes: parts.privateKey) } catch { throw Failure(StatusWord.incorrectData) }
        if let point = parts.publicKey, point != key.publicKey.uncompressed { throw Failure(StatusWord.incorrectData) }
        try install(key, imported: true)
        return Result()
    }

    /// Stores a new signature key (encrypted under the state passphrase unless the card is a throwaway
    /// insecure one), with a fresh counter and no fingerprint yet (the driver writes C7/CE next).
    private func install(_ key: PrivateKey, imported: Bool) throws {
        var next = state
        if let passphrase, !state.insecure {
            do { next.key = .encrypted(try Keystore.encrypt(key, password: passphrase, kdf: kdf)) } catch {
                throw Failure(StatusWord.memoryFailure)
            }
        } else {
            next.key = .plain(key.withUnsafeSecret { Array($0) })
        }
        next.keyImported = imported
        next.signatureCounter = 0
        next.signatureFingerprint = [UInt8](repeating: 0, count: 20)
        next.signatureGenerationTime = [0, 0, 0, 0]
        try commit(next)
        privateKey = key
        pw1VerifiedForSigning = false
    }

    static func publicKeyTemplate(_ key: PublicKey) -> [UInt8] {
        TLV(tag: 0x7F49, value: TLV(tag: 0x86, value: key.uncompressed).encoded).encoded
    }

    private func performSecurityOperation(_ c: CommandAPDU) throws -> Result {
        guard c.p1 == CardParameter.psoCDSP1, c.p2 == CardParameter.psoCDSP2 else { throw Failure(StatusWord.incorrectP1P2) }
        guard pw1VerifiedForSigning else { throw Failure(StatusWord.securityStatusNotSatisfied) }
        guard let key = privateKey else { throw Failure(StatusWord.referencedDataNotFound) }
        guard c.data.count == 32 else { throw Failure(StatusWord.wrongLength) }
        let signature: Signature
        do { signature = try key.sign(digest: c.data) } catch { throw Failure(StatusWord.noPreciseDiagnosis) }
        var next = state
        next.signatureCounter = min(state.signatureCounter + 1, 0xFFFFFF)
        try commit(next)
        // C4 byte 1 = 00: the verification is spent on this signature; 01: it stays until reset.
        if !state.pw1ValidForSeveralSignatures { pw1VerifiedForSigning = false }
        var s = signature.s
        if returnHighSHalfTheTime && Bool.random() { s = Self.negateModN(s) }
        return Result(data: signature.r + s)
    }

    /// n − s for secp256k1's group order n (turns a low-s signature into its high-s twin).
    static func negateModN(_ s: [UInt8]) -> [UInt8] {
        let n: [UInt8] = [
            0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFE,
            0xBA, 0xAE, 0xDC, 0xE6, 0xAF, 0x48, 0xA0, 0x3B, 0xBF, 0xD2, 0x5E, 0x8C, 0xD0, 0x36, 0x41, 0x41,
        ]
        var out = [UInt8](repeating: 0, count: 32)
        var borrow = 0
        for i in stride(from: 31, through: 0, by: -1) {
            var d = Int(n[i]) - Int(s[i]) - borrow
            borrow = d < 0 ? 1 : 0
            if d < 0 { d += 256 }
            out[i] = UInt8(d)
        }
        return out
    }

    private func getChallenge(_ c: CommandAPDU) throws -> Result {
        guard c.p1 == 0, c.p2 == 0 else { throw Failure(StatusWord.incorrectP1P2) }
        guard let n = c.le, n <= 255 else { throw Failure(StatusWord.wrongLength) }
        var rng = SystemRandomNumberGenerator()
        return Result(data: (0..<n).map { _ in rng.next() })
    }

    // MARK: Life cycle

    private func terminate(_ c: CommandAPDU) throws -> Result {
        guard c.p1 == 0, c.p2 == 0 else { throw Failure(StatusWord.incorrectP1P2) }
        guard pw3Verified || state.pw3TriesLeft == 0 else { throw Failure(StatusWord.securityStatusNotSatisfied) }
        var next = state
        next.terminated = true
        try commit(next)
        privateKey = nil
        clearVolatile()
        selected = true
        return Result()
    }

    private func activate(_ c: CommandAPDU) throws -> Result {
        guard c.p1 == 0, c.p2 == 0 else { throw Failure(StatusWord.incorrectP1P2) }
        guard state.terminated else { return Result() }
        var next = state
        next.factoryReset()
        try commit(next)
        privateKey = nil
        clearVolatile()
        selected = true
        return Result()
    }

    /// Persists the next state before it takes effect; a failed write leaves the card unchanged (6581).
    private func commit(_ next: SoftCardState) throws {
        if let statePath {
            do { try next.save(path: statePath) } catch { throw Failure(StatusWord.memoryFailure) }
        }
        state = next
    }
}
