/// The protocol's numbers, named once for the driver and the software token (as geth's scwallet names
/// `insSelect`, `sw1Ok`): a typo in one place cannot make the two sides agree on a wrong byte.

/// Instruction bytes (INS) of the OpenPGP card application 3.4 that this project sends or answers.
public enum Instruction: UInt8, Sendable, CaseIterable {
    case select = 0xA4
    case getData = 0xCA
    case putData = 0xDA
    case putDataOdd = 0xDB
    case verify = 0x20
    case changeReferenceData = 0x24
    case resetRetryCounter = 0x2C
    case generateAsymmetricKeyPair = 0x47
    case performSecurityOperation = 0x2A
    case getResponse = 0xC0
    case getChallenge = 0x84
    case terminateDF = 0xE6
    case activateFile = 0x44
}

/// P1/P2 values with a meaning of their own.
public enum CardParameter {
    /// SELECT by DF name (the AID).
    public static let selectByName: UInt8 = 0x04
    /// VERIFY P1: present a PIN (00) or reset the access status of P2's PIN (FF; spec 3.4 §7.2.2).
    public static let verifyPresent: UInt8 = 0x00
    public static let verifyResetAccess: UInt8 = 0xFF
    /// RESET RETRY COUNTER P1: with the resetting code (00) or after VERIFY PW3 (02).
    public static let resetWithResettingCode: UInt8 = 0x00
    public static let resetAfterAdmin: UInt8 = 0x02
    /// GENERATE ASYMMETRIC KEY PAIR P1: generate (80) or read the public part (81).
    public static let generateKey: UInt8 = 0x80
    public static let readPublicKey: UInt8 = 0x81
    /// PSO:COMPUTE DIGITAL SIGNATURE is PSO with P1P2 9E 9A.
    public static let psoCDSP1: UInt8 = 0x9E
    public static let psoCDSP2: UInt8 = 0x9A
    /// Control reference template of the signature key (GENERATE ASYMMETRIC KEY PAIR's data).
    public static let signatureKeyCRT: [UInt8] = [0xB6, 0x00]
    /// PUT DATA (odd INS DB) P1P2 3FFF: the data is an extended header list (key import, spec 3.4 §4.4.3.12).
    public static let extendedHeaderListP1: UInt8 = 0x3F
    public static let extendedHeaderListP2: UInt8 = 0xFF
    /// Extended capabilities (DO C0) byte 1, bit 6: the card imports private keys.
    public static let keyImportCapability: UInt8 = 0x20
}

/// Tags of the extended header list that imports a private key (spec 3.4 §4.4.3.12): 4D { CRT,
/// 7F48 { tag‖length of each key part }, 5F48 { the parts' values, concatenated } }. For ECDSA the
/// parts are 92 (the private key) and, optionally, 99 (the public key, 04‖X‖Y).
public enum KeyImportTag {
    public static let extendedHeaderList: UInt32 = 0x4D
    public static let privateKeyTemplate: UInt32 = 0x7F48
    public static let concatenatedKeyData: UInt32 = 0x5F48
    public static let ecPrivateKey: UInt8 = 0x92
    public static let ecPublicKey: UInt8 = 0x99
}

/// Data objects (P1P2 of GET DATA / PUT DATA) used here.
public enum DataObject {
    public static let applicationIdentifier: UInt16 = 0x004F
    public static let loginData: UInt16 = 0x005E
    public static let name: UInt16 = 0x005B
    public static let cardholderRelatedData: UInt16 = 0x0065
    public static let applicationRelatedData: UInt16 = 0x006E
    public static let securitySupportTemplate: UInt16 = 0x007A
    public static let extendedCapabilities: UInt16 = 0x00C0
    public static let signatureAlgorithm: UInt16 = 0x00C1
    public static let pwStatus: UInt16 = 0x00C4
    public static let fingerprints: UInt16 = 0x00C5
    public static let signatureFingerprint: UInt16 = 0x00C7
    public static let signatureGenerationTime: UInt16 = 0x00CE
    public static let resettingCode: UInt16 = 0x00D3
    public static let keyInformation: UInt16 = 0x00DE
    public static let url: UInt16 = 0x5F50
    public static let historicalBytes: UInt16 = 0x5F52
    public static let extendedLengthInformation: UInt16 = 0x7F66
}

