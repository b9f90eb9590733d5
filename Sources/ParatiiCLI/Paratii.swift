import ArgumentParser

/// `paratii`: one thin executable over the libraries. Each command group lives in its own file.
@main
struct Paratii: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "paratii",
        abstract: "Paratii signer bridge: hardware-held master keys, delegated spending keys, verifiable vouchers.",
        subcommands: [
            EthCommand.self,
            DelegateCommand.self,
            VerifyCommand.self,
            WalletCommand.self,
            PayeeCommand.self,
            CardCommand.self,
            SoftcardCommand.self,
            DoctorCommand.self,
            BridgeCommand.self, ApproveCommand.self,
            InstitutionCommand.self,
        ]
    )
}
