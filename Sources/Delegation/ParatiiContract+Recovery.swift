import BigInt
import Ethereum

/// The contract's recovery functions (a lost card): calldata for the four transactions and the views
/// `paratii recovery status`, `doctor` and `card status` read.
extension ParatiiContract {
    /// The shortest and longest delay the contract accepts for a takeover: its withdrawal delay, and a year.
    public static let maximumRecoveryDelay: UInt64 = 365 * 86400

    /// `setRecovery(account, delay)`: the master names its recovery address (zero and 0: removes it).
    public static func setRecovery(account: Address, delay: UInt64) -> [UInt8] {
        (try? ABI.call("setRecovery(address,uint256)", [.address(account), .uint(BigUInt(delay))])) ?? []
    }

    /// `startTakeover(master)`, sent by the recovery address.
    public static func startTakeover(master: Address) -> [UInt8] {
        (try? ABI.call("startTakeover(address)", [.address(master)])) ?? []
    }

    /// `cancelTakeover()`, sent by the master.
    public static var cancelTakeover: [UInt8] { ABI.selector("cancelTakeover()") }

    /// `completeTakeover(master, tokens)`: ETH always moves; `tokens` are the others to move (at most 8).
    public static func completeTakeover(master: Address, tokens: [Address]) -> [UInt8] {
        (try? ABI.call("completeTakeover(address,address[])", [.address(master), .array(tokens.map { .address($0) })])) ?? []
    }

    /// `recovery(master)` → (account, delay, readyAt).
    public static func recovery(master: Address) -> [UInt8] {
        (try? ABI.call("recovery(address)", [.address(master)])) ?? []
    }

    /// `recoveredTo(master)` → the address that took it over, or zero.
    public static func recoveredTo(master: Address) -> [UInt8] {
        (try? ABI.call("recoveredTo(address)", [.address(master)])) ?? []
    }

    /// `DELAY()`: the withdrawal and revocation delay, the least a takeover may wait.
    public static var delay: [UInt8] { ABI.selector("DELAY()") }

    /// A master's recovery setting as the contract holds it.
    public struct RecoverySetting: Sendable, Equatable {
        /// Zero: no recovery address named.
        public var account: Address
        public var delay: BigUInt
        /// Zero: no takeover pending; else the time it can be completed.
        public var readyAt: BigUInt
    }

    public static func recoverySetting(_ returned: [UInt8]) throws(DelegationError) -> RecoverySetting {
        guard let values = try? ABI.decode(returned, as: [.address, .uint(bits: 256), .uint(bits: 256)]),
            case .address(let account) = values[0], case .uint(let delay) = values[1], case .uint(let readyAt) = values[2]
        else { throw .malformed("the contract returned \(returned.count) bytes, not a recovery setting") }
        return RecoverySetting(account: account, delay: delay, readyAt: readyAt)
    }

    public static func address(_ returned: [UInt8]) throws(DelegationError) -> Address {
        guard case .address(let address)? = try? ABI.decode(returned, as: [.address]).first else {
            throw .malformed("the contract returned \(returned.count) bytes, not an address")
        }
        return address
    }
}
