import ArgumentParser
import Delegation
import Ethereum

/// Who signs as the master: the card (the product), or a software keystore standing in for one
/// (a throwaway master for tests and interop, said so in the help).
struct MasterSignerOptions: ParsableArguments {
    @Option(name: .customLong("master-keystore"), help: "Sign with a software master key in this keystore instead of a card (tests, demos).")
    var masterKeystore: String?
    @Option(name: .customLong("master-password-file"), help: "Password file for --master-keystore.")
    var masterPasswordFile: String?
    @Option(help: "CardAttestation envelope of the master key, carried along as the chain's root.")
    var attestation: String?

    func signer() throws -> any DigestSigner {
        guard let masterKeystore else {
            throw CLIError("no master key: pass --master-keystore (card signing arrives with `paratii card`)")
        }
        var arguments = ["--keystore", masterKeystore]
        if let masterPasswordFile { arguments += ["--password-file", masterPasswordFile] }
        return try KeystoreOptions.parse(arguments).open()
    }

    func attestationParents() throws -> [Envelope] {
        guard let attestation else { return [] }
        let envelope = try Envelope(parsing: try CLIInput.bytes(attestation))
        guard case .attestation = envelope.message else { throw CLIError("--attestation must be a CardAttestation envelope") }
        return [envelope]
    }
}
