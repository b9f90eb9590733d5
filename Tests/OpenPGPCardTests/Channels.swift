import Foundation
import OpenPGPCard
import SoftToken
import Testing

/// The driver's channel straight into a `SoftCard`, in process: no pcscd, no vpcd. Like the PC/SC
/// transport it collects `61xx` with GET RESPONSE and re-sends on `6Cxx`. Anything else that calls
/// `card.process` (a test playing another PC/SC client) reaches the same card.
final class SoftCardChannel: SmartCardChannel, @unchecked Sendable {
    let card: SoftCard
    private(set) var sent: [CommandAPDU] = []

    init(_ card: SoftCard) { self.card = card }

    func transmit(_ command: CommandAPDU) throws -> ResponseAPDU {
        sent.append(command)
        var response = try exchange(command)
        if response.sw1 == StatusWord.sw1WrongLe {
            var again = command
            again.le = response.sw2 == 0 ? 256 : Int(response.sw2)
            response = try exchange(again)
        }
        var data = response.data
        while response.sw1 == StatusWord.sw1MoreData {
            response = try exchange(CommandAPDU(.getResponse, p1: 0, p2: 0, le: response.sw2 == 0 ? 256 : Int(response.sw2)))
            data += response.data
        }
        return ResponseAPDU(data: data, sw: response.sw)
    }

    private func exchange(_ command: CommandAPDU) throws -> ResponseAPDU {
        guard let response = ResponseAPDU(bytes: card.process(command.encoded())) else { throw ChannelError.noResponse }
        return response
    }

    func withTransaction<T>(_ body: () throws -> T) throws -> T { try body() }
    var connectionGeneration: Int { 0 }

    enum ChannelError: Error { case noResponse }
}

/// A channel that answers from a recorded transcript (firmware-notes/transcripts/*.md) and fails on
/// the first command that differs from the recording, byte for byte. Masked bytes (`**`, the PINs)
/// match only a command whose data the trace masks too, with the same length.
final class TranscriptChannel: SmartCardChannel, @unchecked Sendable {
    struct Exchange { let command: String; let response: ResponseAPDU }

    struct Deviation: Error, CustomStringConvertible {
        let description: String
    }

    private let exchanges: [Exchange]
    private(set) var position = 0

    init(markdown: String) throws {
        var commands: [String] = []
        var responses: [ResponseAPDU] = []
        for line in markdown.split(separator: "\n") {
            if line.hasPrefix("C: ") {
                commands.append(String(line.dropFirst(3)))
            } else if line.hasPrefix("R: ") {
                let bytes = try line.dropFirst(3).split(separator: " ").map { byte -> UInt8 in
                    guard let value = UInt8(byte, radix: 16) else { throw Deviation(description: "bad response byte \(byte)") }
                    return value
                }
                guard let response = ResponseAPDU(bytes: bytes) else { throw Deviation(description: "short response line") }
                responses.append(response)
            }
        }
        guard commands.count == responses.count, !commands.isEmpty else {
            throw Deviation(description: "transcript has \(commands.count) commands and \(responses.count) responses")
        }
        exchanges = zip(commands, responses).map { Exchange(command: $0, response: $1) }
    }

    convenience init(file name: String) throws {
        let url = Self.repositoryRoot.appendingPathComponent("firmware-notes/transcripts/\(name)")
        try self.init(markdown: try String(contentsOf: url, encoding: .utf8))
    }

    static var repositoryRoot: URL {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    }

    /// The recorded command lines, in order (for reading values such as the key's creation time).
    var commands: [String] { exchanges.map(\.command) }
    var finished: Bool { position == exchanges.count }

    func transmit(_ command: CommandAPDU) throws -> ResponseAPDU {
        let sent = APDUDescription.redactedHex(command)
        guard position < exchanges.count else {
            throw Deviation(description: "command \(position + 1) beyond the transcript's end: \(sent)")
        }
        let expected = exchanges[position]
        guard sent == expected.command else {
            throw Deviation(description: "command \(position + 1) deviates:\n  recorded: \(expected.command)\n  sent:     \(sent)")
        }
        position += 1
        return expected.response
    }

    func withTransaction<T>(_ body: () throws -> T) throws -> T { try body() }
    var connectionGeneration: Int { 0 }
}
