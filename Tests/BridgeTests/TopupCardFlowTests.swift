import Ethereum
import Foundation
import PCSC
import Testing

@testable import Bridge

/// A top-up through the whole stack: the wallet asks the bridge, the user approves with the PIN typed
/// into the real pinentry-tty (on a pseudo-terminal this test types into), the soft card in vpcd's
/// second slot signs, the wallet prints the raw transaction.
@Suite(.serialized, .timeLimit(.minutes(15))) struct TopupCardFlowTests {
    typealias Rig = CardFlowTests

    @Test func walletRequestsTopupApprovedThroughPinentry() async throws {
        let rig = try await CardBridgeRig()
        let (card, bridge, config) = (rig.card, rig.bridge, rig.config)
        let walletDir = bridge.directory + "/wallet"
        let password = bridge.directory + "/password"
        try Data("wallet password\n".utf8).write(to: URL(fileURLWithPath: password))
        #expect(try await Rig.run(["wallet", "init", "--dir", walletDir, "--password-file", password, "--scrypt-n", "1024"]).status == 0)
        let spender = try await Rig.run(["wallet", "address", "--dir", walletDir, "--password-file", password]).stdout
            .trimmingCharacters(in: .whitespacesAndNewlines)

        async let asked = Rig.run([
            "wallet", "request-topup", "--dir", walletDir, "--password-file", password, "--bridge", bridge.settings.socketPath,
            "--config", config, "--token", "ETH", "--amount", "0.25", "--nonce", "3", "--max-fee", "20000000000",
            "--priority-fee", "1000000000", "--timeout", "300",
        ])
        let pairing = try await bridge.waitPending("pairings")
        let code = try #require(try await bridge.store.pairing(pairing)?.code)
        #expect(try await Rig.run(["approve", pairing, "--socket", bridge.settings.socketPath, "--code", code]).status == 0)
        let request = try await bridge.waitPending("requests")
        let approve = [
            "approve", request, "--socket", bridge.settings.socketPath, "--config", config, "--reader", Rig.reader, "--pinentry",
            "pinentry-tty",
        ]

        // A wrong PIN typed into pinentry: the card refuses it, the request stays pending, nothing is signed.
        let wrong = try await runOnTerminal(approve, typing: "654321")
        #expect(wrong.status != 0)
        #expect(wrong.output.contains("stays pending"), "\(wrong.output)")
        #expect(!wrong.output.contains("654321"), "the PIN was echoed")
        #expect(try await bridge.store.request(request)?.state == .pending)

        let right = try await runOnTerminal(approve, typing: "123456")
        #expect(right.status == 0, "\(right.output)")
        #expect(right.output.contains("top-up: 0.25 ETH"), "the user did not see what the card signs: \(right.output)")
        let result = try await asked
        #expect(result.status == 0, "\(result.stderr)")
        let signed = try SignedTransaction.decode(try [UInt8](hex: result.stdout.trimmingCharacters(in: .whitespacesAndNewlines)))
        #expect(signed.from == card.master)
        #expect(signed.transaction.to?.checksummed == spender)
        #expect(signed.transaction.value == 250_000_000_000_000_000 && signed.transaction.nonce == 3 && signed.transaction.chainId == 1337)
        let audit = try await bridge.store.verifyAudit()
        #expect(audit.broken.isEmpty && audit.signatures == 1)
        await rig.finish()
    }

    // <asm-generic/ioctls.h>: _IOW('T', 0x31, int) and _IOR('T', 0x30, unsigned int), the same on x86_64 and arm64.
    static let setLock: UInt = 0x4004_5431
    static let getNumber: UInt = 0x8004_5430

    /// Runs `paratii` with a pseudo-terminal as its terminal (stdin, stdout, stderr), waits for the
    /// pinentry's prompt on it and types `pin` and Enter, as a user would; returns all the terminal showed.
    func runOnTerminal(_ arguments: [String], typing pin: String) async throws -> (status: Int32, output: String) {
        try await call {
            // /dev/ptmx with its two ioctls: what posix_openpt, unlockpt and ptsname do (Glibc's Swift overlay lacks them).
            let master = open("/dev/ptmx", O_RDWR | O_NOCTTY)
            var unlock: Int32 = 0, number: UInt32 = 0
            guard master >= 0, ioctl(master, Self.setLock, &unlock) == 0, ioctl(master, Self.getNumber, &number) == 0,
                let terminal = FileHandle(forUpdatingAtPath: "/dev/pts/\(number)")
            else { throw BridgeError.io("no pseudo-terminal") }
            defer { close(master) }
            let process = Process()
            process.executableURL = Rig.binary
            process.arguments = arguments
            process.standardInput = terminal
            process.standardOutput = terminal
            process.standardError = terminal
            try process.run()
            try terminal.close()
            var shown = [UInt8]()
            var typed = false
            let deadline = Date().addingTimeInterval(120)
            while Date() < deadline {
                var poller = pollfd(fd: master, events: Int16(POLLIN), revents: 0)
                if poll(&poller, 1, 100) > 0 {
                    var chunk = [UInt8](repeating: 0, count: 4096)
                    let count = read(master, &chunk, chunk.count)
                    if count <= 0 { break }  // the last holder of the terminal closed it
                    shown += chunk[..<count]
                }
                if !typed, String(decoding: shown, as: UTF8.self).contains("PIN:") {
                    _ = Array((pin + "\r").utf8).withUnsafeBytes { write(master, $0.baseAddress, $0.count) }
                    typed = true
                }
                if !process.isRunning && poll(&poller, 1, 0) <= 0 { break }
            }
            if process.isRunning { process.terminate() }
            process.waitUntilExit()
            return (process.terminationStatus, String(decoding: shown, as: UTF8.self))
        }
    }
}
