import BigInt
import Delegation
import Ethereum
import Foundation
import Synchronization
import TestSupport
import Testing

@testable import PlayerCore

/// A settable clock for wallets under test.
final class TestClock: Sendable {
    private let value: Mutex<UInt64>
    init(_ start: UInt64) { value = Mutex(start) }
    var now: UInt64 { value.withLock { $0 } }
    func set(_ time: UInt64) { value.withLock { $0 = time } }
    func advance(_ seconds: UInt64) { value.withLock { $0 += seconds } }
    var closure: @Sendable () -> UInt64 { { self.now } }
}

/// A temporary wallet with a software master standing in for the card.
struct WalletFixture {
    static let start: UInt64 = 1_790_000_000
    let directory: String
    let password = "correct horse"
    let clock = TestClock(WalletFixture.start)
    let master = PrivateKey.generate()
    let domain = Domain(chainId: 1, verifyingContract: .zero)
    let payee = try! Address("0x00000000000000000000000000000000000000bb")
    let otherPayee = try! Address("0x00000000000000000000000000000000000000cc")
    let pti = try! Address("0x00000000000000000000000000000000000000aa")
    let wallet: Wallet

    init() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("paratii-wallet-\(UUID().uuidString)").path
        wallet = try Wallet.create(directory: directory, password: password, kdf: .light, clock: clock.closure)
    }

    static func wei(_ text: String) -> BigUInt { try! Units.parseAmount(text) }

    /// ETH: total 0.001, per payment 0.0001, 0.0003 per day.
    var standardAllowance: Allowance {
        Allowance(token: .zero, total: Self.wei("0.001"), perPayment: Self.wei("0.0001"), period: 86400, perPeriod: Self.wei("0.0003"))
    }

    func delegation(allowances: [Allowance]? = nil, payees: [Address] = [], after: UInt64? = nil, until: UInt64? = nil) throws -> Envelope {
        let d = SpendingDelegation(
            master: master.address, spender: wallet.address, allowances: allowances ?? [standardAllowance], payees: payees,
            validAfter: after ?? Self.start - 60, validUntil: until ?? Self.start + 30 * 86400, salt: Salt.random())
        return try Envelope.sign(d, domain: domain, signer: master)
    }

    /// The institution's attestation of this fixture's card (holder Alice, the standard ceiling, 90 days).
    func attestation(by institution: PrivateKey) throws -> Envelope {
        try Envelope.sign(
            CardAttestation(
                institution: institution.address, master: master.address, holder: "Alice", cardSerial: "00C0FFEE",
                ceiling: [standardAllowance], validUntil: Self.start + 90 * 86400, salt: Salt.random()),
            domain: domain, signer: institution)
    }

    func pay(
        _ amount: String, to payee: Address? = nil, token: Address = .zero, key: String? = nil, memo: String = "segment"
    ) throws -> Envelope {
        try wallet.pay(
            PaymentRequest(
                payee: payee ?? self.payee, token: token, amount: Self.wei(amount), memo: PaymentRequest.memo(memo), idempotencyKey: key))
    }

    func cleanup() { try? FileManager.default.removeItem(atPath: directory) }
}

extension WalletError {
    var refusal: PaymentRefusal? { if case .refused(let reason, _) = self { reason } else { nil } }
}

/// The `paratii` executable built next to the test binary.
enum Binary {
    static let paratii: URL = {
        var url = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath()
        while url.path != "/" {
            let candidate = url.deletingLastPathComponent().appendingPathComponent("paratii")
            if FileManager.default.isExecutableFile(atPath: candidate.path) { return candidate }
            url = url.deletingLastPathComponent()
        }
        fatalError("the paratii executable was not built next to the tests (run `swift build --build-tests` first)")
    }()
}

/// Runs a program to its end with an empty stdin: `environment` on top of this process's, in `directory`.
enum ChildProcess {
    static func run(
        _ executable: URL, _ arguments: [String], environment: [String: String] = [:], directory: String? = nil
    ) throws -> (
        status: Int32, stdout: Data, stderr: String
    ) {
        let process = Process()
        process.executableURL = executable
        process.arguments = arguments
        process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        if let directory { process.currentDirectoryURL = URL(fileURLWithPath: directory) }
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        process.standardInput = FileHandle.nullDevice
        try process.run()
        let deadline = ChildDeadline(process)
        // stderr is small; read stdout to the end first so the child never blocks on a full pipe.
        let outData = out.fileHandleForReading.readDataToEndOfFile()
        let errData = err.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        deadline.disarm()
        if deadline.fired { Issue.record("\(deadline.describe(([executable.path] + arguments).joined(separator: " ")))") }
        return (process.terminationStatus, outData, String(decoding: errData, as: UTF8.self))
    }
}
