import Foundation
import OpenPGPCard

/// Asks a PIN through a pinentry program (pinentry-tty, -curses, -gnome3…), as gpg-agent does: the
/// Assuan protocol over the program's stdin/stdout. The PIN comes back in a `D` line, percent-escaped;
/// it never touches a file or our logs, and the program is told the terminal to use.
struct Pinentry {
    let program: String

    func askPIN(description: String, prompt: String = "PIN:") throws -> PIN {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: try Self.resolve(program))
        let toPinentry = Pipe(), fromPinentry = Pipe()
        process.standardInput = toPinentry
        process.standardOutput = fromPinentry
        do { try process.run() } catch { throw CLIError("cannot start the pinentry program \(program): \(error.localizedDescription)") }
        var session = Session(input: fromPinentry.fileHandleForReading, output: toPinentry.fileHandleForWriting)
        defer {
            try? session.send("BYE")
            try? toPinentry.fileHandleForWriting.close()
            process.waitUntilExit()
        }
        _ = try session.expectOK("greeting")
        if let tty = ttyname(STDIN_FILENO).map({ String(cString: $0) }) {
            _ = try session.command("OPTION ttyname=\(tty)")
            if let term = ProcessInfo.processInfo.environment["TERM"] { _ = try session.command("OPTION ttytype=\(term)") }
        }
        _ = try session.command("SETTITLE paratii")
        _ = try session.command("SETDESC \(Self.escape(description))")
        _ = try session.command("SETPROMPT \(Self.escape(prompt))")
        let data = try session.command("GETPIN")
        guard !data.isEmpty else { throw CLIError("pinentry returned an empty PIN") }
        return PIN(bytes: data)
    }

    /// One Assuan conversation: commands out, `D`/`S`/`#` lines in until `OK` or `ERR`.
    struct Session {
        let input: FileHandle
        let output: FileHandle
        private var buffer: [UInt8] = []

        init(input: FileHandle, output: FileHandle) {
            self.input = input
            self.output = output
        }

        func send(_ line: String) throws {
            try output.write(contentsOf: Data((line + "\n").utf8))
        }

        /// Sends `line` and returns the data of its `D` lines, unescaped.
        mutating func command(_ line: String) throws -> [UInt8] {
            try send(line)
            return try expectOK(String(line.prefix { $0 != " " }))
        }

        mutating func expectOK(_ what: String) throws -> [UInt8] {
            var data: [UInt8] = []
            while true {
                let line = try readLine()
                if line.starts(with: Array("OK".utf8)) { return data }
                if line.starts(with: Array("ERR".utf8)) {
                    let text = String(decoding: line.dropFirst(4), as: UTF8.self)
                    throw CLIError(
                        text.contains("cancel") || text.hasPrefix("83886179") ? "PIN entry cancelled" : "pinentry refused \(what): \(text)")
                }
                if line.starts(with: Array("D ".utf8)) { data += try Pinentry.unescape(line.dropFirst(2)) }
                // S (status), # (comment) and anything else: not ours to act on.
            }
        }

        private mutating func readLine() throws -> ArraySlice<UInt8> {
            while true {
                if let newline = buffer.firstIndex(of: 0x0A) {
                    let line = buffer[..<newline]
                    buffer.removeSubrange(...newline)
                    return line
                }
                guard buffer.count < 4096 else { throw CLIError("pinentry sent an overlong line") }
                // read(2), not FileHandle.read(upToCount:), which waits for the whole count.
                var chunk = [UInt8](repeating: 0, count: 1024)
                let count = read(input.fileDescriptor, &chunk, chunk.count)
                if count < 0 && errno == EINTR { continue }
                guard count > 0 else { throw CLIError("the pinentry program exited before answering") }
                buffer += chunk[..<count]
            }
        }
    }

    /// Assuan escapes %, CR and LF as %XX in both directions.
    static func escape(_ text: String) -> String {
        var out = ""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "%": out += "%25"
            case "\n": out += "%0A"
            case "\r": out += "%0D"
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out
    }

    static func unescape(_ bytes: ArraySlice<UInt8>) throws -> [UInt8] {
        var out: [UInt8] = []
        var index = bytes.startIndex
        while index < bytes.endIndex {
            if bytes[index] == 0x25 {
                guard bytes.distance(from: index, to: bytes.endIndex) >= 3,
                    let value = UInt8(String(decoding: bytes[(index + 1)...(index + 2)], as: UTF8.self), radix: 16)
                else { throw CLIError("pinentry sent a malformed escape") }
                out.append(value)
                index += 3
            } else {
                out.append(bytes[index])
                index += 1
            }
        }
        return out
    }

    /// A bare name is looked up on PATH, as a shell would.
    static func resolve(_ program: String) throws -> String {
        if program.contains("/") { return program }
        for directory in (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin").split(separator: ":") {
            let candidate = "\(directory)/\(program)"
            if access(candidate, X_OK) == 0 { return candidate }
        }
        throw CLIError("no pinentry program \(program) on PATH")
    }
}
