import BigInt
import Ethereum
import Foundation
import Storage

/// Where Paratii messages live: the chain, the verifying contract, the PTI token address, and any
/// other ERC-20 token the user pays in, with its symbol and decimals. Read from
/// `$XDG_CONFIG_HOME/paratii/config.json` (or a given file); every key is optional.
///
///     {"chainId": 1, "verifyingContract": "0x…", "ptiToken": "0x…", "rpc": "http://127.0.0.1:8545",
///      "tokens": [{"address": "0x…", "symbol": "USDC", "decimals": 6}],
///      "payeeStore": "postgres://payee@db.example/payee?sslmode=require&passfile=/etc/paratii/pgpass"}
///
/// A token is ETH, PTI or one of `tokens`: an amount is only ever shown and signed in a token's own
/// decimals, so an address nobody described is refused rather than guessed at 18.
public struct Configuration: Sendable, Equatable {
    public var chainId: BigUInt
    public var verifyingContract: Address
    public var ptiToken: Address?
    public var tokens: [KnownToken] = []
    /// The JSON-RPC endpoint of a node on this chain; nil: offline (transactions are printed, not sent).
    public var rpc: String?
    /// The payee store: a SQLite path or a `postgres://` URL (`payee --store` overrides it).
    public var payeeStore: String?

    /// An ERC-20 token the configuration describes.
    public struct KnownToken: Sendable, Equatable {
        public var address: Address
        public var symbol: String
        public var decimals: Int

        public init(address: Address, symbol: String, decimals: Int) {
            self.address = address; self.symbol = symbol; self.decimals = decimals
        }
    }

    public init(chainId: BigUInt = 1, verifyingContract: Address = .zero, ptiToken: Address? = nil) {
        self.chainId = chainId
        self.verifyingContract = verifyingContract
        self.ptiToken = ptiToken
    }

    public var domain: Domain { Domain(chainId: chainId, verifyingContract: verifyingContract) }

    public static var defaultPath: String { Paths.config + "/config.json" }

    /// Loads `path`, or the default file when it exists, or the defaults.
    public static func load(_ path: String? = nil) throws(DelegationError) -> Configuration {
        let file = path ?? defaultPath
        guard FileManager.default.fileExists(atPath: file) else {
            if path != nil { throw .configuration("\(file) does not exist") }
            return Configuration()
        }
        let value: JSONValue
        do { value = try JSONValue.parse(try SecureFile.read(file)) } catch { throw .configuration("\(file): \(error)") }
        do { return try Configuration(json: value) } catch { throw .configuration("\(file): \(error)") }
    }

    /// The settings from a JSON object; unknown keys are refused (the services' sections are theirs).
    public init(json value: JSONValue) throws(DelegationError) {
        guard case .object(let object) = value else { throw .configuration("the configuration must be a JSON object") }
        self.init()
        for (key, member) in object.members {
            switch key {
            case "chainId":
                guard let id = IntegerText.parseUnsigned(member) else { throw .configuration("chainId must be a non-negative integer") }
                chainId = id
            case "verifyingContract", "ptiToken":
                guard case .string(let text) = member, let address = try? Address(text) else {
                    throw .configuration("\(key) must be an address")
                }
                if key == "ptiToken" { ptiToken = address } else { verifyingContract = address }
            case "rpc":
                guard case .string(let url) = member, url.hasPrefix("http://") || url.hasPrefix("https://"), url.utf8.count <= 2048 else {
                    throw .configuration("rpc must be an http:// or https:// URL")
                }
                rpc = url
            case "payeeStore":
                guard case .string(let text) = member, !text.isEmpty else {
                    throw .configuration("payeeStore must be a path or a postgres:// URL")
                }
                payeeStore = text
            case "tokens":
                guard case .array(let items) = member, items.count <= 64 else {
                    throw .configuration("tokens must be an array (at most 64)")
                }
                tokens = try items.map(Self.knownToken)
            case "bridge", "wallet", "payee":
                // A service's own section, read and checked by that service's settings: one file for all.
                continue
            default:
                throw .configuration("unknown key \"\(key)\"")
            }
        }
    }

