import ArgumentParser
import Delegation
import Ethereum
import Foundation
import Storage

/// `--config FILE`: chain id, verifying contract and PTI token (default `$XDG_CONFIG_HOME/paratii/config.json`).
struct ConfigOption: ParsableArguments {
    @Option(help: "Configuration file (chainId, verifyingContract, ptiToken).")
    var config: String?

    func load() throws -> Configuration { try Configuration.load(config) }
}

enum TimeText {
    /// Unix seconds, or an ISO 8601 date (`2026-12-31`, taken as midnight UTC) or date-time.
    static func parse(_ text: String) throws -> UInt64 {
        if let seconds = UInt64(text) { return seconds }
        let full = ISO8601DateFormatter()
        if let date = full.date(from: text) { return UInt64(max(0, date.timeIntervalSince1970)) }
        let day = ISO8601DateFormatter()
        day.formatOptions = [.withFullDate]
        if let date = day.date(from: text) { return UInt64(max(0, date.timeIntervalSince1970)) }
        throw CLIError("not a time: \(text) (unix seconds, 2026-12-31 or 2026-12-31T12:00:00Z)")
    }

    static func format(_ seconds: UInt64) -> String {
        let formatter = ISO8601DateFormatter()
        return formatter.string(from: Date(timeIntervalSince1970: TimeInterval(min(seconds, 253_402_300_799))))
    }

    static var now: UInt64 { UInt64(Date().timeIntervalSince1970) }
}

/// Writes a result to `--out FILE` (atomically) or to stdout.
enum CLIOutput {
    static func write(_ text: String, to path: String?) throws {
        guard let path else { return print(TerminalOutput.document(text)) }
        try SecureFile.write(Array((text + "\n").utf8), to: path)
    }

    /// JSON as it is, to a file; on stdout with terminal controls escaped (the same JSON value).
    static func write(_ json: JSONValue, to path: String?) throws {
        guard let path else { return print(json.terminalPrettyText) }
        try SecureFile.write(Array((json.prettyText + "\n").utf8), to: path)
    }
}
