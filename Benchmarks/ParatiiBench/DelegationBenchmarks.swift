import BigInt
import Delegation
import Ethereum

/// Issue 4's figures: verifying a voucher under a chain seen before, as a ratio to libsecp256k1's
/// recover rate in the same run (goal ≥ 0.8), and the cold verification of a three-link chain.
enum DelegationBenchmarks {
    static func run() throws {
        let domain = Domain(chainId: 1, verifyingContract: .zero)
        let master = try PrivateKey(hex: "0x" + String(repeating: "11", count: 32))
        let spender = try PrivateKey(hex: "0x" + String(repeating: "22", count: 32))
        let poster = try PrivateKey(hex: "0x" + String(repeating: "33", count: 32))
        let now: UInt64 = 1_800_000_000
        let allowance = Allowance(
            token: .zero, total: BigUInt(10).power(18), perPayment: BigUInt(10).power(15), period: 86400, perPeriod: BigUInt(10).power(17))
        let delegation = SpendingDelegation(
            master: master.address, spender: spender.address, allowances: [allowance],
            validAfter: now - 10, validUntil: now + 86400, salt: 1)
        let spending = try Envelope.sign(delegation, domain: domain, signer: master)
        let payee = try Address("0x00000000000000000000000000000000000000bb")
        let count = 2000
        let vouchers = try (1...count).map { i in
            try Envelope.sign(
                Voucher(
                    delegation: spending.id, payee: payee, token: .zero, cumulative: BigUInt(i), sequence: UInt64(i),
                    memo: Keccak256.hash("segment-\(i)")), domain: domain, signer: spender, parents: [spending])
        }
        let texts = vouchers.map { Array($0.json.compactText.utf8) }

        let verifier = Verifier(domain: domain)
        precondition(verifier.verify(vouchers[0], at: now).valid)
        let signature = try Signature(bytes: vouchers[0].signature)
        let digest = vouchers[0].id
        var index = 0
        let (cached, recover) = try Measure.pair(
            iterations: count,
            {
                precondition(verifier.verify(vouchers[index % count], at: now).valid)
                index += 1
            }, { _ = try signature.recoverPublicKey(digest: digest) })
        index = 0
        let fromText = try Measure.secondsPerCall(iterations: count) {
            let envelope = try Envelope(parsing: texts[index % count])
            precondition(verifier.verify(envelope, at: now).valid)
            index += 1
        }
        let us = { (s: Double) in String(format: "%.1f µs", s * 1e6) }
        Measure.report(
            "voucher verify, chain seen before, vs secp256k1 recover rate", ratio: recover / cached, goal: "≥ 0.8",
            detail: "verify \(us(cached)), recover \(us(recover)); parsing the JSON envelope too: \(us(fromText))")

        let posting = try Envelope.sign(
            PostingDelegation(
                parent: spending.id, spender: spender.address, poster: poster.address, scopes: .all,
                validAfter: now - 5, validUntil: now + 3600, salt: 2),
            domain: domain, signer: spender, parents: [spending])
        let vote = try Envelope.sign(
            Vote(delegation: posting.id, content: Keccak256.hash("video"), kind: 1, value: 4, reason: "", issuedAt: now),
            domain: domain, signer: poster, parents: [posting, spending])
        let cold = Measure.secondsPerCall(iterations: 300) {
            precondition(Verifier(domain: domain).verify(vote, at: now).valid)
        }
        Measure.report(
            "cold verification of a three-link chain (vote → posting → spending)", ratio: 3 * recover / cold,
            goal: "report; 1.0 = three bare recoveries", detail: "\(us(cold)) per chain")
    }
}
