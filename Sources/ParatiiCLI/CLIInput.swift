import Foundation

/// Reading what the user hands a command: files, stdin, secrets.
enum CLIInput {
    /// The bytes of FILE, or of standard input when the argument is `-`.
    static func bytes(_ path: String) throws -> [UInt8] {
        if path == "-" { return Array(FileHandle.standardInput.readDataToEndOfFile()) }
        guard let data = FileManager.default.contents(atPath: path) else {
            throw CLIError("cannot read \(path)")
        }
        return Array(data)
    }

    static func text(_ path: String) throws -> String {
        guard let text = String(validating: try bytes(path), as: UTF8.self) else {
            throw CLIError("\(path) is not UTF-8 text")
        }
        return text
    }

    /// A password or PIN from a file: the first line, without its line ending.
    static func secret(file path: String) throws -> String {
        // Bytes, not Characters: Swift treats "\r\n" as one Character, which a split on "\n" would miss.
        var line = try bytes(path).prefix { $0 != 0x0A }
        if line.last == 0x0D { line = line.dropLast() }
        guard let secret = String(validating: line, as: UTF8.self) else { throw CLIError("\(path) is not UTF-8 text") }
        return secret
    }

    /// A secret from `file` when given, else asked without echo (twice when `confirming` a new one).
    static func secret(file: String?, prompt: String, confirming: Bool) throws -> String {
        if let file { return try secret(file: file) }
        let first = try secret(prompt: prompt)
        if confirming, try secret(prompt: "Repeat: ") != first { throw CLIError("the two entries differ") }
        return first
    }

    /// Asks on the terminal without echo (getpass semantics); fails cleanly without a terminal.
    static func secret(prompt: String) throws -> String {
        guard isatty(STDIN_FILENO) == 1 else {
            throw CLIError("no terminal to ask for the secret: pass it in a file instead")
        }
        var old = termios()
        tcgetattr(STDIN_FILENO, &old)
        var silent = old
        silent.c_lflag &= ~tcflag_t(ECHO)
        FileHandle.standardError.write(Data(prompt.utf8))
        tcsetattr(STDIN_FILENO, TCSAFLUSH, &silent)
        defer {
            tcsetattr(STDIN_FILENO, TCSAFLUSH, &old)
            FileHandle.standardError.write(Data("\n".utf8))
        }
        return readLine(strippingNewline: true) ?? ""
    }
}
