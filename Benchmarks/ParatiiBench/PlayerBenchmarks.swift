import BigInt
import CBaseline
import Delegation
import Ethereum
import Foundation
import PlayerCore

/// Issue 5's figures, each against a limit measured in this run on this disk:
/// durable vouchers/s vs bare SQLite FULL/WAL one-row commits/s (goal ≥ 0.8), batched vouchers/s vs
/// libsecp256k1 signatures/s (goal ≥ 0.5), payee accepts/s vs libsecp256k1 recoveries/s (goal ≥ 0.6).
enum PlayerBenchmarks {
    static func run() throws {
        let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("paratii-bench-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: scratch, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: scratch) }

        let master = PrivateKey.generate()
        let wallet = try Wallet.create(directory: scratch + "/wallet", password: "bench", kdf: .light)
        let domain = Domain(chainId: 1, verifyingContract: .zero)
        let now = Wallet.systemClock()
        let delegation = try Envelope.sign(
            SpendingDelegation(
                master: master.address, spender: wallet.address,
                allowances: [
                    Allowance(
                        token: .zero, total: BigUInt(10).power(30), perPayment: BigUInt(10).power(15), period: 86400,
                        perPeriod: BigUInt(10).power(29))
                ],
                validAfter: now - 60, validUntil: now + 86400, salt: 1), domain: domain, signer: master)
        try wallet.importDelegation(delegation)
        let payee = try Address("0x00000000000000000000000000000000000000bb")
        let request = PaymentRequest(payee: payee, token: .zero, amount: 1000)
        let us = { (s: Double) in String(format: "%.1f µs", s * 1e6) }

        // 1. One durable commit per voucher vs bare SQLite.
        let commits = 200
        var round = 0
        let (perVoucher, perCommit) = try Measure.pair(
            iterations: 1, rounds: 5,
            {
                for _ in 0..<commits { _ = try wallet.pay(request) }
            },
            {
                round += 1
                precondition(cb_sqlite_commits(scratch + "/bare-\(round).sqlite", Int32(commits)) == 1)
            })
        Measure.report(
            "durable vouchers/s vs bare SQLite FULL/WAL commits/s", ratio: perCommit / perVoucher, goal: "≥ 0.8",
            detail: "\(us(perVoucher / Double(commits))) per voucher, \(us(perCommit / Double(commits))) per bare commit")

        // 2. Batches: one transaction records many payments, then each is signed.
        let batch = [PaymentRequest](repeating: request, count: 500)
        let key = PrivateKey.generate()
        let digest = Keccak256.hash("x")
        let (perBatch, perSigns) = try Measure.pair(
            iterations: 1, rounds: 5, { _ = try wallet.payBatch(batch) },
            {
                for _ in 0..<batch.count { _ = try key.sign(digest: digest) }
            })
        Measure.report(
            "batched vouchers/s vs secp256k1 signatures/s", ratio: perSigns / perBatch, goal: "≥ 0.5",
            detail:
                "\(us(perBatch / Double(batch.count))) per voucher in batches of \(batch.count), \(us(perSigns / Double(batch.count))) per signature"
        )

        // 3. The payee accepts a batch of fresh vouchers (verification in parallel, one commit).
        let vouchers = try wallet.payBatch(batch)
        let signature = try Signature(bytes: vouchers[0].signature)
        var store = 0
        let (perAccept, perRecover) = try Measure.pair(
            iterations: 1, rounds: 5,
            {
                store += 1
                let payeeStore = try PayeeStore(path: scratch + "/payee-\(store).sqlite", verifier: Verifier(domain: domain))
                _ = try payeeStore.acceptBatch(vouchers)
            },
            {
                for voucher in vouchers { _ = try signature.recoverPublicKey(digest: voucher.id) }
            })
        Measure.report(
            "payee accepts/s vs secp256k1 recoveries/s", ratio: perRecover / perAccept, goal: "≥ 0.6",
            detail:
                "\(us(perAccept / Double(vouchers.count))) per accepted voucher (batch of \(vouchers.count), parallel verification), \(us(perRecover / Double(vouchers.count))) per recovery"
        )
    }
}
