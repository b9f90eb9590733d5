import Ethereum
import Foundation
import OpenPGPCard
import PCSC
import SoftToken
import Testing

/// Everything here goes through the real pcscd, the vpcd reader driver and the software token.
/// One serialized suite: vpcd's port 35963 takes one card at a time, and one test restarts pcscd.
@Suite(.serialized)
struct HardwarePathTests {
    let user = PIN("246810")
    let admin = PIN("13579246")

    private func initialise(_ driver: OpenPGPCard) throws -> PublicKey {
        let key = try driver.generateSigningKey(adminPIN: .defaultAdmin)
        try driver.changePIN(.userSign, old: .defaultUser, new: user)
        try driver.changePIN(.admin, old: .defaultAdmin, new: admin)
        return key
    }

    @Test func initSignAndRecoverTheSameAddress() throws {
        let context = try Rig.requirePCSCD()
        let plugged = try PluggedSoftCard(serial: [0x12, 0x34, 0x56, 0x78], context: context)
        defer { plugged.remove(context: context) }
        let driver = OpenPGPCard(channel: try context.connect(reader: Rig.reader))

        let fresh = try driver.status()
        #expect(fresh.publicKey == nil)
        #expect(fresh.application.aid.serialHex == "12345678")
        #expect(fresh.application.aid.version == "3.4")
        #expect(fresh.application.pinStatus.pw1TriesLeft == 3)
        #expect(fresh.application.signatureAlgorithm?.isSecp256k1 == true)

        let key = try initialise(driver)
        #expect(key == plugged.card.publicKey)
        let status = try driver.status()
        #expect(status.publicKey == key.xy)
        #expect(status.application.signatureFingerprint != nil)

        // Enough signatures that the soft card's coin-flip high-s answers are certainly exercised.
        for i in 0..<16 {
            let digest = Keccak256.hash(Array("paratii master \(i)".utf8))
            let signature = try driver.sign(digest: digest, pin: user)
            #expect(try signature.recoverAddress(digest: digest) == key.address)
            #expect(signature.isValid(digest: digest, publicKey: key))
            // Low-s on the way out, whatever the card returned.
            #expect(throws: Never.self) { try Signature(bytes: signature.bytes) }
        }
        #expect(try driver.signatureCounter() == 16)
        // The default PINs no longer work.
        #expect(throws: OpenPGPCardError.wrongPIN(triesLeft: 2)) { try driver.sign(digest: [UInt8](repeating: 1, count: 32), pin: .defaultUser) }
    }

    @Test func wrongPINCountsDownBlocksAndAdminUnblocks() throws {
        let context = try Rig.requirePCSCD()
        let plugged = try PluggedSoftCard(context: context)
        defer { plugged.remove(context: context) }
        let driver = OpenPGPCard(channel: try context.connect(reader: Rig.reader))
        _ = try initialise(driver)
        let digest = Keccak256.hash(Array("vote".utf8))
        let wrong = PIN("000000")

        #expect(throws: OpenPGPCardError.wrongPIN(triesLeft: 2)) { try driver.sign(digest: digest, pin: wrong) }
        #expect(try driver.pinStatus().pw1TriesLeft == 2)
        #expect(throws: OpenPGPCardError.wrongPIN(triesLeft: 1)) { try driver.sign(digest: digest, pin: wrong) }
        // The driver will not spend the last try on its own…
        #expect(throws: OpenPGPCardError.lastTryProtected) { try driver.sign(digest: digest, pin: wrong) }
        #expect(try driver.pinStatus().pw1TriesLeft == 1)
        // …even with the right PIN: the user must say so.
        #expect(throws: OpenPGPCardError.lastTryProtected) { try driver.sign(digest: digest, pin: user) }
        // Told to, it spends it; the card blocks PW1.
        #expect(throws: OpenPGPCardError.pinBlocked) { try driver.sign(digest: digest, pin: wrong, allowLastTry: true) }
        #expect(try driver.pinStatus().pw1TriesLeft == 0)
        #expect(throws: OpenPGPCardError.pinBlocked) { try driver.sign(digest: digest, pin: user, allowLastTry: true) }

        // Unblock with the admin PIN, setting a new user PIN.
        let renewed = PIN("864200")
        try driver.unblockUserPIN(adminPIN: admin, newPIN: renewed)
        #expect(try driver.pinStatus().pw1TriesLeft == 3)
        let signature = try driver.sign(digest: digest, pin: renewed)
        #expect(try signature.recoverAddress(digest: digest) == plugged.card.publicKey?.address)
        // The wrong admin PIN counts down too.
        #expect(throws: OpenPGPCardError.wrongPIN(triesLeft: 2)) { try driver.verify(.admin, pin: PIN("99999999")) }
        #expect(try driver.pinStatus().pw3TriesLeft == 2)
    }

