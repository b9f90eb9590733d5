import BigInt
import Delegation
import Ethereum
import LoopbackHTTP

/// A master-signed transaction a player asks for, parsed strictly from the JSON body of
/// `POST /v1/transaction-requests`. Three kinds:
///
/// - `topup`: the master sends ETH or an ERC-20 token (PTI) to the player's spending address;
/// - `deposit`: the master escrows ETH (`deposit()`) or a token (`depositToken`) in the Paratii
///   contract, the bridge's own `verifyingContract` (a `to`, if sent, must be that address);
/// - `deposit-approval`: the ERC-20 `approve` that lets the contract take a token deposit;
/// - `recovery-set`, `recovery-start`, `recovery-cancel`, `recovery-complete`: a lost card's recovery
///   in the contract (see `RecoveryCall`), no value, no amount.
///
///     {"kind": "topup", "to": "0x…", "token": "PTI", "amount": "5", "nonce": "7", "gas": "100000",
///      "maxFeePerGas": "30000000000", "maxPriorityFeePerGas": "1000000000"}
///
/// Amounts are decimal strings in the token's own decimals; nonce, gas and fees are integers in wei as
/// decimal strings. The chain id and the contract are the bridge's own, never the player's.
public struct TransactionRequest: Sendable, Equatable {
    public enum Kind: String, Sendable, CaseIterable {
        case topup
        case deposit
        case depositApproval = "deposit-approval"
        case recoverySet = "recovery-set"
        case recoveryStart = "recovery-start"
        case recoveryCancel = "recovery-cancel"
        case recoveryComplete = "recovery-complete"

        public var isRecovery: Bool { rawValue.hasPrefix("recovery-") }
    }

    public var kind: Kind = .topup
    /// The top-up's recipient; for the deposit kinds, the contract.
    public var to: Address
    public var token: Address
    public var amount: BigUInt
    public var nonce: UInt64
    public var gas: UInt64
    public var maxFeePerGas: BigUInt
    public var maxPriorityFeePerGas: BigUInt
    /// The recovery kinds' own fields (nil for the others).
    public var recovery: RecoveryCall?

    static let baseKeys = ["kind", "to", "token", "amount", "nonce", "gas", "maxFeePerGas", "maxPriorityFeePerGas"]
    /// Every member a request of some kind may have; each kind then refuses what it does not take.
    public static let keys = baseKeys + RecoveryCall.keys
    /// Gas above this is no top-up: a transfer takes 21000, an ERC-20 transfer well under 100000.
    public static let gasCeiling: UInt64 = 1_000_000

    public init(
        to: Address, token: Address, amount: BigUInt, nonce: UInt64, gas: UInt64, maxFeePerGas: BigUInt, maxPriorityFeePerGas: BigUInt,
        kind: Kind = .topup
    ) {
        self.kind = kind; self.to = to; self.token = token; self.amount = amount; self.nonce = nonce; self.gas = gas
        self.maxFeePerGas = maxFeePerGas; self.maxPriorityFeePerGas = maxPriorityFeePerGas
    }

