import Delegation
import Ethereum
import Foundation

/// Everything the CLI shows may quote strings an attacker chose (JSON keys, vote reasons, holder
/// names, memo text): they reach the terminal only through `TerminalText`.
enum TerminalOutput {
    /// A line for stderr: "note: …", "refused: …", an error.
    static func warn(_ text: String) {
        FileHandle.standardError.write(Data((TerminalText.escape(text) + "\n").utf8))
    }

    /// A document (JSON, CSV) with every character a terminal would act on written as a `\uXXXX`
    /// escape, line breaks and tabs kept. In JSON that is the same value, so tools reading it see no
    /// difference: the writer escapes C0 inside strings, so a raw line break or tab is layout, and
    /// this adds DEL, C1 (a raw U+009B is a CSI) and the bidi controls.
    static func document(_ text: String) -> String {
        var out = ""
        out.reserveCapacity(text.utf8.count)
        for scalar in text.unicodeScalars {
            if scalar != "\n" && scalar != "\t" && TerminalText.isUnsafe(scalar) {
                // Every unsafe scalar is in the BMP, so one \u escape each.
                let hex = String(scalar.value, radix: 16)
                out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
            } else {
                out.unicodeScalars.append(scalar)
            }
        }
        return out
    }
}

extension JSONValue {
    /// `compactText`, safe to print on a terminal.
    var terminalCompactText: String { TerminalOutput.document(compactText) }
    /// `prettyText`, safe to print on a terminal.
    var terminalPrettyText: String { TerminalOutput.document(prettyText) }
}
