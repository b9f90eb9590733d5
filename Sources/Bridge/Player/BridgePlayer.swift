import Ethereum
import Foundation
import Storage

/// The player's side of the bridge protocol as a library (the CLI wallet and the web player's wallet
/// service share it): pair once and keep the token (0600, next to the wallet), submit a request, and
/// wait for the user's decision in a long poll on the request (no busy polling), which answers with the result.
public struct BridgePlayer: Sendable {
    public let address: String
    public let name: String
    /// Where the token is kept: `{"bridge": address, "token": …}`.
    public let tokenFile: String
    /// The player's spending address: sent at pairing, where the bridge expects its top-ups to go.
    public let wallet: Address
    public let timeout: Int
    /// What the player must tell its user while it waits (the pairing code, the request id).
    let notice: @Sendable (String) -> Void
    /// The same steps for a program to show in its own words (the wallet service tells its pages).
    public var onStep: @Sendable (Step) -> Void = { _ in }

    public enum Step: Sendable, Equatable {
        /// The player pairs first: the user approves `id` on the bridge side, typing `code`.
        case pairing(id: String, code: String)
        /// Request `id` waits for the user's approval on the bridge side.
        case waiting(request: String)
    }

    public init(
        address: String, name: String, tokenFile: String, wallet: Address, timeout: Int = 600,
        notice: @escaping @Sendable (String) -> Void = { _ in }
    ) {
        self.address = address
        self.name = name
        self.tokenFile = tokenFile
        self.wallet = wallet
        self.timeout = timeout
        self.notice = notice
    }

    /// POSTs `body` to `path` (`/v1/delegation-requests` or `/v1/transaction-requests`), pairing first
    /// when there is no token yet, and returns the request once approved.
    public func submit(_ path: String, _ body: JSONValue) throws(PlayerError) -> JSONValue {
        let deadline = Date().addingTimeInterval(TimeInterval(timeout))
        // One kept-alive connection for the whole exchange (request, long polls, result).
        var client = BridgeClient(address, keepAlive: true)
        if let stored = storedToken() { client.token = stored } else { client.token = try pair(client, deadline: deadline) }
        let created = try send(client, "POST", path, body)
        if created.status == 401 {
            unlink(tokenFile)
            throw .forgotten
        }
        guard created.status == 202, let id = created.json?["id"]?.stringValue else { throw .bridge(created.errorText) }
        notice("request \(id) waits for approval: on the bridge side run `paratii approve \(id)`")
        onStep(.waiting(request: id))
        while true {
            // A long poll on the request itself: answered by the commit that decides it.
            let wait = max(0, min(25, Int(deadline.timeIntervalSinceNow.rounded(.up))))
            let state = try send(client, "GET", "\(path)/\(id)?timeout=\(wait)")
            guard state.status == 200, let json = state.json, let current = json["state"]?.stringValue else {
                throw .bridge(state.errorText)
            }
            switch current {
            case "pending": break
            case "approved": return json
            default: throw .decided(state: current, reason: json["reason"]?.stringValue)
            }
            guard deadline.timeIntervalSinceNow > 0 else { throw .timedOut(seconds: timeout, what: "request") }
        }
    }

    func storedToken() -> String? {
        guard FileManager.default.fileExists(atPath: tokenFile), let value = try? JSONValue.parse(try SecureFile.read(tokenFile)),
            value["bridge"]?.stringValue == address, let token = value["token"]?.stringValue
        else { return nil }
        return token
    }

    /// Pairs: only this process can collect the token, since it alone knows the secret whose hash it sends.
    /// The player has no token yet to long-poll with, so it asks every half second while the user types the code.
    private func pair(_ client: BridgeClient, deadline: Date) throws(PlayerError) -> String {
        let secret = PairingSecret()
        let created = try send(
            client, "POST", "/v1/pairings",
            .object([
                "name": .string(name), "secretHash": .string(secret.hash),
                "wallet": .string(wallet.checksummed),
            ]))
        guard created.status == 201, let id = created.json?["id"]?.stringValue else { throw .bridge(created.errorText) }
        let code = created.json?["code"]?.stringValue ?? "?"
        notice("pairing with the bridge: run `paratii approve \(id)` on the bridge side and type the code \(code)")
        onStep(.pairing(id: id, code: code))
        while true {
            let polled: BridgeClient.Response
            do { polled = try client.request("GET", "/v1/pairings/\(id)", headers: [("Authorization", "Pairing \(secret.secret)")]) } catch
            {
                throw .bridge("cannot reach the bridge at \(address): \(error)")
            }
            guard polled.status == 200, let state = polled.json?["state"]?.stringValue else { throw .bridge(polled.errorText) }
            if let token = polled.json?["token"]?.stringValue {
                do {
                    try SecureFile.write(
                        Array(JSONValue.object(["bridge": .string(address), "token": .string(token)]).compactText.utf8), to: tokenFile)
                } catch { throw .bridge("cannot keep the token: \(error)") }
                return token
            }
            guard state == "pending" else { throw .pairing(state: state) }
            guard Date() < deadline else { throw .timedOut(seconds: timeout, what: "pairing") }
            Thread.sleep(forTimeInterval: 0.5)
        }
    }

    private func send(
        _ client: BridgeClient, _ method: String, _ path: String, _ body: JSONValue? = nil
    ) throws(PlayerError) -> BridgeClient.Response {
        do { return try client.request(method, path, body: body.map { Array($0.compactText.utf8) }) } catch {
            throw .bridge("cannot reach the bridge at \(address): \(error)")
        }
    }
}