    public init(json: JSONValue, configuration: Configuration) throws {
        guard case .object(let object) = json else { throw APIError.badRequest("the body must be a JSON object") }
        try APIError.onlyKeys(object, Self.keys, in: "request")
        guard let kindText = object["kind"]?.stringValue, let kind = Kind(rawValue: kindText) else {
            throw APIError.badRequest(
                "kind must be \"topup\", \"deposit\", \"deposit-approval\" or one of \(Kind.allCases.filter(\.isRecovery).map(\.rawValue))")
        }
        if kind.isRecovery {
            guard configuration.verifyingContract != .zero else {
                throw APIError.badRequest("the bridge has no verifyingContract configured")
            }
            if let toText = object["to"]?.stringValue, (try? Address(toText)) != configuration.verifyingContract {
                throw APIError.badRequest(
                    "a recovery transaction goes to the configured contract \(configuration.verifyingContract.checksummed) only")
            }
            let call = try RecoveryCall(kind: kind, object: object, configuration: configuration)
            let fees = try Self.fees(object)
            self.init(
                to: configuration.verifyingContract, token: call.token ?? Allowance.eth, amount: 0, nonce: fees.nonce, gas: fees.gas,
                maxFeePerGas: fees.maxFee, maxPriorityFeePerGas: fees.priority, kind: kind)
            recovery = call
            return
        }
        try APIError.onlyKeys(object, Self.baseKeys, in: "request")
        let to: Address
        if kind == .topup {
            guard let toText = object["to"]?.stringValue, let address = try? Address(toText) else {
                throw APIError.badRequest("to must be an address")
            }
            to = address
        } else {
            guard configuration.verifyingContract != .zero else {
                throw APIError.badRequest("the bridge has no verifyingContract configured to deposit into")
            }
            if let toText = object["to"]?.stringValue, (try? Address(toText)) != configuration.verifyingContract {
                throw APIError.badRequest("a deposit goes to the configured contract \(configuration.verifyingContract.checksummed) only")
            }
            if object["to"] != nil, object["to"]?.stringValue == nil { throw APIError.badRequest("to must be an address") }
            to = configuration.verifyingContract
        }
        guard let tokenText = object["token"]?.stringValue, let token = try? configuration.token(tokenText) else {
            throw APIError.badRequest("token must be ETH, PTI or a token the bridge's configuration lists")
        }
        if kind == .depositApproval, token == Allowance.eth { throw APIError.badRequest("ETH deposits need no approval") }
        guard let amountText = object["amount"]?.stringValue, let amount = try? configuration.parseAmount(amountText, token: token),
            amount > 0
        else {
            throw APIError.badRequest("amount must be a positive decimal string such as \"0.5\", in the token's own decimals")
        }
        let fees = try Self.fees(object)
        self.init(
            to: to, token: token, amount: amount, nonce: fees.nonce, gas: fees.gas, maxFeePerGas: fees.maxFee,
            maxPriorityFeePerGas: fees.priority, kind: kind)
    }

    /// A recovery request (`kind` one of the recovery kinds) to the bridge's contract.
    public init(
        recovery call: RecoveryCall, contract: Address, nonce: UInt64, gas: UInt64, maxFeePerGas: BigUInt, maxPriorityFeePerGas: BigUInt
    ) {
        self.init(
            to: contract, token: call.token ?? Allowance.eth, amount: 0, nonce: nonce, gas: gas, maxFeePerGas: maxFeePerGas,
            maxPriorityFeePerGas: maxPriorityFeePerGas, kind: call.kind)
        recovery = call
    }

    private static func fees(_ object: JSONObject) throws -> (nonce: UInt64, gas: UInt64, maxFee: BigUInt, priority: BigUInt) {
        let nonce = try Self.integer(object, "nonce", limit: BigUInt(UInt64.max))
        let gas = try Self.integer(object, "gas", limit: BigUInt(Self.gasCeiling))
        guard gas >= 21000 else { throw APIError.badRequest("gas must be at least 21000") }
        let maxFee = try Self.integer(object, "maxFeePerGas", limit: BigUInt(1) << 128)
        let priority = try Self.integer(object, "maxPriorityFeePerGas", limit: maxFee)
        return (UInt64(nonce), UInt64(gas), maxFee, priority)
    }

    private static func integer(_ object: JSONObject, _ key: String, limit: BigUInt) throws -> BigUInt {
        guard let text = object[key]?.stringValue, !text.isEmpty, text.count <= 40, text.allSatisfy(\.isASCII), text.allSatisfy(\.isNumber),
            let value = BigUInt(text, radix: 10)
        else {
            throw APIError.badRequest("\(key) must be a decimal integer string")
        }
        guard value <= limit else { throw APIError.badRequest("\(key) must be at most \(limit)") }
        return value
    }

