import Ethereum
import Testing

/// v as ecrecover takes it (27/28) is the only form envelopes accept; generic recovery also takes 0/1.
@Suite struct SignatureVTests {
    @Test func ethereumEncodingRefusesRawRecoveryIDsAndEveryFormWrites27Or28() throws {
        let key = try PrivateKey(hex: "0x" + String(repeating: "11", count: 32))
        let digest = Keccak256.hash("v")
        let signed = try key.sign(digest: digest)
        var raw = signed.bytes
        raw[64] -= 27
        #expect(throws: EthereumError.self) { try Signature(bytes: raw, v: .ethereum) }
        #expect(try Signature(bytes: signed.bytes, v: .ethereum) == signed)
        let lenient = try Signature(bytes: raw)
        #expect(lenient == signed)
        #expect([27, 28].contains(lenient.bytes[64]))
        #expect(try lenient.recoverAddress(digest: digest) == key.address)
    }

    /// `recoverAddress` hashes the recovered key where it was serialized; it must name the same address as
    /// the recovered `PublicKey` and the signer's own.
    @Test func recoverAddressIsTheRecoveredKeysAddress() throws {
        for seed in 1...8 {
            let key = try PrivateKey(hex: "0x" + String(repeating: String(format: "%02x", seed), count: 32))
            let digest = Keccak256.hash("recover \(seed)")
            let signature = try key.sign(digest: digest)
            #expect(try signature.recoverAddress(digest: digest) == key.address)
            #expect(try signature.recoverAddress(digest: digest) == signature.recoverPublicKey(digest: digest).address)
            #expect(try signature.recoverAddress(digest: Keccak256.hash("other")) != key.address)
        }
    }
}
