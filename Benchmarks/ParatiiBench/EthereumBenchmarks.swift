import BigInt
import CBaseline
import Delegation
import Ethereum
import Foundation

/// Issue 2's three figures, each against a limit measured in this run.
enum EthereumBenchmarks {
    static func run() throws {
        keccakVersusOpenSSL()
        try signAndRecoverVersusC()
        try spendingDelegationDigest()
    }

    /// Keccak-256 over 1 MiB vs OpenSSL's SHA3-256 (the same permutation): goal ≥ 0.5.
    static func keccakVersusOpenSSL() {
        let data = [UInt8]((0..<(1 << 20)).map { UInt8(truncatingIfNeeded: $0 &* 2654435761 >> 13) })
        var sink: UInt8 = 0
        var out = [UInt8](repeating: 0, count: 32)
        let (swift, openssl) = Measure.pair(
            iterations: 10, { sink ^= Keccak256.hash(data)[0] },
            {
                data.withUnsafeBufferPointer { cb_sha3_256($0.baseAddress, $0.count, &out) }
                sink ^= out[0]
            })
        let mib = { (seconds: Double) in String(format: "%.0f MiB/s", 1 / seconds) }
        Measure.report(
            "keccak256 1 MiB vs OpenSSL SHA3-256", ratio: openssl / swift, goal: "≥ 0.5",
            detail: "Swift \(mib(swift)), OpenSSL \(mib(openssl)) [\(sink & 0)]")
    }

    /// sign and recover through the Swift API vs libsecp256k1 called directly in C: goal ≥ 0.9.
    static func signAndRecoverVersusC() throws {
        let key = try PrivateKey(hex: "0x4646464646464646464646464646464646464646464646464646464646464646")
        let digest = Keccak256.hash("benchmark")
        let secret = key.withUnsafeSecret { Array($0) }
        let signature = try key.sign(digest: digest)
        let rsid = signature.r + signature.s + [signature.recoveryID]
        let n = 2000

        let (swiftSign, cSignLoop) = try Measure.pair(
            iterations: 1, { for _ in 0..<n { _ = try key.sign(digest: digest) } },
            { precondition(cb_secp256k1_sign_loop(secret, digest, Int32(n)) == 1) })
        let (swiftRecoverLoop, cRecoverLoop) = try Measure.pair(
            iterations: 1, { for _ in 0..<n { _ = try signature.recoverPublicKey(digest: digest) } },
            { precondition(cb_secp256k1_recover_loop(rsid, digest, Int32(n)) == 1) })
        let (cSign, swiftRecover, cRecover) = (cSignLoop / Double(n), swiftRecoverLoop / Double(n), cRecoverLoop / Double(n))
        let swiftSignPer = swiftSign / Double(n)
        let us = { (s: Double) in String(format: "%.1f µs", s * 1e6) }
        Measure.report(
            "secp256k1 sign, Swift API vs C", ratio: cSign / swiftSignPer, goal: "≥ 0.9",
            detail: "Swift \(us(swiftSignPer)), C \(us(cSign)) per signature")
        Measure.report(
            "secp256k1 recover, Swift API vs C", ratio: cRecover / swiftRecover, goal: "≥ 0.9",
            detail: "Swift \(us(swiftRecover)), C \(us(cRecover)) per recovery")
    }

    /// EIP-712 digest of a SpendingDelegation with two allowances: goal ≤ 10 µs. The product hashes
    /// its typed structs natively; the generic JSON path (`TypedData`) is reported beside it.
    static func spendingDelegationDigest() throws {
        let typed = try TypedData(parsing: sampleDelegation)
        let delegation = try SpendingDelegation(message: typed.message)
        let domain = try Domain(json: typed.domain)
        let genericDigest = try typed.digest()
        precondition(delegation.digest(in: domain) == genericDigest, "native and generic digests disagree")
        let native = Measure.secondsPerCall(iterations: 50_000) { _ = delegation.digest(in: domain) }
        let generic = try Measure.secondsPerCall(iterations: 5_000) { _ = try typed.digest() }
        Measure.report(
            "EIP-712 SpendingDelegation digest (typed struct)", ratio: 10e-6 / native, goal: "≥ 1, i.e. ≤ 10 µs",
            detail: String(format: "%.2f µs per digest; generic JSON typed data %.2f µs", native * 1e6, generic * 1e6))
    }

    static let sampleDelegation = #"""
        {"types":{
          "EIP712Domain":[{"name":"name","type":"string"},{"name":"version","type":"string"},{"name":"chainId","type":"uint256"},{"name":"verifyingContract","type":"address"}],
          "Allowance":[{"name":"token","type":"address"},{"name":"total","type":"uint256"},{"name":"perPayment","type":"uint256"},{"name":"period","type":"uint64"},{"name":"perPeriod","type":"uint256"}],
          "SpendingDelegation":[{"name":"master","type":"address"},{"name":"spender","type":"address"},{"name":"allowances","type":"Allowance[]"},{"name":"payees","type":"address[]"},{"name":"validAfter","type":"uint64"},{"name":"validUntil","type":"uint64"},{"name":"salt","type":"uint256"}]},
         "primaryType":"SpendingDelegation",
         "domain":{"name":"Paratii","version":"1","chainId":1,"verifyingContract":"0xCcCCccccCCCCcCCCCCCcCcCccCcCCCcCcccccccC"},
         "message":{"master":"0xCD2a3d9F938E13CD947Ec05AbC7FE734Df8DD826","spender":"0x9d8A62f656a8d1615C1294fd71e9CFb3E4855A4F",
           "allowances":[
             {"token":"0x0000000000000000000000000000000000000000","total":"50000000000000000","perPayment":"100000000000000","period":86400,"perPeriod":"10000000000000000"},
             {"token":"0xA0b86991c6218b36c1d19D4a2e9Eb0cE3606eB48","total":"5000000000000000000","perPayment":"10000000000000000","period":0,"perPeriod":"0"}],
           "payees":[],"validAfter":1764000000,"validUntil":1766592000,"salt":"0x5eed"}}
        """#
}