    public func json(_ configuration: Configuration) -> JSONValue {
        if let recovery {
            return .object(
                JSONObject(
                    [("kind", .string(kind.rawValue)), ("to", .string(to.checksummed))] + recovery.json(configuration) + [
                        ("nonce", .string("\(nonce)")), ("gas", .string("\(gas)")), ("maxFeePerGas", .string("\(maxFeePerGas)")),
                        ("maxPriorityFeePerGas", .string("\(maxPriorityFeePerGas)")),
                    ]))
        }
        return .object([
            "kind": .string(kind.rawValue), "to": .string(to.checksummed), "token": .string(configuration.tokenName(token)),
            "amount": .string(configuration.formatAmount(amount, token: token)), "nonce": .string("\(nonce)"), "gas": .string("\(gas)"),
            "maxFeePerGas": .string("\(maxFeePerGas)"), "maxPriorityFeePerGas": .string("\(maxPriorityFeePerGas)"),
        ])
    }

    /// The EIP-1559 transaction the master signs for this request, on the bridge's chain.
    public func transaction(chainId: BigUInt) -> Transaction {
        let fees = FeeParameters(
            chainId: chainId, nonce: BigUInt(nonce), gas: BigUInt(gas), maxFeePerGas: maxFeePerGas,
            maxPriorityFeePerGas: maxPriorityFeePerGas)
        switch kind {
        case .topup:
            return TokenTransfer.transfer(token: token, amount: amount, to: to, fees: fees)
        case .depositApproval:
            return TokenTransfer.approve(token: token, spender: to, amount: amount, fees: fees)
        case .deposit:
            let eth = token == Allowance.eth
            return Transaction(
                kind: .dynamicFee, chainId: chainId, nonce: fees.nonce, maxPriorityFeePerGas: maxPriorityFeePerGas,
                maxFeePerGas: maxFeePerGas, gas: fees.gas, to: to, value: eth ? amount : 0,
                data: eth ? ParatiiContract.deposit : ParatiiContract.depositToken(token, amount: amount))
        case .recoverySet, .recoveryStart, .recoveryCancel, .recoveryComplete:
            return Transaction(
                kind: .dynamicFee, chainId: chainId, nonce: fees.nonce, maxPriorityFeePerGas: maxPriorityFeePerGas,
                maxFeePerGas: maxFeePerGas, gas: fees.gas, to: to, value: 0, data: (recovery ?? RecoveryCall(kind: kind)).calldata)
        }
    }

    /// A top-up elsewhere than the player's wallet needs the user's confirmation; a deposit goes to the
    /// bridge's own contract.
    public func needsConfirmedRecipient(wallet: Address?) -> Bool { kind == .topup && wallet != to }

    /// The most the network fee can cost the master, in wei: what the user must see before approving.
    public var maxNetworkFee: BigUInt { BigUInt(gas) * maxFeePerGas }

    /// One line per fact the user approves.
    public func summary(_ configuration: Configuration) -> [String] {
        [
            "  \(signs(configuration))",
            "  nonce \(nonce), gas \(gas), max network fee \(Units.formatAmount(maxNetworkFee)) ETH, chain \(configuration.chainId)",
        ]
    }

    /// What the card signs, in one phrase (the summary's first line and the pinentry prompt).
    public func signs(_ configuration: Configuration) -> String {
        if let recovery { return recovery.signs(configuration, contract: to) }
        let shown = "\(configuration.formatAmount(amount, token: token)) \(configuration.tokenName(token))"
        return switch kind {
        case .topup: "top-up: \(shown) from the card's address to \(to.checksummed)"
        case .deposit:
            "deposit: \(shown) from the card's address into the Paratii contract \(to.checksummed), as escrow for its delegations"
        case .depositApproval:
            "deposit approval: the Paratii contract \(to.checksummed) may take \(shown) from the card's address (the deposit follows)"
        case .recoverySet, .recoveryStart, .recoveryCancel, .recoveryComplete: "recovery without its fields"
        }
    }
}
