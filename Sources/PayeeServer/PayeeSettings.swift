import BigInt
import Delegation
import Ethereum
import Foundation
import Storage

/// What one segment costs and whom it pays: the `payee` section of the configuration file, next to
/// the chain settings every command shares (chainId and verifyingContract make the EIP-712 domain):
///
///     {"chainId": 1, "verifyingContract": "0x…", "ptiToken": "0x…",
///      "payee": {"address": "0x…", "token": "ETH", "price": "0.0001", "maxTimeoutSeconds": 60}}
///
/// `token` is ETH, PTI or a configured symbol or address; `price` is decimal in that token's own
/// decimals, as everywhere else.
public struct PayeeSettings: Sendable {
    public var chain: Configuration
    public var payee: Address
    public var token: Address
    /// Base units per segment.
    public var price: BigUInt
    /// How long a 402's offer stands (x402's maxTimeoutSeconds): informative, nothing expires server side.
    public var maxTimeoutSeconds: Int = 60

    public init(chain: Configuration, payee: Address, token: Address, price: BigUInt) {
        self.chain = chain
        self.payee = payee
        self.token = token
        self.price = price
    }

    public var network: String { "eip155:\(chain.chainId)" }

    /// Loads `path` (or the default configuration file); the `payee` section is required.
    public static func load(_ path: String?) throws -> PayeeSettings {
        let file = path ?? Configuration.defaultPath
        let chain: Configuration
        do { chain = try Configuration.load(path) } catch { throw PayeeServerError.configuration("\(error)") }
        guard FileManager.default.fileExists(atPath: file), case .object(let object) = try JSONValue.parse(try SecureFile.read(file)),
            let section = object["payee"]
        else {
            throw PayeeServerError.configuration(
                "\(file) has no \"payee\" section: {\"payee\": {\"address\": \"0x…\", \"token\": \"ETH\", \"price\": \"0.0001\"}}")
        }
        return try PayeeSettings(section, chain: chain)
    }

    /// The `payee` section against `chain`; unknown members refused.
    public init(_ section: JSONValue, chain: Configuration) throws {
        guard case .object(let object) = section else { throw PayeeServerError.configuration("payee must be an object") }
        for key in object.keys where !["address", "token", "price", "maxTimeoutSeconds"].contains(key) {
            throw PayeeServerError.configuration("unknown key \"\(key)\" in payee settings")
        }
        guard let text = object["address"]?.stringValue, let payee = try? Address(text) else {
            throw PayeeServerError.configuration("payee.address must be an address")
        }
        let token: Address
        do { token = try chain.token(object["token"]?.stringValue ?? "ETH") } catch {
            throw PayeeServerError.configuration("payee.token: \(error)")
        }
        guard let priceText = object["price"]?.stringValue else {
            throw PayeeServerError.configuration("payee.price must be a decimal string such as \"0.0001\"")
        }
        let price: BigUInt
        do { price = try chain.parseAmount(priceText, token: token) } catch {
            throw PayeeServerError.configuration("payee.price: \(error)")
        }
        guard price > 0 else { throw PayeeServerError.configuration("payee.price must be above zero") }
        self.init(chain: chain, payee: payee, token: token, price: price)
        if let timeout = object["maxTimeoutSeconds"] {
            guard case .number(let digits) = timeout, let seconds = Int(digits), (1...86400).contains(seconds) else {
                throw PayeeServerError.configuration("payee.maxTimeoutSeconds must be 1 to 86400")
            }
            maxTimeoutSeconds = seconds
        }
    }
}
