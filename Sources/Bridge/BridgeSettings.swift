import BigInt
import Delegation
import Ethereum
import Foundation
import LoopbackHTTP
import Storage

/// The bridge's configuration: the chain settings shared with every command (`Delegation.Configuration`)
/// plus the bridge's own, read from one JSON file (every key optional):
///
///     {"chainId": 1, "verifyingContract": "0x…", "ptiToken": "0x…",
///      "bridge": {"allowedOrigins": ["http://localhost:8080"], "requestExpiry": "10m",
///                 "pairingExpiry": "10m", "bodyLimit": 65536, "socket": "/run/user/1000/paratii/bridge.sock",
///                 "tcp": "127.0.0.1:8547", "database": "/home/u/.local/share/paratii/bridge.sqlite"}}
public struct BridgeSettings: Sendable {
    public var chain: Configuration
    public var allowedOrigins: [String] = []
    /// Seconds a pending delegation request waits for the user before it expires.
    public var requestExpiry: UInt64 = 600
    /// Seconds a pending pairing waits for the user's approval.
    public var pairingExpiry: UInt64 = 600
    public var bodyLimit: Int = 64 * 1024
    /// The longest `validFor` a player may ask for.
    public var maxValidFor: UInt64 = 366 * 86400
    public var socketPath: String
    public var tcp: (host: String, port: Int)?
    public var databasePath: String

    public init(
        chain: Configuration = Configuration(), socketPath: String = BridgeSettings.defaultSocketPath,
        databasePath: String = BridgeSettings.defaultDatabasePath
    ) {
        self.chain = chain
        self.socketPath = socketPath
        self.databasePath = databasePath
    }

    public static var defaultSocketPath: String { Paths.runtime + "/bridge.sock" }

    public static var defaultDatabasePath: String { Paths.data + "/bridge.sqlite" }

    /// Loads `path` (or the default configuration file when it exists). The `bridge` member is ours; the
    /// rest is handed to `Configuration.load`'s rules.
    public static func load(_ path: String?) throws -> BridgeSettings {
        let file = path ?? Configuration.defaultPath
        guard FileManager.default.fileExists(atPath: file) else {
            if path != nil { throw BridgeError.configuration("\(file) does not exist") }
            return BridgeSettings()
        }
        guard case .object(var object) = try JSONValue.parse(try SecureFile.read(file)) else {
            throw BridgeError.configuration("\(file) must hold a JSON object")
        }
        let bridge = object["bridge"]
        object["bridge"] = nil
        // The chain part by the shared rules, without our member.
        let chain: Configuration
        do { chain = try Configuration(json: .object(object)) } catch { throw BridgeError.configuration("\(file): \(error)") }
        var settings = BridgeSettings(chain: chain)
        if let bridge { try settings.apply(bridge) }
        return settings
    }

    mutating func apply(_ value: JSONValue) throws {
        guard case .object(let object) = value else { throw BridgeError.configuration("bridge must be an object") }
        for (key, member) in object.members {
            switch key {
            case "allowedOrigins":
                guard let items = member.arrayValue else { throw BridgeError.configuration("allowedOrigins must be an array of strings") }
                allowedOrigins = try items.map {
                    guard let text = $0.stringValue else { throw BridgeError.configuration("allowedOrigins must be an array of strings") }
                    return text
                }
            case "requestExpiry", "pairingExpiry", "maxValidFor":
                guard let text = member.stringValue else { throw BridgeError.configuration("\(key) must be a duration such as \"10m\"") }
                let seconds = try Units.parseDuration(text)
                // The store writes now + expiry as a 64-bit signed time: an unbounded expiry trapped there.
                guard key == "maxValidFor" || seconds <= 366 * 86400 else {
                    throw BridgeError.configuration("\(key) must be at most 366d")
                }
                switch key {
                case "requestExpiry": requestExpiry = seconds
                case "pairingExpiry": pairingExpiry = seconds
                default: maxValidFor = seconds
                }
            case "bodyLimit":
                guard case .number(let text) = member, let limit = Int(text), limit >= 1024, limit <= 1 << 24 else {
                    throw BridgeError.configuration("bodyLimit must be an integer between 1024 and 16777216")
                }
                bodyLimit = limit
            case "socket", "database":
                guard let text = member.stringValue, text.hasPrefix("/") else {
                    throw BridgeError.configuration("\(key) must be an absolute path")
                }
                if key == "socket" { socketPath = text } else { databasePath = text }
            case "tcp":
                guard let text = member.stringValue else { throw BridgeError.configuration("tcp must be \"127.0.0.1:PORT\"") }
                tcp = try Self.parseLoopback(text)
            default:
                throw BridgeError.configuration("unknown key \"\(key)\" in bridge settings")
            }
        }
    }

    /// `127.0.0.1:PORT`, `[::1]:PORT` or `localhost:PORT`; anything else is refused (the API is local only).
    public static func parseLoopback(_ text: String) throws -> (host: String, port: Int) {
        do { return try LoopbackHost.parseListen(text, who: "the bridge").get() } catch {
            throw BridgeError.configuration(error.description)
        }
    }
}

public enum BridgeError: Error, CustomStringConvertible, Sendable {
    case configuration(String)
    case io(String)
    case protocolError(String)

    public var description: String {
        switch self {
        case .configuration(let text), .io(let text), .protocolError(let text): text
        }
    }
}