    /// The settings as the JSON `init(json:)` reads.
    public var json: JSONValue {
        var object: JSONObject = ["chainId": .number("\(chainId)"), "verifyingContract": .string(verifyingContract.checksummed)]
        if let ptiToken { object["ptiToken"] = .string(ptiToken.checksummed) }
        if let rpc { object["rpc"] = .string(rpc) }
        if let payeeStore { object["payeeStore"] = .string(payeeStore) }
        if !tokens.isEmpty {
            object["tokens"] = .array(
                tokens.map {
                    .object([
                        "address": .string($0.address.checksummed), "symbol": .string($0.symbol), "decimals": .number("\($0.decimals)"),
                    ])
                })
        }
        return .object(object)
    }

    static func knownToken(_ value: JSONValue) throws(DelegationError) -> KnownToken {
        let usage = "each token is {\"address\": \"0x…\", \"symbol\": \"USDC\", \"decimals\": 6}"
        guard case .object(let object) = value, object.members.count == 3,
            case .string(let addressText) = object["address"], let address = try? Address(addressText),
            case .string(let symbol) = object["symbol"], (1...11).contains(symbol.utf8.count),
            symbol.utf8.allSatisfy({ (0x30...0x39).contains($0) || (0x41...0x5A).contains($0) || (0x61...0x7A).contains($0) }),
            !["ETH", "PTI"].contains(symbol.uppercased()),
            case .number(let decimalsText) = object["decimals"], let decimals = Int(decimalsText), (0...36).contains(decimals)
        else { throw .configuration(usage + " (symbol: 1 to 11 letters or digits, not ETH or PTI; decimals: 0 to 36)") }
        return KnownToken(address: address, symbol: symbol, decimals: decimals)
    }

    /// `ETH`, `PTI`, a configured token's symbol, or the address of one of these.
    public func token(_ name: String) throws(DelegationError) -> Address {
        switch name.uppercased() {
        case "ETH": return Allowance.eth
        case "PTI":
            guard let ptiToken else { throw .configuration("the PTI token address is not configured (ptiToken in \(Self.defaultPath))") }
            return ptiToken
        default:
            if let known = tokens.first(where: { $0.symbol.uppercased() == name.uppercased() }) { return known.address }
            guard let address = try? Address(name) else {
                throw .configuration("token must be ETH, PTI, a configured symbol or address, got \(name)")
            }
            guard decimals(of: address) != nil else {
                throw .configuration(
                    "unknown token \(address.checksummed): add it to \"tokens\" in \(Self.defaultPath) with its symbol and decimals")
            }
            return address
        }
    }

    /// The token's decimals: 18 for ETH and PTI, the configured ones otherwise; nil for an unknown token.
    public func decimals(of address: Address) -> Int? {
        if address == Allowance.eth || address == ptiToken { return Units.decimals }
        return tokens.first(where: { $0.address == address })?.decimals
    }

    public func tokenName(_ address: Address) -> String {
        if address == Allowance.eth { return "ETH" }
        if address == ptiToken { return "PTI" }
        return tokens.first(where: { $0.address == address })?.symbol ?? address.checksummed
    }

    /// A decimal amount in `token`'s own decimals: "0.000001" of a 6-decimal token is 1 base unit.
    public func parseAmount(_ text: String, token: Address) throws(DelegationError) -> BigUInt {
        guard let decimals = decimals(of: token) else { throw .configuration("unknown token \(token.checksummed)") }
        return try Units.parseAmount(text, decimals: decimals)
    }

    /// Base units shown in `token`'s own decimals (an unknown token's are shown as base units).
    public func formatAmount(_ value: BigUInt, token: Address) -> String {
        guard let decimals = decimals(of: token) else { return "\(value) base units" }
        return Units.formatAmount(value, decimals: decimals)
    }
}
