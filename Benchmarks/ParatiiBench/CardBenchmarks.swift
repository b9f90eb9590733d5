import Ethereum
import Foundation
import OpenPGPCard
import PCSC
import SoftToken

/// Issue 3's figures, on the real pcscd with the software token in vpcd's first slot:
/// APDUs and round trips per master signature once a session is open (goal 3: VERIFY + PSO:CDS + the
/// VERIFY P1=FF that leaves the card locked again),
/// and what the transport and driver add per signature over the raw SCardTransmit time (goal ≤ 1 ms).
enum CardBenchmarks {
    struct Failure: Error, CustomStringConvertible { let description: String }

    static func run() throws {
        try withSoftCard { _, channel in try measure(channel) }
    }

    /// A factory-fresh soft card in vpcd's first slot for the duration of `body`, through the real pcscd.
    static func withSoftCard<T>(_ body: (PCSCContext, PCSCCard) throws -> T) throws -> T {
        let context: PCSCContext
        do { context = try PCSCContext() } catch { throw Failure(description: "card benchmark needs pcscd (scripts/pcscd-up): \(error)") }
        let reader = "Virtual PCD 00 00"
        guard try context.readers().contains(reader) else { throw Failure(description: "no '\(reader)' reader (vsmartcard-vpcd)") }
        guard try waitFor(present: false, context: context, reader: reader) else {
            throw Failure(description: "'\(reader)' already holds a card: stop the softcard using it")
        }
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("paratii-bench-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("card.json").path
        try SoftCardState.factoryFresh(serial: [0xBE, 0x0C, 0x00, 0x01], insecure: true).save(path: path)
        let connection = VPCDConnection(card: try SoftCard(path: path, passphrase: nil))
        connection.start()
        defer { connection.stop() }
        guard try waitFor(present: true, context: context, reader: reader) else {
            throw Failure(description: "the soft card did not appear in \(reader)")
        }
        return try body(context, try context.connect(reader: reader))
    }

    static func measure(_ channel: PCSCCard) throws {
        let counting = CountingChannel(channel)
        let driver = OpenPGPCard(channel: counting)
        let key = try driver.generateSigningKey(adminPIN: .defaultAdmin)
        let pin = PIN.defaultUser
        let digests = (0..<64).map { Keccak256.hash(Array("bench \($0)".utf8)) }

        // Session open: the first signature reads the key and the retry counter; after that, steady state.
        _ = try driver.sign(digest: digests[0], pin: pin)

        let iterations = 100
        counting.resetCounts()
        channel.resetStatistics()
        let start = DispatchTime.now().uptimeNanoseconds
        for i in 0..<iterations {
            let signature = try driver.sign(digest: digests[i % digests.count], pin: pin)
            guard try signature.recoverAddress(digest: digests[i % digests.count]) == key.address else {
                throw Failure(description: "signature does not recover to the card's address")
            }
        }
        let wall = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9 / Double(iterations)
        let apdus = Double(counting.commands) / Double(iterations)
        let roundTrips = Double(channel.rawTransmitCount) / Double(iterations)
        let transactions = Double(counting.transactions) / Double(iterations)
        let raw = Double(channel.rawTransmitNanoseconds) / 1e9 / Double(iterations)

        // The host-side cryptography in each signature (low-s, trial recovery, verification) and the
        // address check above, measured alone, so the transport's own share can be told apart.
        let sample = try driver.sign(digest: digests[1], pin: pin)
        let rawRS = sample.r + sample.s
        let crypto = try Measure.secondsPerCall(iterations: 200) {
            let s = try Signature(rawRS: rawRS, digest: digests[1], signer: key)
            _ = try s.recoverAddress(digest: digests[1])
        }

        Measure.report(
            "card: APDUs per master signature (session open)", ratio: apdus / 3, goal: "≤ 1.00, i.e. 3 APDUs",
            detail: String(
                format: "%.2f APDUs, %.2f SCardTransmit round trips, %.2f transactions per signature", apdus, roundTrips, transactions))
        let overhead = wall - raw
        let transportOnly = max(0, overhead - crypto)
        Measure.report(
            "card: transport overhead per signature over raw SCardTransmit", ratio: transportOnly / 0.001, goal: "≤ 1.00, i.e. ≤ 1 ms",
            detail: String(
                format:
                    "%.3f ms per signature end to end, %.3f ms inside SCardTransmit (pcscd + vpcd + soft card), %.3f ms around it, of which %.3f ms host crypto (low-s, recovery, verify) and %.3f ms transport + driver",
                wall * 1e3, raw * 1e3, overhead * 1e3, crypto * 1e3, transportOnly * 1e3))
    }

    static func waitFor(present: Bool, context: PCSCContext, reader: String) throws -> Bool {
        for _ in 0..<200 {
            if let state = try context.readerStates().first(where: { $0.name == reader }), state.cardPresent == present { return true }
            Thread.sleep(forTimeInterval: 0.05)
        }
        return false
    }
}
