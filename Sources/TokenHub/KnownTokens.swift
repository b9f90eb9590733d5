import Foundation

/// One entry of udev/known-tokens.json (schema 1). Only the fields code may rely on; the free-text
/// fields (notes, sources, firmwareVersionFrom) are for humans.
public struct KnownToken: Hashable, Sendable, Decodable {
    public enum Interface: String, Hashable, Sendable, Decodable {
        case ccid
        case ccidPlusHID = "ccid+hid"
        case hidOnly = "hid-only"
    }

    public struct Secp256k1: Hashable, Sendable, Decodable {
        public let supported: Bool
        /// First firmware with it, in the token's own version scheme; nil when unknown or unsupported.
        public let sinceFirmware: String?
    }

    public let name: String
    public let vendorId: String
    public let productIds: [String]
    public let interface: Interface
    public let openpgp: Bool
    public let secp256k1: Secp256k1
    public let notes: String
}

/// The table, loaded from the module's copy of udev/known-tokens.json.
public struct TokenTable: Sendable {
    public let tokens: [KnownToken]

    public init(tokens: [KnownToken]) { self.tokens = tokens }

    /// Parses and checks the same rules as udev/generate-rules.py.
    public init(json: Data) throws(TokenHubError) {
        struct File: Decodable { let schema: Int; let tokens: [KnownToken] }
        let file: File
        do { file = try JSONDecoder().decode(File.self, from: json) } catch {
            throw .tokenTable("cannot parse: \(error)")
        }
        guard file.schema == 1 else { throw .tokenTable("schema \(file.schema), expected 1") }
        guard !file.tokens.isEmpty else { throw .tokenTable("no tokens") }
        for token in file.tokens {
            guard !token.name.isEmpty, !token.name.contains("\n") else { throw .tokenTable("an entry has no one-line name") }
            guard Self.isHex4(token.vendorId) else { throw .tokenTable("\(token.name): vendorId '\(token.vendorId)'") }
            guard !token.productIds.isEmpty, token.productIds.allSatisfy(Self.isHex4) else {
                throw .tokenTable("\(token.name): productIds \(token.productIds)")
            }
            guard !(token.openpgp && token.interface == .hidOnly) else { throw .tokenTable("\(token.name): OpenPGP needs CCID") }
            if let since = token.secp256k1.sinceFirmware, FirmwareVersion(since) == nil {
                throw .tokenTable("\(token.name): sinceFirmware '\(since)'")
            }
        }
        tokens = file.tokens
    }

    /// The copy bundled with this module. Looked up without `Bundle.module`, whose accessor traps when the
    /// bundle is missing (a copied binary): doctor reports a missing table instead of crashing.
    public static func bundled() throws(TokenHubError) -> TokenTable {
        // This module's bundle (the table moved here from Doctor: a build tree still holding Doctor's old
        // bundle hid that the lookup named only that one, and a fresh build found no table).
        let names = ["paratii-signer-bridge_TokenHub.resources", "paratii-signer-bridge_TokenHub.bundle"]
        var dirs = [
            Bundle.main.bundleURL, URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath().deletingLastPathComponent(),
        ]
        if let resources = Bundle.main.resourceURL { dirs.append(resources) }
        for dir in dirs {
            for name in names {
                for sub in ["known-tokens.json", "Contents/Resources/known-tokens.json"] {
                    if let data = FileManager.default.contents(atPath: dir.appendingPathComponent(name).appendingPathComponent(sub).path) {
                        return try TokenTable(json: data)
                    }
                }
            }
        }
        throw .tokenTable("known-tokens.json not found next to the executable (keep the Doctor resource bundle beside it)")
    }

    /// The entry for a USB id, if any.
    public func token(vendorId: UInt16, productId: UInt16) -> KnownToken? {
        let vid = Self.hex4(vendorId), pid = Self.hex4(productId)
        return tokens.first { $0.vendorId == vid && $0.productIds.contains(pid) }
    }

    public static func hex4(_ value: UInt16) -> String {
        let digits = String(value, radix: 16)
        return String(repeating: "0", count: 4 - digits.count) + digits
    }

    static func isHex4(_ s: String) -> Bool {
        s.count == 4 && s.allSatisfy { ("0"..."9").contains($0) || ("a"..."f").contains($0) }
    }
}

/// A dotted numeric version. A shorter version is a prefix with unknown later parts, so "1.8" is neither
/// older nor newer than "1.8.2" (Nitrokey 3's bcdDevice carries no patch level).
public struct FirmwareVersion: Hashable, Sendable, CustomStringConvertible {
    public let parts: [Int]

    public init?(_ text: String) {
        let parts = text.split(separator: ".", omittingEmptySubsequences: false).map { Int($0) }
        guard !parts.isEmpty, parts.allSatisfy({ $0 != nil && $0! >= 0 }) else { return nil }
        self.parts = parts.map { $0! }
    }

    public init(parts: [Int]) { self.parts = parts }

    public var description: String { parts.map(String.init).joined(separator: ".") }

    /// True or false when the known parts decide it; nil when this version is too coarse to tell.
    public func isAtLeast(_ other: FirmwareVersion) -> Bool? {
        for (a, b) in zip(parts, other.parts) where a != b { return a > b }
        return parts.count >= other.parts.count ? true : nil
    }
}
