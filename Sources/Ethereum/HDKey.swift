import CSecp256k1
import Crypto

/// A BIP-32 derivation path such as m/44'/60'/0'/0/0 (indices ≥ 2^31 are hardened).
public struct DerivationPath: Sendable, Equatable, CustomStringConvertible {
    public static let hardened: UInt32 = 0x8000_0000
    /// BIP-44's first Ethereum account, what MetaMask, Ledger, Trezor and eth-account derive by default:
    /// the same words give the same address in any of them.
    public static let ethereum = DerivationPath(indices: [44 | hardened, 60 | hardened, hardened, 0, 0])

    public let indices: [UInt32]

    public init(indices: [UInt32]) { self.indices = indices }

    /// Parses "m/44'/60'/0'/0/0" (h or H also mark hardened indices).
    public init(_ text: String) throws(EthereumError) {
        var parts = text.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.first == "m" else { throw .invalidDerivation("a path starts with m/") }
        parts.removeFirst()
        var indices: [UInt32] = []
        for part in parts {
            let isHardened = part.last.map { "'hH".contains($0) } ?? false
            guard let index = UInt32(isHardened ? part.dropLast() : part), index < Self.hardened else {
                throw .invalidDerivation("bad index \"\(part)\"")
            }
            indices.append(isHardened ? index | Self.hardened : index)
        }
        self.indices = indices
    }

    public var description: String {
        (["m"] + indices.map { $0 >= Self.hardened ? "\($0 - Self.hardened)'" : "\($0)" }).joined(separator: "/")
    }
}

/// A BIP-32 extended private key (private derivation only: a key born off card is derived once, at
/// the moment it is imported, and nothing public is ever derived from it here). The key and chain code
/// share one allocation that is wiped when the value is dropped.
public final class ExtendedPrivateKey: @unchecked Sendable {
    /// key (32) ‖ chain code (32)
    private let secret: UnsafeMutableRawBufferPointer

    private init(hmacOutput: inout [UInt8]) throws(EthereumError) {
        defer { secureZero(&hmacOutput) }
        guard hmacOutput.count == 64 else { throw .invalidDerivation("HMAC-SHA512 output is not 64 bytes") }
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 64, alignment: 16)
        buffer.copyBytes(from: hmacOutput)
        guard secp256k1_ec_seckey_verify(Secp256k1.context, buffer.baseAddress!.assumingMemoryBound(to: UInt8.self)) == 1 else {
            secureZero(buffer)
            buffer.deallocate()
            throw .invalidDerivation("derived key is out of range (try the next index)")
        }
        secret = buffer
    }

    deinit {
        secureZero(secret)
        secret.deallocate()
    }

    /// The master key of a seed (16 to 64 bytes): HMAC-SHA512 keyed with "Bitcoin seed".
    public static func master(seed: [UInt8]) throws(EthereumError) -> ExtendedPrivateKey {
        guard seed.count >= 16, seed.count <= 64 else { throw .invalidDerivation("seed must be 16 to 64 bytes") }
        var output = hmac(key: Array("Bitcoin seed".utf8), seed)
        return try ExtendedPrivateKey(hmacOutput: &output)
    }

    /// The master key of a mnemonic's seed, derived down `path` (m/44'/60'/0'/0/0 unless told).
    public static func from(
        _ mnemonic: Mnemonic, passphrase: String = "", path: DerivationPath = .ethereum
    ) throws(EthereumError)
        -> ExtendedPrivateKey
    {
        var seed = try mnemonic.seed(passphrase: passphrase)
        defer { secureZero(&seed) }
        return try master(seed: seed).derive(path)
    }

    /// CKDpriv: the child at `index` (hardened when ≥ 2^31).
    public func child(_ index: UInt32) throws(EthereumError) -> ExtendedPrivateKey {
        var data: [UInt8] = []
        data.reserveCapacity(37)
        if index >= DerivationPath.hardened {
            data.append(0)
            data += UnsafeRawBufferPointer(rebasing: secret[0..<32])
        } else {
            data += try privateKey().publicKey.compressed
        }
        data += withUnsafeBytes(of: index.bigEndian, Array.init)
        defer { secureZero(&data) }
        var chainCode = Array(UnsafeRawBufferPointer(rebasing: secret[32..<64]))
        var output = Self.hmac(key: chainCode, data)
        defer { secureZero(&chainCode); secureZero(&output) }
        // child key = parse256(IL) + k (mod n); libsecp256k1 refuses IL ≥ n and a zero result, as BIP-32 does.
        var childKey = Array(UnsafeRawBufferPointer(rebasing: secret[0..<32]))
        defer { secureZero(&childKey) }
        let added = output.withUnsafeBufferPointer { secp256k1_ec_seckey_tweak_add(Secp256k1.context, &childKey, $0.baseAddress!) }
        guard added == 1 else {
            throw .invalidDerivation("child \(index) is out of range (try the next index)")
        }
        var next = childKey + output[32..<64]
        return try ExtendedPrivateKey(hmacOutput: &next)
    }

    public func derive(_ path: DerivationPath) throws(EthereumError) -> ExtendedPrivateKey {
        var key = self
        for index in path.indices { key = try key.child(index) }
        return key
    }

    /// The key as a signing key (a copy in its own wiped allocation).
    public func privateKey() throws(EthereumError) -> PrivateKey {
        try PrivateKey(bytes: UnsafeRawBufferPointer(rebasing: secret[0..<32]))
    }

    public var chainCode: [UInt8] { Array(UnsafeRawBufferPointer(rebasing: secret[32..<64])) }

    private static func hmac(key: [UInt8], _ data: [UInt8]) -> [UInt8] {
        Array(HMAC<SHA512>.authenticationCode(for: data, using: SymmetricKey(data: key)))
    }
}

extension ExtendedPrivateKey: CustomStringConvertible, CustomDebugStringConvertible, CustomReflectable {
    public var description: String { "ExtendedPrivateKey(secret redacted)" }
    public var debugDescription: String { description }
    public var customMirror: Mirror { Mirror(self, children: [:]) }
}
