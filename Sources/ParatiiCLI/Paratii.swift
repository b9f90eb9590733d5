import ArgumentParser
import Delegation
import Foundation

/// `paratii`: one thin executable over the libraries. Each command group lives in its own file.
@main
struct Paratii: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "paratii",
        abstract: "Paratii signer bridge: hardware-held master keys, delegated spending keys, verifiable vouchers.",
        // `paratii --version`: "0.1.0 (commit 0123456789ab)", fixed when the binary was built (BuildInfo.swift).
        version: "\(BuildInfo.version) (\(BuildInfo.commit))",
        subcommands: [
            EthCommand.self,
            DelegateCommand.self,
            VerifyCommand.self,
            WalletCommand.self,
            PayeeCommand.self,
            DepositCommand.self,
            RecoveryCommand.self,
            CardCommand.self,
            SoftcardCommand.self,
            DoctorCommand.self,
            BridgeCommand.self, ApproveCommand.self,
            InstitutionCommand.self,
        ]
    )

    /// ArgumentParser's own `main`, with two things every command needs: state it writes (stores,
    /// keystores, lock files, exports) is owner-only whatever the shell's umask, and an error that
    /// quotes its input reaches the terminal escaped.
    static func main() async {
        umask(0o077)
        do {
            var command = try parseAsRoot()
            if var asyncCommand = command as? AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                try command.run()
            }
        } catch {
            exit(reporting: error)
        }
    }

    static func exit(reporting error: Error) -> Never {
        let code = exitCode(for: error)
        // Help, version and clean exits are ours to print as they are.
        if code == .success { exit(withError: error) }
        let message = fullMessage(for: error)
        if !message.isEmpty {
            // ArgumentParser's usage errors span lines and quote only the command line; anything
            // else is one line, newlines included in the escaping so none can forge a line.
            let usage = String(reflecting: type(of: error)).hasPrefix("ArgumentParser.")
            let shown =
                usage
                ? message.split(separator: "\n", omittingEmptySubsequences: false).map { TerminalText.escape(String($0)) }
                    .joined(separator: "\n") : TerminalText.escape(message)
            FileHandle.standardError.write(Data((shown + "\n").utf8))
        }
        exit(withError: ExitCode(code.rawValue))
    }
}