    @Test func cardPulledMidSignatureGivesTypedErrorAndAFreshCardWorks() throws {
        let context = try Rig.requirePCSCD()
        let plugged = try PluggedSoftCard(context: context)
        let channel = try context.connect(reader: Rig.reader)
        let driver = OpenPGPCard(channel: channel)
        _ = try initialise(driver)

        // Pull the card the moment PSO:CDS reaches it.
        plugged.connection.commandHook = { command in command.ins == 0x2A ? .pullCard : .proceed }
        let started = Date()
        #expect(throws: OpenPGPCardError.cardRemoved) { try driver.sign(digest: Keccak256.hash([1, 2, 3]), pin: user) }
        #expect(Date().timeIntervalSince(started) < 10, "a pulled card must not hang the driver")
        try plugged.unplug(context: context)
        #expect(throws: OpenPGPCardError.cardRemoved) { try driver.status() }

        // Another card in the same reader: a new connection works end to end.
        let other = try PluggedSoftCard(context: context)
        defer { other.remove(context: context) }
        let next = OpenPGPCard(channel: try context.connect(reader: Rig.reader))
        let key = try initialise(next)
        let digest = Keccak256.hash([4, 5, 6])
        #expect(try next.sign(digest: digest, pin: user).recoverAddress(digest: digest) == key.address)
    }

    @Test func transportSurvivesAPCSCDRestart() throws {
        let context = try Rig.requirePCSCD()
        let plugged = try PluggedSoftCard(context: context)
        defer { plugged.remove(context: context) }
        let channel = try context.connect(reader: Rig.reader)
        let driver = OpenPGPCard(channel: channel)
        let key = try initialise(driver)
        let generation = channel.connectionGeneration

        // Stop the pcscd that scripts/pcscd-up started (by its pid file) and start it again. pcscd with
        // the vpcd driver may sit on SIGTERM for a long time, so after a grace period it gets SIGKILL,
        // which is the harsher case anyway (a crashed daemon).
        let pidText = try String(contentsOfFile: "/run/pcscd/pcscd.pid", encoding: .utf8)
        let pid = try #require(Int32(pidText.filter(\.isNumber)))
        #expect(kill(pid, SIGTERM) == 0)
        if !Rig.waitForExit(pid, timeout: 2) { kill(pid, SIGKILL) }
        #expect(Rig.waitForExit(pid, timeout: 5), "pcscd did not exit")
        // While it is down the transport reports the lost service, typed, without hanging.
        #expect(throws: PCSCError.noService) { try context.readers() }

        let up = try Rig.run(Rig.repositoryRoot.appendingPathComponent("scripts/pcscd-up"), [])
        try #require(up.status == 0, "scripts/pcscd-up failed: \(up.stderr)")
        // The soft card reconnects to the new vpcd on its own; the same context and card objects carry on.
        try Rig.waitForCard(true, context: context)
        let digest = Keccak256.hash(Array("after restart".utf8))
        let signature = try driver.sign(digest: digest, pin: user)
        #expect(try signature.recoverAddress(digest: digest) == key.address)
        #expect(channel.connectionGeneration > generation)
    }

