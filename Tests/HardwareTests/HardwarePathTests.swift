import Ethereum
import Foundation
import OpenPGPCard
import PCSC
import SoftToken
import Testing

/// Everything here goes through the real pcscd, the vpcd reader driver and the software token.
/// One serialized suite: vpcd's port 35963 takes one card at a time, and one test restarts pcscd.
/// Reader events gathered by a background task, for tests that wait on them with a deadline.
final class EventLog: @unchecked Sendable {
    private let lock = NSLock()
    private var events: [ReaderEvent] = []
    func append(_ event: ReaderEvent) { lock.lock(); events.append(event); lock.unlock() }
    var all: [ReaderEvent] { lock.lock(); defer { lock.unlock() }; return events }

    var count: Int { all.count }

    /// Waits for `event` among the events logged after the first `after`; fails at the deadline.
    func waitFor(_ event: ReaderEvent, after: Int = 0, timeout: TimeInterval = 10) async throws {
        let deadline = Date().addingTimeInterval(timeout)
        while !all.dropFirst(after).contains(event) {
            guard Date() < deadline else {
                Issue.record("no \(event) within \(timeout) s; saw \(all)")
                throw PCSCError.timeout
            }
            try await Task.sleep(nanoseconds: 50_000_000)
        }
    }
}

