/// Human-readable, PIN-free renderings of APDUs for transcripts and the `PARATII_APDU_LOG` trace.
public enum APDUDescription {
    /// True when the command's data is a secret: a PIN or code (VERIFY, CHANGE REFERENCE DATA, RESET
    /// RETRY COUNTER, PUT DATA of the resetting code D3 or of the KDF-DO F9 with its PIN hashes), or key
    /// material (PUT DATA odd, the key import). Chained pieces carry the same INS and P1P2, so each is
    /// recognised on its own.
    public static func carriesSecret(_ command: CommandAPDU) -> Bool {
        guard !command.data.isEmpty, let instruction = command.instruction else { return false }
        switch instruction {
        case .verify, .changeReferenceData, .resetRetryCounter, .putDataOdd: return true
        case .putData: return secretObjects.contains(command.p1p2)
        default: return false
        }
    }

    /// Data objects whose PUT DATA carries a secret: the resetting code (D3) and the KDF-DO (F9).
    static let secretObjects: Set<UInt16> = [DataObject.resettingCode, 0x00F9]

    /// The command's wire bytes with secret data (see `carriesSecret`) replaced by `**`: a trace never
    /// holds a PIN.
    public static func redactedHex(_ command: CommandAPDU) -> String {
        let wire = command.encoded()
        guard carriesSecret(command) else { return hex(wire) }
        let headerCount = command.needsExtendedLength ? 7 : 5
        let header = wire.prefix(headerCount).map { String(format2: $0) }
        let masked = Array(repeating: "**", count: command.data.count)
        let tail = wire.dropFirst(headerCount + command.data.count).map { String(format2: $0) }
        return (header + masked + tail).joined(separator: " ")
    }

    public static func hex(_ bytes: some Collection<UInt8>) -> String {
        bytes.map { String(format2: $0) }.joined(separator: " ")
    }

    /// One line saying what a command does.
    public static func describe(_ c: CommandAPDU) -> String {
        let chained = c.cla & 0x10 != 0 ? " (chained, more follows)" : ""
        let p1p2 = c.p1p2
        let what: String
        switch c.instruction {
        case .select: what = c.data == ApplicationIdentifier.rid ? "SELECT the OpenPGP application by AID D2 76 00 01 24 01" : "SELECT"
        case .getData: what = "GET DATA \(doName(p1p2))"
        case .putData: what = "PUT DATA \(doName(p1p2))\(carriesSecret(c) ? ", \(c.data.count) secret bytes masked" : "")"
        case .putDataOdd: what = "PUT DATA (odd, key import), \(c.data.count) bytes masked"
        case .verify:
            let who =
                c.p2 == 0x81
                ? "PW1 for signing (81)"
                : c.p2 == 0x82 ? "PW1 (82)" : c.p2 == 0x83 ? "PW3 admin PIN (83)" : "reference \(String(format2: c.p2))"
            if c.p1 == CardParameter.verifyResetAccess {
                what = "VERIFY P1=FF: reset the access status of \(who)"
            } else {
                what = c.data.isEmpty ? "VERIFY status of \(who)" : "VERIFY \(who), \(c.data.count) PIN bytes masked"
            }
        case .changeReferenceData: what = "CHANGE REFERENCE DATA \(c.p2 == 0x83 ? "PW3" : "PW1"), old‖new PIN masked"
        case .resetRetryCounter:
            what =
                c.p1 == CardParameter.resetAfterAdmin
                ? "RESET RETRY COUNTER of PW1 after PW3 (new PIN masked)" : "RESET RETRY COUNTER of PW1 with the resetting code (masked)"
        case .generateAsymmetricKeyPair:
            let crt = c.data.first.map { $0 == 0xB6 ? "signature key" : $0 == 0xB8 ? "decryption key" : "authentication key" } ?? "key"
            what =
                c.p1 == CardParameter.generateKey
                ? "GENERATE ASYMMETRIC KEY PAIR: generate the \(crt) on the card"
                : "GENERATE ASYMMETRIC KEY PAIR (read): public part of the \(crt)"
        case .performSecurityOperation:
            what =
                p1p2 == 0x9E9A
                ? "PSO: COMPUTE DIGITAL SIGNATURE over a \(c.data.count)-byte digest"
                : "PERFORM SECURITY OPERATION \(String(format4: p1p2))"
        case .getResponse: what = "GET RESPONSE"
        case .terminateDF: what = "TERMINATE DF (factory reset, step 1)"
        case .activateFile: what = "ACTIVATE FILE (factory reset, step 2)"
        case .getChallenge: what = "GET CHALLENGE"
        case nil: what = "INS \(String(format2: c.ins))"
        }
        return what + chained
    }

    static func doName(_ tag: UInt16) -> String {
        let name: String
        switch tag {
        case 0x004F: name = "application identifier"
        case 0x005E: name = "login data"
        case 0x0065: name = "cardholder related data"
        case 0x006E: name = "application related data"
        case 0x007A: name = "security support template (signature counter)"
        case 0x00C1: name = "algorithm attributes, signature key"
        case 0x00C4: name = "PW status bytes"
        case 0x00C7: name = "fingerprint, signature key"
        case 0x00CE: name = "generation time, signature key"
        case 0x00D3: name = "resetting code"
        case 0x00F9: name = "KDF-DO"
        case 0x0101...0x0104: name = "private use DO"
        case 0x5F50: name = "URL"
        case 0x5F52: name = "historical bytes"
        case 0x7F21: name = "cardholder certificate"
        case 0x7F66: name = "extended length information"
        case 0x7F74: name = "general feature management"
        default: name = "DO"
        }
        return "\(name) (\(String(format4: tag)))"
    }
}
