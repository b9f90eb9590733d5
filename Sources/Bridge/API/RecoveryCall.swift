import BigInt
import Delegation
import Ethereum
import LoopbackHTTP

/// What a recovery transaction request asks the card to sign (a lost card, contracts/Paratii.vy):
///
/// - `recovery-set`: the master names its recovery address and the takeover delay
///   `{"kind": "recovery-set", "account": "0x…", "delay": "2592000", …fees}`;
/// - `recovery-start`: the recovery card starts taking a master over `{"kind": "recovery-start", "master": "0x…", …}`;
/// - `recovery-cancel`: the master cancels a takeover of itself `{"kind": "recovery-cancel", …}`;
/// - `recovery-complete`: after the delay, the recovery card completes it, moving the escrow in ETH
///   and, if named, one token `{"kind": "recovery-complete", "master": "0x…", "token": "PTI", …}`.
///
/// Every one goes to the bridge's own contract, with no value.
public struct RecoveryCall: Sendable, Equatable {
    public var kind: TransactionRequest.Kind
    /// recovery-set: the recovery address (zero removes it).
    public var account: Address?
    /// recovery-set: seconds a takeover waits for the master to cancel it.
    public var delay: UInt64?
    /// recovery-start and recovery-complete: the master taken over.
    public var master: Address?
    /// recovery-complete: a token moved besides ETH (none: ETH only).
    public var token: Address?

    public static let keys = ["account", "delay", "master"]

    public init(kind: TransactionRequest.Kind, account: Address? = nil, delay: UInt64? = nil, master: Address? = nil, token: Address? = nil)
    {
        self.kind = kind; self.account = account; self.delay = delay; self.master = master; self.token = token
    }

    init(kind: TransactionRequest.Kind, object: JSONObject, configuration: Configuration) throws {
        self.init(kind: kind)
        func address(_ key: String) throws -> Address {
            guard let text = object[key]?.stringValue, let value = try? Address(text) else {
                throw APIError.badRequest("\(key) must be an address")
            }
            return value
        }
        func absent(_ keys: String...) throws {
            for key in keys where object[key] != nil { throw APIError.badRequest("\(kind.rawValue) takes no \(key)") }
        }
        switch kind {
        case .recoverySet:
            try absent("master", "token", "amount")
            account = try address("account")
            guard let text = object["delay"]?.stringValue, let value = UInt64(text), value <= ParatiiContract.maximumRecoveryDelay else {
                throw APIError.badRequest("delay must be a decimal number of seconds, at most a year")
            }
            guard (account == .zero) == (value == 0) else {
                throw APIError.badRequest("a recovery address needs a delay; removing it (the zero address) takes delay 0")
            }
            delay = value
        case .recoveryStart:
            try absent("account", "delay", "token", "amount")
            master = try address("master")
        case .recoveryCancel:
            try absent("account", "delay", "master", "token", "amount")
        case .recoveryComplete:
            try absent("account", "delay", "amount")
            master = try address("master")
            if let text = object["token"]?.stringValue {
                guard let value = try? configuration.token(text), value != Allowance.eth else {
                    throw APIError.badRequest("token must be PTI or a token the bridge's configuration lists (ETH always moves)")
                }
                token = value
            } else if object["token"] != nil {
                throw APIError.badRequest("token must be a token name or address")
            }
        default:
            throw APIError.badRequest("\(kind.rawValue) is not a recovery kind")
        }
    }

    var calldata: [UInt8] {
        switch kind {
        case .recoverySet: ParatiiContract.setRecovery(account: account ?? .zero, delay: delay ?? 0)
        case .recoveryStart: ParatiiContract.startTakeover(master: master ?? .zero)
        case .recoveryComplete: ParatiiContract.completeTakeover(master: master ?? .zero, tokens: token.map { [$0] } ?? [])
        default: ParatiiContract.cancelTakeover
        }
    }

    func json(_ configuration: Configuration) -> [(key: String, value: JSONValue)] {
        var members: [(key: String, value: JSONValue)] = []
        if let account { members.append(("account", .string(account.checksummed))) }
        if let delay { members.append(("delay", .string("\(delay)"))) }
        if let master { members.append(("master", .string(master.checksummed))) }
        if let token { members.append(("token", .string(configuration.tokenName(token)))) }
        return members
    }

    /// What the card signs, in one phrase: the user must see whose money moves where.
    func signs(_ configuration: Configuration, contract: Address) -> String {
        switch kind {
        case .recoverySet where account == .zero:
            "recovery: remove the card's recovery address in the Paratii contract \(contract.checksummed) (nobody can take it over)"
        case .recoverySet:
            "recovery: \(account?.checksummed ?? "?") may take over the card's escrow in the Paratii contract \(contract.checksummed) if the card does not cancel within \(Units.formatDuration(delay ?? 0))"
        case .recoveryStart:
            "recovery: start taking over \(master?.checksummed ?? "?") (its escrow moves to this card's address unless it cancels in time)"
        case .recoveryComplete:
            "recovery: complete the takeover of \(master?.checksummed ?? "?"): its escrow in ETH\(token.map { " and \(configuration.tokenName($0))" } ?? "") moves to this card's address; its delegations stop"
        default:
            "recovery: cancel the takeover of the card's address in the Paratii contract \(contract.checksummed)"
        }
    }
}
