import ArgumentParser
import Bridge
import Delegation
import Ethereum
import Foundation
import PlayerCore
import Storage

extension WalletCommand {
    /// `paratii wallet request-delegation`: the player's bridge client. Pairs when the wallet has no
    /// token for this bridge yet (the token is kept in the wallet directory, 0600), sends the request,
    /// waits for the user's approval on the bridge side, and imports the signed delegation.
    struct RequestDelegation: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "request-delegation",
            abstract: "Ask the bridge for a SpendingDelegation (pairing first if needed), wait for approval, import it."
        )
        @OptionGroup var wallet: WalletOptions
        @OptionGroup var link: BridgeLink
        @Option(help: "An allowance: token=ETH,total=0.05[,per-payment=…][,period=1d,per-period=…] (repeatable).")
        var allowance: [String] = []
        @Option(help: "A payee the delegation is limited to (repeatable; none means any).") var payee: [String] = []
        @Option(help: "How long the delegation is valid from approval (e.g. 30d).") var validFor: String = "30d"

        func run() throws {
            guard !allowance.isEmpty else { throw CLIError("give at least one --allowance") }
            let opened = try wallet.open()
            let body: JSONValue = .object([
                "spender": .string(opened.address.checksummed),
                "allowances": .array(try allowance.map(Self.allowanceJSON)),
                "payees": .array(payee.map { .string($0) }),
                "validFor": .string(validFor),
            ])
            let approved = try link.submit("/v1/delegation-requests", body, wallet: wallet, address: opened.address)
            guard let value = approved["envelope"] else { throw CLIError("approved without an envelope") }
            let envelope = try Envelope(json: value)
            let delegation = try opened.importDelegation(envelope)
            print("imported \(envelope.id.hexString) from master \(delegation.master), valid until \(TimeText.format(delegation.validUntil))")
        }

        /// The spec form `token=ETH,total=0.05,per-payment=…` as the API's JSON object.
        static func allowanceJSON(_ spec: String) throws -> JSONValue {
            let names = ["token": "token", "total": "total", "per-payment": "perPayment", "period": "period", "per-period": "perPeriod"]
            var object = JSONObject()
            for part in spec.split(separator: ",") {
                let pair = part.split(separator: "=", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
                guard pair.count == 2, let name = names[pair[0]] else { throw CLIError("allowance part \"\(part)\" is not one of token=, total=, per-payment=, period=, per-period=") }
                object[name] = .string(pair[1])
            }
            return .object(object)
        }
    }
}

extension WalletCommand {
    /// `paratii wallet request-topup`: asks the bridge for a master-signed top-up (the card sends ETH or
    /// PTI to this wallet's spending address), waits for the user's approval, prints the signed raw
    /// transaction for broadcasting. Nonce and fees come from the user: no network is needed to sign.
    struct RequestTopup: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "request-topup",
            abstract: "Ask the bridge for a master-signed top-up to this wallet, wait for approval, print the raw transaction."
        )
        @OptionGroup var wallet: WalletOptions
        @OptionGroup var link: BridgeLink
        @Option(help: "ETH, PTI or a token address.") var token: String
        @Option(help: "Decimal amount, e.g. 0.5.") var amount: String
        @Option(help: "The master address's nonce.") var nonce: String
        @Option(help: "Gas limit (default 21000 for ETH, 100000 for tokens).") var gas: String?
        @Option(help: "maxFeePerGas in wei.") var maxFee: String
        @Option(help: "maxPriorityFeePerGas in wei.") var priorityFee: String
        @OptionGroup var config: ConfigOption

        func run() throws {
            let opened = try wallet.open()
            let configuration = try config.load()
            let tokenAddress = try configuration.token(token)
            let body: JSONValue = .object([
                "kind": .string("topup"), "to": .string(opened.address.checksummed), "token": .string(token), "amount": .string(amount),
                "nonce": .string(nonce), "gas": .string(gas ?? "\(TokenTransfer.defaultGas(token: tokenAddress))"),
                "maxFeePerGas": .string(maxFee), "maxPriorityFeePerGas": .string(priorityFee),
            ])
            let approved = try link.submit("/v1/transaction-requests", body, wallet: wallet, address: opened.address)
            guard let raw = approved["transaction"]?["raw"]?.stringValue, let bytes = try? [UInt8](hex: raw) else {
                throw CLIError("approved without a transaction")
            }
            // Check what came back before anyone broadcasts it: exactly the top-up asked for, to this wallet.
            let signed = try SignedTransaction.decode(bytes)
            let asked: TransactionRequest
            do { asked = try TransactionRequest(json: body, configuration: configuration) } catch { throw CLIError("\(error)") }
            guard signed.transaction == asked.transaction(chainId: signed.transaction.chainId ?? 0) else {
                throw CLIError("the bridge returned a transaction that is not this wallet's top-up")
            }
            FileHandle.standardError.write(Data("top-up \(signed.hash.hexString) signed by \(signed.from.checksummed)\n".utf8))
            print(raw)
        }
    }
}

