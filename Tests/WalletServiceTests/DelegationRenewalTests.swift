import BigInt
import Delegation
import Ethereum
import Foundation
import PlayerCore
import Testing

@testable import WalletService

/// When the service asks the bridge by itself: a delegation about to expire or nearly spent is renewed
/// before pages meet a refusal; a usable one is not. The bridge here is out of reach (no socket), so
/// an ask shows as a `delegation.requested` event followed by `delegation.unavailable`.
@Suite struct DelegationRenewalTests {
    static let password = "correct horse"
    static let payee = try! Address("0x00000000000000000000000000000000000000bb")

    /// A wallet holding one ETH delegation (total 0.001) valid for `validFor` seconds, `spent` of it paid,
    /// served by a vault that asks a missing bridge for 7-day delegations, renewing a day before expiry.
    static func events(validFor: UInt64, spent: Int) async throws -> (types: [String], phase: DelegationKeeper.Phase?) {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("pwr-\(UUID().uuidString.prefix(8))").path
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let wallet = try Wallet.create(directory: directory, password: password, kdf: .light)
        let master = PrivateKey.generate()
        let now = Wallet.systemClock()
        let total = try Units.parseAmount("0.001")
        let delegation = SpendingDelegation(
            master: master.address, spender: wallet.address,
            allowances: [Allowance(token: .zero, total: total, perPayment: total, period: 0, perPeriod: 0)],
            payees: [], validAfter: now - 60, validUntil: now + validFor, salt: Salt.random())
        try wallet.importDelegation(try Envelope.sign(delegation, domain: Domain(chainId: 1, verifyingContract: .zero), signer: master))
        for i in 0..<spent {
            _ = try wallet.pay(
                PaymentRequest(
                    payee: payee, token: .zero, amount: total / 100, memo: PaymentRequest.memo("m\(i)"), idempotencyKey: "k\(i)"))
        }
        var settings = WalletServiceSettings(socketPath: directory + "/wallet.sock", configuration: Configuration())
        settings.delegationSource = DelegationSource(
            bridge: directory + "/no-bridge.sock",
            allowances: [Allowance(token: .zero, total: total, perPayment: total, period: 0, perPeriod: 0)], validFor: 7 * 86400)
        let vault = Vault(directory: directory, settings: settings)
        try await vault.unlock(password: password)
        let deadline = ContinuousClock.now + .seconds(10)
        var types: [String] = []
        while ContinuousClock.now < deadline {
            types = vault.events(since: 0, origin: "").events.map(\.type)
            if !types.contains("delegation.requested") || types.contains("delegation.unavailable") { break }
            try await Task.sleep(for: .milliseconds(20))
        }
        let phase = try vault.checkDelegation()?.phase
        vault.lockNow()
        return (types, phase)
    }

    @Test func aUsableDelegationIsNotRenewed() async throws {
        let (types, phase) = try await Self.events(validFor: 30 * 86400, spent: 50)
        #expect(!types.contains("delegation.requested"), "\(types)")
        #expect(phase == .ready)
    }

    @Test func oneAboutToExpireIsRenewedAhead() async throws {
        let (types, phase) = try await Self.events(validFor: 3600, spent: 0)
        #expect(types.filter { $0 == "delegation.requested" }.count == 1, "\(types)")
        #expect(types.contains("delegation.unavailable") && phase == .unavailable, "\(types)")
    }

    @Test func oneNearlySpentIsRenewedAhead() async throws {
        let (types, _) = try await Self.events(validFor: 30 * 86400, spent: 95)
        #expect(types.filter { $0 == "delegation.requested" }.count == 1, "\(types)")
    }
}