/// ISO 7816-4 / OpenPGP card status words, and what the driver makes of them.
public enum StatusWord {
    public static let ok: UInt16 = 0x9000
    /// SELECT of an application in termination state (after TERMINATE DF).
    public static let terminated: UInt16 = 0x6285
    public static let memoryFailure: UInt16 = 0x6581
    public static let wrongLength: UInt16 = 0x6700
    public static let lastCommandOfChainExpected: UInt16 = 0x6883
    public static let securityStatusNotSatisfied: UInt16 = 0x6982
    public static let authenticationBlocked: UInt16 = 0x6983
    public static let conditionsNotSatisfied: UInt16 = 0x6985
    public static let incorrectData: UInt16 = 0x6A80
    public static let functionNotSupported: UInt16 = 0x6A81
    public static let fileNotFound: UInt16 = 0x6A82
    public static let incorrectP1P2: UInt16 = 0x6A86
    public static let referencedDataNotFound: UInt16 = 0x6A88
    public static let wrongP1P2: UInt16 = 0x6B00
    public static let instructionNotSupported: UInt16 = 0x6D00
    public static let classNotSupported: UInt16 = 0x6E00
    public static let noPreciseDiagnosis: UInt16 = 0x6F00
    /// 63Cx: verification failed, x tries left (63C0: none left).
    public static func wrongPIN(triesLeft: Int) -> UInt16 { 0x63C0 | UInt16(triesLeft & 0x0F) }
    public static let wrongPINRange: ClosedRange<UInt16> = 0x63C0...0x63CF
    /// SW1 61: xx more bytes wait for GET RESPONSE. SW1 6C: wrong Le, xx is the exact length.
    public static let sw1MoreData: UInt8 = 0x61
    public static let sw1WrongLe: UInt8 = 0x6C

    public static func check(_ response: ResponseAPDU) throws(OpenPGPCardError) {
        if response.sw == ok { return }
        throw error(for: response.sw)
    }

    public static func error(for sw: UInt16) -> OpenPGPCardError {
        switch sw {
        case 0x63C1...0x63CF: .wrongPIN(triesLeft: Int(sw & 0x0F))
        case wrongPIN(triesLeft: 0), authenticationBlocked: .pinBlocked
        case securityStatusNotSatisfied: .securityStatusNotSatisfied
        default: .unexpectedStatus(sw)
        }
    }

    /// One-line meaning of a status word, for transcripts and diagnostics.
    public static func describe(_ sw: UInt16) -> String {
        switch sw {
        case ok: "OK"
        case terminated: "selected file in termination state"
        case memoryFailure: "memory failure"
        case wrongLength: "wrong length"
        case lastCommandOfChainExpected: "last command of the chain expected"
        case securityStatusNotSatisfied: "security status not satisfied"
        case authenticationBlocked: "authentication method blocked"
        case conditionsNotSatisfied: "conditions of use not satisfied"
        case incorrectData: "incorrect data"
        case functionNotSupported: "function not supported"
        case fileNotFound: "file or application not found"
        case incorrectP1P2: "incorrect P1/P2"
        case referencedDataNotFound: "referenced data not found"
        case wrongP1P2: "wrong parameters P1/P2"
        case instructionNotSupported: "instruction not supported"
        case classNotSupported: "class not supported"
        case wrongPINRange: "wrong PIN, \(sw & 0x0F) tries left"
        case 0x6100...0x61FF: "\(sw & 0xFF == 0 ? 256 : Int(sw & 0xFF)) more bytes available (GET RESPONSE)"
        case 0x6C00...0x6CFF: "wrong Le, exact length \(sw & 0xFF)"
        default: "status \(String(format4: sw))"
        }
    }
}

extension CommandAPDU {
    public init(cla: UInt8 = 0x00, _ instruction: Instruction, p1: UInt8, p2: UInt8, data: [UInt8] = [], le: Int? = nil) {
        self.init(cla: cla, ins: instruction.rawValue, p1: p1, p2: p2, data: data, le: le)
    }

    /// GET DATA / PUT DATA of a data object: P1P2 is its tag.
    public init(_ instruction: Instruction, object tag: UInt16, data: [UInt8] = [], le: Int? = nil) {
        self.init(cla: 0x00, ins: instruction.rawValue, p1: UInt8(tag >> 8), p2: UInt8(tag & 0xFF), data: data, le: le)
    }

    public var instruction: Instruction? { Instruction(rawValue: ins) }
    /// P1P2 as one number (the data object's tag for GET/PUT DATA).
    public var p1p2: UInt16 { UInt16(p1) << 8 | UInt16(p2) }
}
