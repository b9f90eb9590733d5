import Ethereum
import OpenPGPCard
import Testing

/// The driver replayed against the recorded transcripts, byte for byte: the same calls `paratii card
/// init` and `paratii card sign-message` make must send exactly the recorded commands.
@Suite struct TranscriptReplayTests {
    @Test func cardInit() throws {
        let channel = try TranscriptChannel(file: "card-init.md")
        let driver = OpenPGPCard(channel: channel)
        // The creation time is in the recorded PUT DATA CE.
        let put = try #require(channel.commands.first { $0.hasPrefix("00 DA 00 CE 04 ") })
        let time = put.split(separator: " ").suffix(4).reduce(UInt32(0)) { $0 << 8 | UInt32($1, radix: 16)! }
        // As CardCommand.Init: refuse a card with a key, check fresh counters, then initialise.
        #expect(try driver.publicKey() == nil)
        #expect(try driver.pinStatus().pw1TriesLeft == 3)
        let key = try driver.initialize(userPIN: PIN("123456"), adminPIN: PIN("12345678"), creationTime: time)
        #expect(channel.finished, "the transcript has commands the driver did not send")
        #expect(key.address.checksummed == "0x5b6C40e3Bc45248037f5c6A71E3EA1B492D55A85")
    }

    @Test func oneSignature() throws {
        let channel = try TranscriptChannel(file: "sign.md")
        let driver = OpenPGPCard(channel: channel)
        let digest = PersonalMessage.hash(Array("Paratii transcript".utf8))
        let signature = try driver.sign(digest: digest, pin: PIN("424242"))
        #expect(channel.finished, "the transcript has commands the driver did not send")
        #expect(
            signature.bytes.hexString
                == "0x79594a615552c81fba3450c00221af3cbd381595ab61fd141e46370280404c3c4df6ed2d8cf3f601e410c3e6f604679ecf22e95fee6ca0ccf937463dfe35e3481c"
        )
    }

    @Test func aDeviationIsCaught() throws {
        let channel = try TranscriptChannel(file: "sign.md")
        let driver = OpenPGPCard(channel: channel)
        // A different digest deviates at PSO:CDS.
        #expect(throws: TranscriptChannel.Deviation.self) { try driver.sign(digest: Keccak256.hash([0]), pin: PIN("424242")) }
    }
}