/// How a wallet reaches the bridge: pairs when the wallet has no token for this bridge yet (the token is
/// kept in the wallet directory, 0600), submits a request, and waits for the user's decision.
struct BridgeLink: ParsableArguments {
    @Option(help: "The bridge: its Unix socket path or http://127.0.0.1:PORT (default $XDG_RUNTIME_DIR/paratii/bridge.sock).")
    var bridge: String?
    @Option(help: "Player name shown to the user when pairing.") var name: String = "paratii wallet"
    @Option(help: "Give up waiting after this many seconds.") var timeout: Int = 600

    /// POSTs `body` to `path` and polls the request until it is decided; returns the approved request.
    func submit(_ path: String, _ body: JSONValue, wallet: WalletOptions, address spender: Address) throws -> JSONValue {
        let address = bridge ?? BridgeSettings.defaultSocketPath
        let tokenFile = wallet.directory + "/bridge-token.json"
        var client = BridgeClient(address)
        client.token = try storedToken(tokenFile, address) ?? pair(client, tokenFile, address, wallet: spender)
        let created = try client.post(path, body)
        if created.status == 401 {
            unlink(tokenFile)
            throw CLIError("the bridge no longer knows this wallet's token (revoked?): run again to pair anew")
        }
        guard created.status == 202, let id = created.json?["id"]?.stringValue else { throw CLIError(created.errorText) }
        TerminalOutput.warn("request \(id) waits for approval: on the bridge side run `paratii approve \(id)`")
        let deadline = Date().addingTimeInterval(TimeInterval(timeout))
        while true {
            let polled = try client.get("\(path)/\(id)")
            guard polled.status == 200, let json = polled.json, let state = json["state"]?.stringValue else { throw CLIError(polled.errorText) }
            switch state {
            case "pending":
                guard Date() < deadline else { throw CLIError("no decision within \(timeout) s (the request stays pending on the bridge)") }
                Thread.sleep(forTimeInterval: 0.2)
            case "approved":
                return json
            default:
                throw CLIError("request \(state)\(json["reason"]?.stringValue.map { ": \($0)" } ?? "")")
            }
        }
    }

    func storedToken(_ file: String, _ address: String) throws -> String? {
        guard FileManager.default.fileExists(atPath: file), let value = try? JSONValue.parse(try SecureFile.read(file)),
              value["bridge"]?.stringValue == address, let token = value["token"]?.stringValue
        else { return nil }
        return token
    }

    func pair(_ client: BridgeClient, _ file: String, _ address: String, wallet: Address) throws -> String {
        // Only this process can collect the token: it alone knows the secret whose hash it sends.
        let pairing = PairingSecret()
        let created = try client.post("/v1/pairings", .object(["name": .string(name), "secretHash": .string(pairing.hash),
                                                               "wallet": .string(wallet.checksummed)]))
        guard created.status == 201, let id = created.json?["id"]?.stringValue else { throw CLIError(created.errorText) }
        TerminalOutput.warn("pairing with the bridge: run `paratii approve \(id)` on the bridge side and type the code \(created.json?["code"]?.stringValue ?? "?")")
        let deadline = Date().addingTimeInterval(TimeInterval(timeout))
        while true {
            let polled = try client.request("GET", "/v1/pairings/\(id)", headers: [("Authorization", "Pairing \(pairing.secret)")])
            guard polled.status == 200, let state = polled.json?["state"]?.stringValue else { throw CLIError(polled.errorText) }
            if let token = polled.json?["token"]?.stringValue {
                try SecureFile.write(Array(JSONValue.object(["bridge": .string(address), "token": .string(token)]).compactText.utf8), to: file)
                return token
            }
            guard state == "pending" else { throw CLIError("pairing \(state)") }
            guard Date() < deadline else { throw CLIError("the pairing was not approved within \(timeout) s") }
            Thread.sleep(forTimeInterval: 0.5)
        }
    }
}
