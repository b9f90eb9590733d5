import ArgumentParser
import Delegation
import Doctor
import Foundation
import TokenHub

/// `paratii doctor`: why nothing happens when a token is plugged in. Every finding comes with a one-line fix.
struct DoctorCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "doctor",
        abstract: "Diagnose pcscd, readers, cards, USB tokens, udev rules and scdaemon; one-line fix for each problem.",
        discussion:
            "Exits 0 when no finding is an error, 1 otherwise. --json prints {\"findings\":[{\"id\",\"severity\",\"summary\",\"fix\"}],\"healthy\":bool}."
    )

    @Flag(help: "Machine-readable output.") var json = false
    @Option(help: "Examine only the card in this reader (its name, or a part of it); other readers are only listed.")
    var reader: String?
    @Option(help: "JSON-RPC endpoint to check the card's recovery setting on (default: \"rpc\" in the configuration).") var rpc: String?
    @OptionGroup var config: ConfigOption

    func run() async throws {
        let wanted = reader
        var report = Doctor(examine: { name in wanted.map { name.contains($0) } ?? true }).run()
        if let finding = await recoveryFinding() { report = Report(findings: report.findings + [finding]) }
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
            print(TerminalOutput.document(String(decoding: try encoder.encode(report), as: UTF8.self)))
        } else {
            // Device names and paths come from the system and the devices: escaped, line by line.
            print(
                Self.render(report).split(separator: "\n", omittingEmptySubsequences: false).map { TerminalText.escape(String($0)) }
                    .joined(separator: "\n"), terminator: "")
        }
        if !report.healthy { throw ExitCode(1) }
    }

    static let areaTitles = [
        ("pcscd", "PC/SC"), ("card", "Cards"), ("usb", "USB"), ("udev", "udev"), ("gnupg", "GnuPG"), ("doctor", "Doctor"),
        ("recovery", "Recovery"),
    ]

    /// With a node and a contract configured and a master-key card present: is a backup card named, is
    /// a takeover pending? A pending takeover is an error: the user may not have started it.
    func recoveryFinding() async -> Finding? {
        guard let configuration = try? config.load(), rpc ?? configuration.rpc != nil,
            let options = try? ReaderOption.parse(reader.map { ["--reader", $0] } ?? []),
            let open = try? OpenCard.open(options), let key = try? open.card.publicKey(),
            let result = await RecoveryReminder.check(master: key.address, configuration: configuration, rpc: rpc)
        else { return nil }
        switch result {
        case .failure(let error):
            return Finding(
                "recovery.unknown", .warning, "cannot read the card's recovery setting: \(error)",
                fix: "check --rpc or \"rpc\" in the configuration")
        case .success(let state):
            let (line, fix) = RecoveryReminder.describe(state, master: key.address)
            let (id, severity): (String, Finding.Severity) =
                switch state {
                case .notSet: ("recovery.notSet", .warning)
                case .pending: ("recovery.takeoverPending", .error)
                case .set: ("recovery.set", .ok)
                case .takenOver: ("recovery.takenOver", .info)
                }
            return Finding(id, severity, line, fix: fix)
        }
    }

    static func render(_ report: Report) -> String {
        var text = ""
        let known = Set(areaTitles.map(\.0))
        let areas = areaTitles + Set(report.findings.map(\.area)).subtracting(known).sorted().map { ($0, $0) }
        for (area, title) in areas {
            let findings = report.findings.filter { $0.area == area }
            if findings.isEmpty { continue }
            text += "\(title)\n"
            for finding in findings {
                let mark =
                    switch finding.severity {
                    case .ok: "✓";
                    case .info: "·";
                    case .warning: "!";
                    case .error: "✗"
                    }
                text += "  \(mark) \(finding.summary)\n"
                if !finding.fix.isEmpty { text += "      fix: \(finding.fix)\n" }
            }
        }
        let errors = report.findings.filter { $0.severity == .error }.count
        let warnings = report.findings.filter { $0.severity == .warning }.count
        text +=
            report.healthy
            ? "\nHealthy (\(warnings) warning\(warnings == 1 ? "" : "s")).\n" : "\n\(errors) problem\(errors == 1 ? "" : "s") to fix.\n"
        return text
    }
}
