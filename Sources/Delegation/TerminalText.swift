/// The one way an outside string reaches a terminal: JSON keys, vote reasons, holder names, player
/// names and anything else an attacker may have chosen. Control characters (C0, DEL, C1: ESC, CSI,
/// OSC, BEL, CR, backspace) and the bidirectional overrides and isolates that reorder what is shown
/// are written as visible `\u{…}` escapes, so signed text displays as what was signed.
public enum TerminalText {
    public static func escape(_ text: String) -> String {
        var out = ""
        out.reserveCapacity(text.utf8.count)
        for scalar in text.unicodeScalars {
            if isUnsafe(scalar) {
                out += "\\u{" + String(scalar.value, radix: 16, uppercase: true) + "}"
            } else if scalar == "\\" {
                // Escaped too, so a literal "\u{1B}" in the input cannot pass for an escape we wrote.
                out += "\\\\"
            } else {
                out.unicodeScalars.append(scalar)
            }
        }
        return out
    }

    public static func isUnsafe(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar.value {
        case 0x00...0x1F, 0x7F...0x9F: true  // C0, DEL, C1 (CSI 9B, OSC 9D, ST 9C)
        case 0x061C, 0x200E, 0x200F: true  // Arabic letter mark, LRM, RLM
        case 0x202A...0x202E, 0x2066...0x2069: true  // embeddings, overrides, isolates
        case 0x2028, 0x2029: true  // line and paragraph separators
        default: false
        }
    }
}
