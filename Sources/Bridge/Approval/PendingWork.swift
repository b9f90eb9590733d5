import Delegation
import Ethereum

/// What waits for the user, as the bridge lists it on `/v1/admin/pending`: pairings with their code,
/// requests parsed with the bridge's own chain settings (the ones approvals must sign for).
public struct PendingWork: Sendable {
    public struct Pairing: Sendable {
        public let id: String
        /// The player's name as it sent it: escape it before showing it (`TerminalText.escape`).
        public let name: String
        public let code: String
    }

    public enum Ask: Sendable {
        case delegation(DelegationRequest)
        case transaction(TransactionRequest)
    }

    public struct Request: Sendable {
        public let id: String
        public let player: String
        /// The player's wallet, where its top-ups should go (nil: none on record).
        public let wallet: Address?
        public let ask: Ask
        public let expiresAt: UInt64
    }

    public let pairings: [Pairing]
    public let requests: [Request]
    /// The bridge's chain settings: what the card signs for.
    public let configuration: Configuration
    /// The listing as the bridge sent it (for `--json`).
    public let json: JSONValue

    init(json: JSONValue, fallback: Configuration) throws(ApprovalError) {
        self.json = json
        if let value = json["configuration"] {
            do { configuration = try Configuration(json: value) } catch {
                throw .bridge("the bridge sent an unreadable configuration: \(error)")
            }
        } else {
            configuration = fallback
        }
        pairings = (json["pairings"]?.arrayValue ?? []).compactMap { value in
            guard let id = value["id"]?.stringValue, let code = value["code"]?.stringValue else { return nil }
            return Pairing(id: id, name: value["name"]?.stringValue ?? "", code: code)
        }
        var requests: [Request] = []
        for value in json["requests"]?.arrayValue ?? [] {
            guard let id = value["id"]?.stringValue, let body = value["request"] else {
                throw .bridge("the bridge sent a request without its body")
            }
            let ask: Ask
            do {
                ask =
                    value["kind"]?.stringValue == "transaction"
                    ? .transaction(try TransactionRequest(json: body, configuration: configuration))
                    : .delegation(try DelegationRequest(json: body, configuration: configuration))
            } catch { throw .bridge("request \(id): \(error)") }
            let expires: UInt64 = if case .number(let text) = value["expiresAt"] { UInt64(text) ?? 0 } else { 0 }
            requests.append(
                Request(
                    id: id, player: value["player"]?.stringValue ?? "?",
                    wallet: value["wallet"]?.stringValue.flatMap { try? Address($0) }, ask: ask, expiresAt: expires))
        }
        self.requests = requests
    }
}

extension PendingWork.Request {
    var path: String {
        switch ask {
        case .delegation: "/v1/admin/delegation-requests/\(id)"
        case .transaction: "/v1/admin/transaction-requests/\(id)"
        }
    }

    /// One line per fact the user approves (outside strings escaped).
    public func summary(_ configuration: Configuration) -> [String] {
        var lines = ["request \(id) from player \"\(TerminalText.escape(player))\""]
        switch ask {
        case .transaction(let asked):
            lines += asked.summary(configuration)
        case .delegation(let asked):
            lines.append("  spender \(asked.spender.checksummed), valid for \(Units.formatDuration(asked.validFor)) from approval")
            for allowance in asked.allowances { lines.append("  \(allowance.summary(configuration))") }
            lines.append(asked.payees.isEmpty ? "  payees: any" : "  payees: \(asked.payees.map(\.checksummed).joined(separator: ", "))")
        }
        return lines
    }

    /// What the card signs, in one phrase: the pinentry prompt names it.
    public func signs(_ configuration: Configuration) -> String {
        switch ask {
        case .transaction(let asked):
            asked.signs(configuration)
        case .delegation(let asked):
            "a spending delegation to \(asked.spender.checksummed) for \(Units.formatDuration(asked.validFor)): "
                + asked.allowances.map { $0.summary(configuration) }.joined(separator: "; ")
        }
    }
}
