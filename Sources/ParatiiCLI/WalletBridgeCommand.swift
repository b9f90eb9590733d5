import ArgumentParser
import Bridge
import Delegation
import Ethereum
import Foundation
import PlayerCore

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
        @Option(help: "The bridge: its Unix socket path or http://127.0.0.1:PORT (default $XDG_RUNTIME_DIR/paratii/bridge.sock).")
        var bridge: String?
        @Option(help: "Player name shown to the user when pairing.") var name: String = "paratii wallet"
        @Option(help: "An allowance: token=ETH,total=0.05[,per-payment=…][,period=1d,per-period=…] (repeatable).")
        var allowance: [String] = []
        @Option(help: "A payee the delegation is limited to (repeatable; none means any).") var payee: [String] = []
        @Option(help: "How long the delegation is valid from approval (e.g. 30d).") var validFor: String = "30d"
        @Option(help: "Give up waiting after this many seconds.") var timeout: Int = 600

        func run() throws {
            guard !allowance.isEmpty else { throw CLIError("give at least one --allowance") }
            let opened = try wallet.open()
            let address = bridge ?? BridgeSettings.defaultSocketPath
            let tokenFile = wallet.directory + "/bridge-token.json"
            var client = BridgeClient(address)
            client.token = try storedToken(tokenFile, address) ?? pair(client, tokenFile, address)

            let body: JSONValue = .object([
                "spender": .string(opened.address.checksummed),
                "allowances": .array(try allowance.map(Self.allowanceJSON)),
                "payees": .array(payee.map { .string($0) }),
                "validFor": .string(validFor),
            ])
            let created = try client.post("/v1/delegation-requests", body)
            if created.status == 401 {
                unlink(tokenFile)
                throw CLIError("the bridge no longer knows this wallet's token (revoked?): run again to pair anew")
            }
            guard created.status == 202, let id = created.json?["id"]?.stringValue else { throw CLIError(created.errorText) }
            FileHandle.standardError.write(Data("request \(id) waits for approval: on the bridge side run `paratii approve \(id)`\n".utf8))
            let deadline = Date().addingTimeInterval(TimeInterval(timeout))
            while true {
                let polled = try client.get("/v1/delegation-requests/\(id)")
                guard polled.status == 200, let state = polled.json?["state"]?.stringValue else { throw CLIError(polled.errorText) }
                switch state {
                case "pending":
                    guard Date() < deadline else { throw CLIError("no decision within \(timeout) s (the request stays pending on the bridge)") }
                    Thread.sleep(forTimeInterval: 0.5)
                    continue
                case "approved":
                    guard let value = polled.json?["envelope"] else { throw CLIError("approved without an envelope") }
                    let envelope = try Envelope(json: value)
                    let delegation = try opened.importDelegation(envelope)
                    print("imported \(envelope.id.hexString) from master \(delegation.master), valid until \(TimeText.format(delegation.validUntil))")
                    return
                default:
                    throw CLIError("request \(state)\(polled.json?["reason"]?.stringValue.map { ": \($0)" } ?? "")")
                }
            }
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

        func storedToken(_ file: String, _ address: String) throws -> String? {
            guard FileManager.default.fileExists(atPath: file), let value = try? JSONValue.parse(try SecureFile.read(file)),
                  value["bridge"]?.stringValue == address, let token = value["token"]?.stringValue
            else { return nil }
            return token
        }

        func pair(_ client: BridgeClient, _ file: String, _ address: String) throws -> String {
            let created = try client.post("/v1/pairings", .object(["name": .string(name)]))
            guard created.status == 201, let id = created.json?["id"]?.stringValue else { throw CLIError(created.errorText) }
            FileHandle.standardError.write(Data("pairing with the bridge: check code \(created.json?["code"]?.stringValue ?? "?") and run `paratii approve \(id)` on the bridge side\n".utf8))
            let deadline = Date().addingTimeInterval(TimeInterval(timeout))
            while true {
                let polled = try client.get("/v1/pairings/\(id)")
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
}
