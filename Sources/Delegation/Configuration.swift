import BigInt
import Ethereum
import Foundation

/// Where Paratii messages live: the chain, the verifying contract, and the PTI token address.
/// Read from `$XDG_CONFIG_HOME/paratii/config.json` (or a given file); every key is optional.
///
///     {"chainId": 1, "verifyingContract": "0x…", "ptiToken": "0x…"}
public struct Configuration: Sendable, Equatable {
    public var chainId: BigUInt
    public var verifyingContract: Address
    public var ptiToken: Address?

    public init(chainId: BigUInt = 1, verifyingContract: Address = .zero, ptiToken: Address? = nil) {
        self.chainId = chainId
        self.verifyingContract = verifyingContract
        self.ptiToken = ptiToken
    }

    public var domain: Domain { Domain(chainId: chainId, verifyingContract: verifyingContract) }

    public static var defaultPath: String {
        let environment = ProcessInfo.processInfo.environment
        let base = environment["XDG_CONFIG_HOME"].flatMap { $0.isEmpty ? nil : $0 } ?? (NSHomeDirectory() + "/.config")
        return base + "/paratii/config.json"
    }

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

    /// The settings from a JSON object; unknown keys are refused.
    public init(json value: JSONValue) throws(DelegationError) {
        guard case .object(let object) = value else { throw .configuration("the configuration must be a JSON object") }
        self.init()
        for (key, member) in object.members {
            switch key {
            case "chainId":
                guard let id = IntegerText.parseUnsigned(member) else { throw .configuration("chainId must be a non-negative integer") }
                chainId = id
            case "verifyingContract", "ptiToken":
                guard case .string(let text) = member, let address = try? Address(text) else { throw .configuration("\(key) must be an address") }
                if key == "ptiToken" { ptiToken = address } else { verifyingContract = address }
            default:
                throw .configuration("unknown key \"\(key)\"")
            }
        }
    }

    /// The settings as the JSON `init(json:)` reads.
    public var json: JSONValue {
        var object: JSONObject = ["chainId": .number("\(chainId)"), "verifyingContract": .string(verifyingContract.checksummed)]
        if let ptiToken { object["ptiToken"] = .string(ptiToken.checksummed) }
        return .object(object)
    }

    /// `ETH`, `PTI` or a token address.
    public func token(_ name: String) throws(DelegationError) -> Address {
        switch name.uppercased() {
        case "ETH": return Allowance.eth
        case "PTI":
            guard let ptiToken else { throw .configuration("the PTI token address is not configured (ptiToken in \(Self.defaultPath))") }
            return ptiToken
        default:
            guard let address = try? Address(name) else { throw .configuration("token must be ETH, PTI or an address, got \(name)") }
            return address
        }
    }

    public func tokenName(_ address: Address) -> String {
        if address == Allowance.eth { return "ETH" }
        if address == ptiToken { return "PTI" }
        return address.checksummed
    }
}
