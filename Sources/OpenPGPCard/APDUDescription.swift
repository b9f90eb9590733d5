/// Human-readable, PIN-free renderings of APDUs for transcripts and the `PARATII_APDU_LOG` trace.
public enum APDUDescription {
    /// The command's wire bytes with PIN-bearing data (VERIFY, CHANGE REFERENCE DATA, RESET RETRY
    /// COUNTER) replaced by `**`: a trace never holds a PIN.
    public static func redactedHex(_ command: CommandAPDU) -> String {
        let wire = command.encoded()
        let secret = [0x20, 0x24, 0x2C].contains(command.ins) && !command.data.isEmpty
        guard secret else { return hex(wire) }
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
        let p1p2 = UInt16(c.p1) << 8 | UInt16(c.p2)
        let what: String
        switch c.ins {
        case 0xA4: what = c.data == ApplicationIdentifier.rid ? "SELECT the OpenPGP application by AID D2 76 00 01 24 01" : "SELECT"
        case 0xCA: what = "GET DATA \(doName(p1p2))"
        case 0xDA: what = "PUT DATA \(doName(p1p2))"
        case 0xDB: what = "PUT DATA (odd)"
        case 0x20:
            let who = c.p2 == 0x81 ? "PW1 for signing (81)" : c.p2 == 0x82 ? "PW1 (82)" : c.p2 == 0x83 ? "PW3 admin PIN (83)" : "reference \(String(format2: c.p2))"
            what = c.data.isEmpty ? "VERIFY status of \(who)" : "VERIFY \(who), \(c.data.count) PIN bytes masked"
        case 0x24: what = "CHANGE REFERENCE DATA \(c.p2 == 0x83 ? "PW3" : "PW1"), old‖new PIN masked"
        case 0x2C: what = c.p1 == 0x02 ? "RESET RETRY COUNTER of PW1 after PW3 (new PIN masked)" : "RESET RETRY COUNTER of PW1 with the resetting code (masked)"
        case 0x47:
            let crt = c.data.first.map { $0 == 0xB6 ? "signature key" : $0 == 0xB8 ? "decryption key" : "authentication key" } ?? "key"
            what = c.p1 == 0x80 ? "GENERATE ASYMMETRIC KEY PAIR: generate the \(crt) on the card" : "GENERATE ASYMMETRIC KEY PAIR (read): public part of the \(crt)"
        case 0x2A:
            what = p1p2 == 0x9E9A ? "PSO: COMPUTE DIGITAL SIGNATURE over a \(c.data.count)-byte digest" : "PERFORM SECURITY OPERATION \(String(format4: p1p2))"
        case 0xC0: what = "GET RESPONSE"
        case 0xE6: what = "TERMINATE DF (factory reset, step 1)"
        case 0x44: what = "ACTIVATE FILE (factory reset, step 2)"
        case 0x84: what = "GET CHALLENGE"
        default: what = "INS \(String(format2: c.ins))"
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
