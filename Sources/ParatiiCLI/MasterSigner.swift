import ArgumentParser
import Delegation
import Ethereum

/// Who signs as the master: the card (the product: its PIN from --pin-file or a no-echo prompt),
/// or a software keystore standing in for one (a throwaway master for tests and interop).
struct MasterSignerOptions: ParsableArguments {
    @OptionGroup var reader: ReaderOption
    @Option(help: "File whose first line is the card's user PIN (else a no-echo prompt).")
    var pinFile: String?
    @OptionGroup var lastTry: LastTryFlag

    @Option(
        name: .customLong("master-keystore"), help: "Sign with a software master key in this keystore instead of a card (tests, demos).")
    var masterKeystore: String?
    @Option(name: .customLong("master-password-file"), help: "Password file for --master-keystore.")
    var masterPasswordFile: String?
    @Option(help: "CardAttestation envelope of the master key, carried along as the chain's root.")
    var attestation: String?

    func signer() throws -> any DigestSigner {
        guard let masterKeystore else {
            let card = try OpenCard.open(reader)
            let pin = try PINInput.read(file: pinFile, prompt: "User PIN of the card in \(card.reader): ")
            return try CardDigestSigner(open: card, pin: pin, allowLastTry: lastTry.allowLastTry)
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
