import Testing

@testable import Delegation

/// The one escaping function for outside strings shown on a terminal.
@Suite struct TerminalTextTests {
    /// Every scalar a terminal acts on, or that reorders what is shown.
    static let hostile = [
        "\u{1B}[2K\r rating 5",  // ESC CSI erase line, carriage return: a flag vote passing for a rating
        "\u{1B}]0;owned\u{07}",  // OSC set title, ended by BEL
        "\u{9B}31m red",  // C1 CSI
        "\u{9D}8;;http://x\u{9C}",  // C1 OSC hyperlink, C1 ST
        "evil\u{202E}gnp.exe",  // right-to-left override
        "\u{2066}isolated\u{2069}",  // isolates
        "back\u{08}\u{7F}space",  // backspace, DEL
        "line\u{2028}separator",
    ]

    @Test func controlsBecomeVisibleEscapes() {
        for text in Self.hostile {
            let shown = TerminalText.escape(text)
            #expect(!shown.unicodeScalars.contains(where: TerminalText.isUnsafe), "\(shown.debugDescription)")
            #expect(shown.contains("\\u{"))
        }
        #expect(TerminalText.escape("\u{1B}[2K\r rating 5") == "\\u{1B}[2K\\u{D} rating 5")
        #expect(TerminalText.escape("evil\u{202E}gnp") == "evil\\u{202E}gnp")
        #expect(TerminalText.escape("\u{9B}1m") == "\\u{9B}1m")
    }

    @Test func plainTextIsUnchangedAndBackslashesCannotForgeAnEscape() {
        #expect(TerminalText.escape("great ✓ — Ada Lovelace, 日本") == "great ✓ — Ada Lovelace, 日本")
        // A literal "\u{1B}" typed by an attacker must not read like an escape we wrote.
        #expect(TerminalText.escape("\\u{1B}") == "\\\\u{1B}")
        #expect(TerminalText.escape("\u{1B}") != TerminalText.escape("\\u{1B}"))
    }
}