    @Test func readerEventsReportInsertionAndRemoval() async throws {
        let context = try Rig.requirePCSCD()
        let events = ReaderMonitor.events()
        var iterator = events.makeAsyncIterator()
        // The stream opens with the current readers.
        var seen: [ReaderEvent] = []
        while let event = await iterator.next() {
            seen.append(event)
            if event == .readerAdded("Virtual PCD 00 01") { break }
        }
        #expect(seen.contains(.readerAdded(Rig.reader)))

        let plugged = try PluggedSoftCard(context: context)
        var inserted = false
        while let event = await iterator.next() {
            if case .cardInserted(let reader, let atr) = event, reader == Rig.reader {
                #expect(atr == SoftCard.atr)
                inserted = true
                break
            }
        }
        #expect(inserted)
        plugged.connection.stop()
        var removed = false
        while let event = await iterator.next() {
            if event == .cardRemoved(reader: Rig.reader) { removed = true; break }
        }
        #expect(removed)
        // Dropping the iterator and stream cancels the blocked SCardGetStatusChange (SCardCancel).
    }

    @Test func chainingAndWrongLeThroughTheRealStack() throws {
        let context = try Rig.requirePCSCD()
        let plugged = try PluggedSoftCard(context: context)
        defer { plugged.remove(context: context) }
        let channel = try context.connect(reader: Rig.reader)
        let driver = OpenPGPCard(channel: channel)
        _ = try driver.applicationData()
        try channel.withTransaction {
            // A too-small Le: the card answers 6Cxx and the transport re-sends with the exact length.
            let full = try channel.transmit(CommandAPDU(ins: 0xCA, p1: 0x00, p2: 0x6E, le: 256))
            let short = try channel.transmit(CommandAPDU(ins: 0xCA, p1: 0x00, p2: 0x6E, le: 8))
            #expect(short.sw == 0x9000)
            #expect(short.data == full.data)
            // A 300-byte body goes out as two chained commands and arrives whole: the card judges its length.
            try StatusWords.check(try channel.transmit(CommandAPDU(ins: 0x20, p1: 0x00, p2: 0x83, data: Array("12345678".utf8))))
            let long = try channel.transmit(CommandAPDU(ins: 0xDA, p1: 0x00, p2: 0x5B, data: [UInt8](repeating: 0x41, count: 300)))
            #expect(long.sw == 0x6700)
            let fits = try channel.transmit(CommandAPDU(ins: 0xDA, p1: 0x00, p2: 0x5B, data: Array("Paratii Tester".utf8)))
            #expect(fits.sw == 0x9000)
        }
        #expect(plugged.card.state.cardholderName == Array("Paratii Tester".utf8))
    }

    @Test func openSCReadsTheSoftToken() throws {
        let context = try Rig.requirePCSCD()
        let plugged = try PluggedSoftCard(serial: [0xCA, 0xFE, 0x00, 0x01], context: context)
        defer { plugged.remove(context: context) }
        let driver = OpenPGPCard(channel: try context.connect(reader: Rig.reader))
        let key = try initialise(driver)

        let tool = URL(fileURLWithPath: "/usr/bin/openpgp-tool")
        let info = try Rig.run(tool, ["--reader", "0", "--card-info", "--key-info"])
        #expect(info.status == 0, "openpgp-tool failed: \(info.stderr)")
        let text = info.stdout
        #expect(text.contains("CAFE0001") || text.lowercased().contains("cafe0001"), "serial missing: \(text)")
        #expect(text.contains("3.4"), "version missing: \(text)")
        // The public key OpenSC reads back is the card's key.
        let xHex = key.xy[0..<32].map { String(format: "%02X", $0) }.joined()
        let keyDump = try Rig.run(tool, ["--reader", "0", "--do", "7F49"])
        let combined = (text + keyDump.stdout).uppercased().replacingOccurrences(of: ":", with: "").replacingOccurrences(of: " ", with: "")
        let fingerprint = try #require(plugged.card.state.signatureFingerprint.map { String(format: "%02X", $0) }.joined() as String?)
        #expect(combined.contains(fingerprint) || combined.contains(xHex), "neither the key's fingerprint nor its point in: \(text)\n\(keyDump.stdout)\n\(keyDump.stderr)")
    }
}
