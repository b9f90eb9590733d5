import Foundation
import OpenPGPCard
import Testing

@testable import PCSC

/// Security item 10: the PARATII_APDU_LOG trace is private (0600), never written through a symlink,
/// and holds no secret. No pcscd needed: the log is fed the commands the transport would send.
@Suite struct APDULogTests {
    func directory() throws -> URL {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("paratii-apdulog-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        return dir
    }

    func mode(_ path: String) throws -> Int {
        (try FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? NSNumber)?.intValue ?? -1
    }

    @Test func createdPrivateAndAppendedTo() throws {
        let path = try directory().appendingPathComponent("apdu.log").path
        do {
            let log = try APDULog(path: path)
            log.command(CommandAPDU(.getData, object: DataObject.pwStatus, le: 256))
        }
        #expect(try mode(path) == 0o600)
        do { try APDULog(path: path).note("second session") }
        let text = try String(contentsOfFile: path, encoding: .utf8)
        #expect(text.hasPrefix("C: 00 CA 00 C4 00\n"))
        #expect(text.hasSuffix("   # second session\n"))
    }

    @Test func anExistingLogIsMadePrivate() throws {
        let path = try directory().appendingPathComponent("apdu.log").path
        #expect(FileManager.default.createFile(atPath: path, contents: Data("old\n".utf8), attributes: [.posixPermissions: 0o644]))
        _ = try APDULog(path: path)
        #expect(try mode(path) == 0o600)
        #expect(try String(contentsOfFile: path, encoding: .utf8) == "old\n")
    }

    @Test func aSymlinkIsRefusedNotFollowed() throws {
        let dir = try directory()
        let target = dir.appendingPathComponent("victim").path
        try "precious\n".write(toFile: target, atomically: true, encoding: .utf8)
        let link = dir.appendingPathComponent("apdu.log").path
        try FileManager.default.createSymbolicLink(atPath: link, withDestinationPath: target)
        #expect(throws: APDULog.OpenError.self) { try APDULog(path: link) }
        #expect(try String(contentsOfFile: target, encoding: .utf8) == "precious\n")
        // A dangling link is not created through either.
        let dangling = dir.appendingPathComponent("dangling").path
        try FileManager.default.createSymbolicLink(atPath: dangling, withDestinationPath: dir.appendingPathComponent("new").path)
        #expect(throws: APDULog.OpenError.self) { try APDULog(path: dangling) }
        #expect(!FileManager.default.fileExists(atPath: dir.appendingPathComponent("new").path))
    }

    @Test func aDirectoryIsRefused() throws {
        #expect(throws: APDULog.OpenError.self) { try APDULog(path: try directory().path) }
    }

    /// Every secret-bearing command, as the log writes it: header kept, data masked, meaning named.
    @Test func secretsAreMaskedInTheLog() throws {
        let path = try directory().appendingPathComponent("apdu.log").path
        let pin = Array("123456".utf8), admin = Array("12345678".utf8), code = Array("87654321".utf8)
        do {
            let log = try APDULog(path: path)
            log.command(CommandAPDU(.verify, p1: 0x00, p2: 0x81, data: pin))
            log.command(CommandAPDU(.changeReferenceData, p1: 0x00, p2: 0x83, data: admin + code))
            log.command(CommandAPDU(.resetRetryCounter, p1: 0x00, p2: 0x81, data: code + pin))
            log.command(CommandAPDU(.resetRetryCounter, p1: 0x02, p2: 0x81, data: pin))
            log.command(CommandAPDU(.putData, object: DataObject.resettingCode, data: code))
            log.command(CommandAPDU(.verify, p1: 0xFF, p2: 0x81))
            log.response(ResponseAPDU(data: [], sw: StatusWord.ok))
        }
        let text = try String(contentsOfFile: path, encoding: .utf8)
        #expect(
            text == """
                C: 00 20 00 81 06 ** ** ** ** ** **
                   # VERIFY PW1 for signing (81), 6 PIN bytes masked
                C: 00 24 00 83 10 ** ** ** ** ** ** ** ** ** ** ** ** ** ** ** **
                   # CHANGE REFERENCE DATA PW3, old‖new PIN masked
                C: 00 2C 00 81 0E ** ** ** ** ** ** ** ** ** ** ** ** ** **
                   # RESET RETRY COUNTER of PW1 with the resetting code (masked)
                C: 00 2C 02 81 06 ** ** ** ** ** **
                   # RESET RETRY COUNTER of PW1 after PW3 (new PIN masked)
                C: 00 DA 00 D3 08 ** ** ** ** ** ** ** **
                   # PUT DATA resetting code (00D3), 8 secret bytes masked
                C: 00 20 FF 81
                   # VERIFY P1=FF: reset the access status of PW1 for signing (81)
                R: 90 00
                   # OK

                """)
        // No PIN, code or their hex form anywhere.
        for secret in ["123456", "12345678", "87654321", "31 32 33", "38 37 36"] { #expect(!text.contains(secret)) }
    }
}