@Suite(.serialized, .timeLimit(.minutes(15)))
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
        #expect(throws: OpenPGPCardError.wrongPIN(triesLeft: 2)) {
            try driver.sign(digest: [UInt8](repeating: 1, count: 32), pin: .defaultUser)
        }
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

    @Test func resettingCodeUnblocksAndFactoryResetWipes() throws {
        let context = try Rig.requirePCSCD()
        let plugged = try PluggedSoftCard(context: context)
        defer { plugged.remove(context: context) }
        let driver = OpenPGPCard(channel: try context.connect(reader: Rig.reader))
        let key = try initialise(driver)
        let code = PIN("reset-me-42")
        try driver.setResettingCode(adminPIN: admin, code: code)
        #expect(try driver.pinStatus().resettingCodeTriesLeft == 3)
        let digest = Keccak256.hash([7])
        _ = try driver.sign(digest: digest, pin: user)
        for expected in [2, 1] {
            #expect(throws: OpenPGPCardError.wrongPIN(triesLeft: expected)) {
                try driver.verify(.userSign, pin: PIN("111111"), allowLastTry: true)
            }
        }
        #expect(throws: OpenPGPCardError.pinBlocked) { try driver.verify(.userSign, pin: PIN("111111"), allowLastTry: true) }
        // A wrong resetting code counts down its own counter; the right one unblocks PW1.
        #expect(throws: OpenPGPCardError.wrongPIN(triesLeft: 2)) {
            try driver.unblockUserPIN(resettingCode: PIN("not-the-code"), newPIN: user)
        }
        try driver.unblockUserPIN(resettingCode: code, newPIN: PIN("777777"))
        #expect(try driver.pinStatus().pw1TriesLeft == 3)
        #expect(try driver.sign(digest: digest, pin: PIN("777777")).recoverAddress(digest: digest) == key.address)
        #expect(try driver.signatureCounter() == 2)

        // Factory reset without the admin PIN: the driver blocks PW3 on purpose, terminates, activates.
        try driver.factoryReset(adminPIN: nil)
        let status = try driver.status()
        #expect(status.publicKey == nil)
        #expect(status.signatureCounter == 0)
        #expect(status.application.pinStatus.pw1TriesLeft == 3)
        #expect(status.application.pinStatus.pw3TriesLeft == 3)
        #expect(status.application.pinStatus.resettingCodeTriesLeft == 0)
        #expect(throws: OpenPGPCardError.noKey) { try driver.sign(digest: digest, pin: .defaultUser) }
        // Back to the factory PINs, and a new key is a different master.
        let fresh = try driver.generateSigningKey(adminPIN: .defaultAdmin)
        #expect(fresh != key)
        #expect(try driver.sign(digest: digest, pin: .defaultUser).recoverAddress(digest: digest) == fresh.address)
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
        let exclusive = try Rig.RestartLock()
        defer { exclusive.release() }

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

    /// A different card in the reader after a restart is not the session's card: the old driver reports
    /// the card as removed instead of signing with another key; the monitor reports the service loss.
    @Test func anotherCardAfterPCSCDRestartIsNotTheSession() async throws {
        let context = try Rig.requirePCSCD()
        let plugged = try PluggedSoftCard(serial: [0xAA, 0, 0, 1], context: context)
        let driver = OpenPGPCard(channel: try context.connect(reader: Rig.reader))
        _ = try initialise(driver)

        let seen = EventLog()
        let watcher = Task {
            for await event in ReaderMonitor.events() {
                seen.append(event)
                if Task.isCancelled { break }
            }
        }
        defer { watcher.cancel() }
        try await seen.waitFor(.cardInserted(reader: Rig.reader, atr: SoftCard.atr))

        let exclusive = try Rig.RestartLock()
        defer { exclusive.release() }
        let pid = try #require(Int32(try String(contentsOfFile: "/run/pcscd/pcscd.pid", encoding: .utf8).filter(\.isNumber)))
        kill(pid, SIGTERM)
        if !Rig.waitForExit(pid, timeout: 2) { kill(pid, SIGKILL) }
        #expect(Rig.waitForExit(pid, timeout: 5), "pcscd did not exit")
        plugged.connection.stop()
        try await seen.waitFor(.serviceLost)

        let other = try PluggedSoftCard.unchecked(serial: [0xBB, 0, 0, 2])
        let up = try Rig.run(Rig.repositoryRoot.appendingPathComponent("scripts/pcscd-up"), [])
        try #require(up.status == 0, "scripts/pcscd-up failed: \(up.stderr)")
        try Rig.waitForCard(true, context: context)
        try await seen.waitFor(.serviceRestored)
        #expect(throws: OpenPGPCardError.cardRemoved) { try driver.sign(digest: Keccak256.hash([1]), pin: user) }
        let fresh = OpenPGPCard(channel: try context.connect(reader: Rig.reader))
        #expect(try fresh.applicationData().aid.serialHex == "BB000002")
        other.remove(context: context)
    }

    @Test func readerEventsReportInsertionAndRemoval() async throws {
        let context = try Rig.requirePCSCD()
        // This monitor's own count: other monitors (the bridge's, the Doctor suites', in this process)
        // bump the process-wide one.
        let calls = ReaderMonitor.Counter()
        let seen = EventLog()
        let watcher = Task {
            for await event in ReaderMonitor.events(counting: calls) {
                seen.append(event)
                if Task.isCancelled { break }
            }
        }
        // Cancelling the consumer cancels the blocked SCardGetStatusChange (SCardCancel).
        defer { watcher.cancel() }
        // The stream opens with the current readers. Every wait below has a deadline that fails the test.
        try await seen.waitFor(.readerAdded("Virtual PCD 00 01"))
        #expect(seen.all.contains(.readerAdded(Rig.reader)))
        // Idle, the monitor sits in one blocking SCardGetStatusChange: no polling.
        try await Task.sleep(nanoseconds: 300_000_000)
        let before = calls.value
        // Meanwhile other monitors come and go, as other suites' do in this process: each bumps the
        // process-wide count (waited for, with a deadline), never this monitor's, which the check judges.
        for _ in 0..<3 {
            let mark = ReaderMonitor.statusChangeCalls
            let neighbour = Task { for await _ in ReaderMonitor.events() {} }
            let deadline = Date().addingTimeInterval(10)
            while ReaderMonitor.statusChangeCalls == mark {
                try #require(Date() < deadline, "a neighbour monitor never called SCardGetStatusChange")
                try await Task.sleep(nanoseconds: 20_000_000)
            }
            try await Task.sleep(nanoseconds: 200_000_000)
            neighbour.cancel()
        }
        try await Task.sleep(nanoseconds: 600_000_000)
        #expect(calls.value - before <= 1, "the monitor woke up \(calls.value - before) times while nothing changed")

        let mark = seen.count
        let plugged = try PluggedSoftCard(context: context)
        try await seen.waitFor(.cardInserted(reader: Rig.reader, atr: SoftCard.atr), after: mark)
        let inserted = seen.count
        plugged.connection.stop()
        try await seen.waitFor(.cardRemoved(reader: Rig.reader), after: inserted)
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
            try StatusWord.check(try channel.transmit(CommandAPDU(ins: 0x20, p1: 0x00, p2: 0x83, data: Array("12345678".utf8))))
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

        // OpenSC's OpenPGP driver parses the application data: AID, version, serial, key attributes.
        let info = try Rig.run(URL(fileURLWithPath: "/usr/bin/openpgp-tool"), ["--reader", "0", "--card-info", "--key-info"])
        #expect(info.status == 0, "openpgp-tool failed: \(info.stderr)")
        let text = info.stdout
        #expect(text.contains("d2:76:00:01:24:01:03:04:ff:00:ca:fe:00:01:00:00"), "AID missing: \(text)")
        #expect(text.contains("Serial number:   CAFE0001"), "serial missing: \(text)")
        #expect(text.contains("Version:         3.4"), "version missing: \(text)")
        #expect(text.contains("Sig Algorithm:   ECDSA"), "signature key algorithm missing: \(text)")
        let fingerprint = plugged.card.state.signatureFingerprint.map { String(format: "%02x", $0) }.joined(separator: ":")
        #expect(text.contains("Sig Fingerprint: \(fingerprint)"), "fingerprint missing: \(text)")

        // openpgp-tool has no public-key dump for secp256k1, so read it with OpenSC's raw APDU tool:
        // an independent PC/SC client gets the same EC point the driver returned.
        let raw = try Rig.run(
            URL(fileURLWithPath: "/usr/bin/opensc-tool"),
            ["--reader", "0", "-s", "00:A4:04:00:06:D2:76:00:01:24:01", "-s", "00:47:81:00:02:B6:00:00"])
        #expect(raw.status == 0, "opensc-tool failed: \(raw.stderr)")
        let hexOnly = raw.stdout.split(separator: "\n").filter { $0.first.map { $0.isHexDigit } == true }
            .map { $0.prefix(48) }.joined().replacingOccurrences(of: " ", with: "")
        let point = key.uncompressed.map { String(format: "%02X", $0) }.joined()
        #expect(hexOnly.contains("7F494386410" + "4") && hexOnly.contains(point), "public key not read back: \(raw.stdout)")
    }

    /// The CLI as a newcomer uses it: create and run a soft card as a separate process, then
    /// `paratii card init / status --json / sign-message`, and recover the signer.
    @Test func cliSoftcardAndCardCommandsEndToEnd() throws {
        let context = try Rig.requirePCSCD()
        try Rig.waitForCard(false, context: context)
        let paratii = Rig.binaryDirectory.appendingPathComponent("paratii")
        try #require(FileManager.default.isExecutableFile(atPath: paratii.path), "paratii not built at \(paratii.path)")
        let dir = try Rig.temporaryDirectory()
        let state = dir.appendingPathComponent("card.json").path
        let passphrase = dir.appendingPathComponent("passphrase").path
        let pin = dir.appendingPathComponent("pin").path
        let adminPin = dir.appendingPathComponent("admin-pin").path
        try "correct horse battery\n".write(toFile: passphrase, atomically: true, encoding: .utf8)
        try "424242\n".write(toFile: pin, atomically: true, encoding: .utf8)
        try "42424242\n".write(toFile: adminPin, atomically: true, encoding: .utf8)

        let created = try Rig.run(
            paratii, ["softcard", "create", "--state", state, "--passphrase-file", passphrase, "--serial", "00C0FFEE"])
        #expect(created.status == 0, "\(created.stderr)")
        #expect(created.stdout.contains("00C0FFEE"))
        #expect(try Rig.run(paratii, ["softcard", "create", "--state", state, "--insecure-state"]).status != 0, "overwrote a card")

        let runner = Process()
        runner.executableURL = paratii
        runner.arguments = ["softcard", "run", "--state", state, "--passphrase-file", passphrase, "--kdf-n", "4096"]
        runner.standardOutput = FileHandle.nullDevice
        runner.standardError = FileHandle.nullDevice
        try runner.run()
        defer {
            runner.terminate()
            runner.waitUntilExit()
            try? Rig.waitForCard(false, context: context)
        }
        try Rig.waitForCard(true, context: context)

        let initialised = try Rig.run(paratii, ["card", "init", "--reader", Rig.reader, "--pin-file", pin, "--admin-pin-file", adminPin])
        #expect(initialised.status == 0, "\(initialised.stderr)")
        let address = initialised.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(address.hasPrefix("0x") && address.count == 42)
        // A second init is refused: the card holds a key.
        let again = try Rig.run(paratii, ["card", "init", "--reader", Rig.reader, "--pin-file", pin, "--admin-pin-file", adminPin])
        #expect(again.status != 0 && again.stderr.contains("--wipe"))

        let signed = try Rig.run(paratii, ["card", "sign-message", "--reader", Rig.reader, "--pin-file", pin, "paratii card test"])
        #expect(signed.status == 0, "\(signed.stderr)")
        let signature = try Signature(hex: signed.stdout.trimmingCharacters(in: .whitespacesAndNewlines))
        #expect(try PersonalMessage.recover(Array("paratii card test".utf8), signature: signature).checksummed == address)

        let status = try Rig.run(paratii, ["card", "status", "--reader", Rig.reader, "--json"])
        #expect(status.status == 0, "\(status.stderr)")
        let json = try JSONValue.parse(status.stdout)
        #expect(json["reader"]?.stringValue == Rig.reader)
        #expect(json["serial"]?.stringValue == "00C0FFEE")
        #expect(json["address"]?.stringValue == address)
        #expect(json["pinTriesLeft"] == .number("3"))
        #expect(json["signatureCounter"] == .number("1"))

        let listed = try JSONValue.parse(try Rig.run(paratii, ["card", "list", "--json"]).stdout)
        let row = try #require(listed.arrayValue?.first { $0["reader"]?.stringValue == Rig.reader })
        #expect(row["cardPresent"] == .bool(true) && row["openpgp"] == .bool(true))
        #expect(row["serial"]?.stringValue == "00C0FFEE")

        // The key at rest is a keystore under the passphrase, not plain.
        let stored = try String(contentsOfFile: state, encoding: .utf8)
        #expect(stored.contains("\"keystore\"") && !stored.contains("insecurePlainHex"))

        // EIP-712 with the master key, checked by the Ethereum CLI.
        let typed = dir.appendingPathComponent("typed.json").path
        try #"""
        {"types": {"EIP712Domain": [{"name": "name", "type": "string"}, {"name": "version", "type": "string"}, {"name": "chainId", "type": "uint256"}],
                   "Note": [{"name": "text", "type": "string"}, {"name": "amount", "type": "uint256"}]},
         "primaryType": "Note", "domain": {"name": "Paratii", "version": "1", "chainId": 1},
         "message": {"text": "card-signed", "amount": "1000000000000000000"}}
        """#.write(toFile: typed, atomically: true, encoding: .utf8)
        let typedSigned = try Rig.run(paratii, ["card", "sign-typed-data", "--reader", Rig.reader, "--pin-file", pin, typed])
        #expect(typedSigned.status == 0, "\(typedSigned.stderr)")
        let typedSignature = typedSigned.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        let recovered = try Rig.run(paratii, ["eth", "recover-typed-data", "--signature", typedSignature, typed])
        #expect(recovered.stdout.trimmingCharacters(in: .whitespacesAndNewlines) == address, "\(recovered.stderr)")

        // Wrong PIN through the CLI: typed message with the tries left.
        try "000000\n".write(toFile: dir.appendingPathComponent("bad").path, atomically: true, encoding: .utf8)
        let bad = try Rig.run(
            paratii, ["card", "sign-message", "--reader", Rig.reader, "--pin-file", dir.appendingPathComponent("bad").path, "x"])
        #expect(bad.status != 0 && bad.stderr.contains("2 tries left"), "\(bad.stderr)")

        // init --wipe factory-resets (blocking the unknown admin PIN on purpose) and makes a new master.
        let wiped = try Rig.run(
            paratii, ["card", "init", "--reader", Rig.reader, "--wipe", "--pin-file", pin, "--admin-pin-file", adminPin])
        #expect(wiped.status == 0, "\(wiped.stderr)")
        let newAddress = wiped.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(newAddress.count == 42 && newAddress != address)
        // reset needs --yes, then leaves a keyless card with factory PINs.
        #expect(try Rig.run(paratii, ["card", "reset", "--reader", Rig.reader]).status != 0)
        let reset = try Rig.run(paratii, ["card", "reset", "--reader", Rig.reader, "--yes", "--admin-pin-file", adminPin])
        #expect(reset.status == 0, "\(reset.stderr)")
        let after = try JSONValue.parse(try Rig.run(paratii, ["card", "status", "--reader", Rig.reader, "--json"]).stdout)
        #expect(after["address"] == .null)
        #expect(after["adminPinTriesLeft"] == .number("3"))
    }
}
