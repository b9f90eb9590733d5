import ArgumentParser
import Ethereum
import Foundation

/// `paratii eth …`: the stable Ethereum interface other tools and our own checks use.
/// Results go to stdout; a refusal is one line on stderr and a non-zero exit.
struct EthCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "eth",
        abstract: "Ethereum keys, signatures, typed data, transactions and keystores.",
        subcommands: [
            NewKey.self, ShowAddress.self, MnemonicAddress.self, SignMessage.self, SignTypedData.self, SignTx.self,
            RecoverMessage.self, RecoverTypedData.self, HashTypedData.self, DecodeTx.self, Keccak.self, ABIEncode.self, ABIDecode.self,
        ]
    )
}

/// A keystore file and the password that opens it.
struct KeystoreOptions: ParsableArguments {
    @Option(help: "Web3 Secret Storage v3 keystore file.")
    var keystore: String

    @Option(help: "File whose first line is the keystore password (else a no-echo prompt).")
    var passwordFile: String?

    func password(confirming: Bool = false) throws -> String {
        try CLIInput.secret(file: passwordFile, prompt: "Keystore password: ", confirming: confirming)
    }

    func open() throws -> PrivateKey {
        try Keystore.open(keystore, password: try password())
    }
}

/// MESSAGE as text, or as hex with --hex; `-` reads it from standard input.
struct MessageArgument: ParsableArguments {
    @Flag(help: "MESSAGE is hex, not text.")
    var hex = false

    @Argument(help: "The message, or - for standard input.")
    var message: String

    func bytes() throws -> [UInt8] {
        let raw = message == "-" ? try CLIInput.bytes("-") : Array(message.utf8)
        guard hex else { return raw }
        let text = String(decoding: raw, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        return try [UInt8](hex: text)
    }
}

extension EthCommand {
    struct NewKey: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "new-key", abstract: "Create a key in a new keystore; prints its address.")
        @OptionGroup var keystore: KeystoreOptions
        @Option(help: "scrypt cost n (power of two; default 262144). Lower only for throwaway keys.")
        var scryptN: Int = ScryptParameters.standard.n

        func run() throws {
            let key = PrivateKey.generate()
            try Keystore.create(
                key, at: keystore.keystore, password: try keystore.password(confirming: true), kdf: ScryptParameters(n: scryptN))
            print(key.address.checksummed)
        }
    }

    struct ShowAddress: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "address", abstract: "Print a keystore's address (after checking the password).")
        @OptionGroup var keystore: KeystoreOptions
        func run() throws { print(try keystore.open().address.checksummed) }
    }

    struct SignMessage: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "sign-message", abstract: "EIP-191 personal_sign; prints the 65-byte signature.")
        @OptionGroup var keystore: KeystoreOptions
        @OptionGroup var message: MessageArgument
        func run() throws {
            let bytes = try message.bytes()
            print(try PersonalMessage.sign(bytes, with: try keystore.open()).bytes.hexString)
        }
    }

    struct SignTypedData: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "sign-typed-data", abstract: "EIP-712 (eth_signTypedData_v4 JSON); prints the 65-byte signature.")
        @OptionGroup var keystore: KeystoreOptions
        @Argument(help: "Typed data JSON file, or - for standard input.") var file: String
        func run() throws {
            let digest = try TypedData(parsing: try CLIInput.bytes(file)).digest()
            print(try keystore.open().sign(digest: digest).bytes.hexString)
        }
    }

    struct SignTx: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "sign-tx", abstract: "Sign a legacy (EIP-155) or type-2 transaction; prints the raw signed transaction.")
        @OptionGroup var keystore: KeystoreOptions
        @Argument(help: "Transaction JSON file (JSON-RPC field names), or - for standard input.") var file: String
        func run() throws {
            let tx = try Transaction(json: try JSONValue.parse(try CLIInput.bytes(file)))
            print(try tx.sign(with: try keystore.open()).raw.hexString)
        }
    }

    struct RecoverMessage: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "recover-message", abstract: "Recover the signer of a personal_sign signature.")
        @Option(help: "0x 65-byte signature.") var signature: String
        @OptionGroup var message: MessageArgument
        func run() throws {
            print(try PersonalMessage.recover(try message.bytes(), signature: try Signature(hex: signature)).checksummed)
        }
    }

    struct RecoverTypedData: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "recover-typed-data", abstract: "Recover the signer of an EIP-712 signature.")
        @Option(help: "0x 65-byte signature.") var signature: String
        @Argument(help: "Typed data JSON file, or - for standard input.") var file: String
        func run() throws {
            let digest = try TypedData(parsing: try CLIInput.bytes(file)).digest()
            print(try Signature(hex: signature).recoverAddress(digest: digest).checksummed)
        }
    }

    struct HashTypedData: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "hash-typed-data", abstract: "Print the EIP-712 digest.")
        @Argument(help: "Typed data JSON file, or - for standard input.") var file: String
        func run() throws { print(try TypedData(parsing: try CLIInput.bytes(file)).digest().hexString) }
    }

    struct DecodeTx: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "decode-tx", abstract: "Decode a raw signed transaction to JSON with from and hash.")
        @Argument(help: "0x raw signed transaction, or - for standard input.") var raw: String
        func run() throws {
            let text = raw == "-" ? try CLIInput.text("-") : raw
            let signed = try SignedTransaction.decode(try [UInt8](hex: text.trimmingCharacters(in: .whitespacesAndNewlines)))
            print(JSONValue.object(signed.json).terminalPrettyText)
        }
    }

    struct Keccak: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "keccak", abstract: "Keccak-256 of text (or of hex with --hex).")
        @Flag(help: "INPUT is hex, not text.") var hex = false
        @Argument(help: "The input, or - for standard input.") var input: String
        func run() throws {
            var message = MessageArgument()
            message.hex = hex
            message.message = input
            let bytes = try message.bytes()
            print(Keccak256.hash(bytes).hexString)
        }
    }

    struct ABIEncode: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "abi-encode", abstract: "ABI-encode JSON values as a tuple of types, or as calldata for a function signature.")
        @Argument(help: "A tuple of types, e.g. '(uint256,address[])', or a function signature, e.g. 'transfer(address,uint256)'.")
        var types: String
        @Argument(help: "A file holding the values as a JSON array, or - for standard input.") var values: String
        func run() throws {
            let json = try JSONValue.parse(try CLIInput.bytes(values))
            let open = types.firstIndex(of: "(") ?? types.startIndex
            guard case .tuple(let members) = try ABIType(String(types[open...])) else {
                throw CLIError("types must be a tuple such as (uint256,bool)")
            }
            guard case .tuple(let arguments) = try ABIValue(json: json, as: .tuple(members)) else { return }
            let encoded = open == types.startIndex ? try ABI.encode(arguments, as: members) : try ABI.call(types, arguments)
            print(encoded.hexString)
        }
    }

    struct ABIDecode: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "abi-decode", abstract: "Decode ABI data as a tuple of types; prints JSON.")
        @Argument(help: "A tuple of types, e.g. '(uint256,address[])'.") var types: String
        @Argument(help: "The data in hex.") var data: String
        func run() throws {
            guard case .tuple(let members) = try ABIType(types) else { throw CLIError("types must be a tuple such as (uint256,bool)") }
            print(JSONValue.array(try ABI.decode(try [UInt8](hex: data), as: members).map(\.json)).compactText)
        }
    }
}
