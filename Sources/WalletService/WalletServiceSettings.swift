import Bridge
import Delegation
import Storage

/// How `paratii wallet serve` runs: where it listens, when it locks itself, how large a body may be.
public struct WalletServiceSettings: Sendable {
    /// The local tools' socket (lock, unlock, approve): 0600 in a private directory, like the bridge's.
    public var socketPath: String
    /// The pages' listener: loopback only (port 0 picks one and the service prints it).
    public var tcp: (host: String, port: Int)?
    /// Lock (drop the key from memory) after this many seconds without a request that needs it; nil: never.
    public var idleLock: UInt64?
    public var bodyLimit = 16 * 1024
    /// A pairing the user has not approved is forgotten after this many seconds.
    public var pairingExpiry: UInt64 = 600
    /// At most this many pairings wait at once (a page cannot flood the user's list).
    public var pendingLimit = 16
    /// Token names and decimals for what the pages show.
    public var configuration: Configuration
    /// The bridge to ask for a delegation when the wallet has none usable; nil: pay only under imported ones.
    public var delegationSource: DelegationSource?
    /// What the user must do for the bridge (approve a request, type a pairing code): the CLI's terminal.
    public var notice: @Sendable (String) -> Void = { _ in }
    /// How often an unlocked service looks whether its delegation is about to expire or run out.
    public var delegationCheckInterval: UInt64 = 60

    public static var defaultSocketPath: String { Paths.runtime + "/wallet.sock" }

    public init(socketPath: String, tcp: (host: String, port: Int)? = nil, idleLock: UInt64? = nil, configuration: Configuration) {
        self.socketPath = socketPath
        self.tcp = tcp
        self.idleLock = idleLock
        self.configuration = configuration
    }
}
