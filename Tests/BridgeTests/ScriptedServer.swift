import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// A raw HTTP/1.1 server on a Unix socket for the client's tests: it counts the connections it
/// accepts and records every request it reads, and each connection follows a script (answer with
/// this framing, close while idle, read a request and hang up, reset mid-body), which no real
/// server can be told to do on cue.
final class ScriptedServer: @unchecked Sendable {
    struct Received: Sendable {
        let method: String
        let path: String
        let headers: [String: String]
        let body: [UInt8]
        /// Which accepted connection (1, 2, …) carried it.
        let connection: Int
    }

    /// One accepted connection, handed to the script.
    final class Peer: @unchecked Sendable {
        let fd: Int32
        let index: Int
        let server: ScriptedServer
        private var buffer: [UInt8] = []
        private(set) var closed = false

        init(fd: Int32, index: Int, server: ScriptedServer) {
            self.fd = fd
            self.index = index
            self.server = server
        }

        /// Reads one request's head (and, unless `headOnly`, its Content-Length body) and records it; nil
        /// when the client closed the connection first.
        @discardableResult
        func read(headOnly: Bool = false) -> Received? {
            var end: Int?
            while end == nil {
                end = buffer.indices.dropLast(3).first {
                    buffer[$0] == 13 && buffer[$0 + 1] == 10 && buffer[$0 + 2] == 13 && buffer[$0 + 3] == 10
                }
                if end == nil, !receive() { return nil }
            }
            let lines = String(decoding: buffer[..<end!], as: UTF8.self).components(separatedBy: "\r\n")
            buffer.removeFirst(end! + 4)
            let start = lines[0].split(separator: " ")
            var headers: [String: String] = [:]
            for line in lines.dropFirst() {
                let pair = line.split(separator: ":", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
                if pair.count == 2 { headers[pair[0].lowercased()] = pair[1] }
            }
            var body: [UInt8] = []
            if !headOnly, let length = headers["content-length"].flatMap({ Int($0) }) {
                while buffer.count < length { guard receive() else { return nil } }
                body = Array(buffer.prefix(length))
                buffer.removeFirst(length)
            }
            let received = Received(method: String(start[0]), path: String(start[1]), headers: headers, body: body, connection: index)
            server.lock.withLock { server.received.append(received) }
            return received
        }

        func write(_ text: String) {
            let bytes = Array(text.utf8)
            var offset = 0
            while offset < bytes.count {
                let n = bytes[offset...].withUnsafeBytes { send(fd, $0.baseAddress!, $0.count, Int32(MSG_NOSIGNAL)) }
                guard n > 0 else { return }
                offset += n
            }
        }

        /// A complete answer with a Content-Length body.
        func answer(_ body: String, status: String = "200 OK", extra: String = "") {
            write("HTTP/1.1 \(status)\r\nContent-Type: application/json\r\nContent-Length: \(body.utf8.count)\r\n\(extra)\r\n\(body)")
        }

        func close() {
            guard !closed else { return }
            closed = true
            Glibc.close(fd)
        }

        /// Drops the connection with a reset instead of an orderly close (data the client is still
        /// sending is refused, not read).
        func reset() {
            var linger = Glibc.linger(l_onoff: 1, l_linger: 0)
            setsockopt(fd, SOL_SOCKET, SO_LINGER, &linger, socklen_t(MemoryLayout<Glibc.linger>.size))
            close()
        }

        private func receive() -> Bool {
            var chunk = [UInt8](repeating: 0, count: 65536)
            let n = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress!, $0.count, 0) }
            guard n > 0 else { return false }
            buffer += chunk[0..<n]
            return true
        }
    }

    let path: String
    private let directory: String
    private let listener: Int32
    private let lock = NSLock()
    private var accepts = 0
    private var received: [Received] = []
    /// Signalled when the accept loop has returned: only then may the listener's descriptor be closed.
    /// Closed earlier, its number could be reused by another suite's socket, which this loop would then
    /// accept from (stealing the payee server tests' connections).
    private let acceptLoopEnded = DispatchSemaphore(value: 0)

    var accepted: Int { lock.withLock { accepts } }
    var requests: [Received] { lock.withLock { received } }

    /// Listens and runs `script` for each accepted connection on a thread of its own; the connection
    /// is closed when the script returns.
    init(script: @escaping @Sendable (Peer) -> Void) throws {
        directory = "/tmp/pks-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        path = directory + "/scripted.sock"
        listener = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            for (i, b) in path.utf8.enumerated() { raw[i] = b }
        }
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(listener, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        guard bound == 0, listen(listener, 16) == 0 else { throw BridgeTestFailure("cannot listen on \(path)") }
        let listening = listener
        Thread.detachNewThread { [self] in
            defer { acceptLoopEnded.signal() }
            while true {
                let fd = accept(listening, nil, nil)
                guard fd >= 0 else { return }
                let index = lock.withLock {
                    accepts += 1
                    return accepts
                }
                let peer = Peer(fd: fd, index: index, server: self)
                Thread.detachNewThread {
                    script(peer)
                    peer.close()
                }
            }
        }
    }

    func stop() {
        // shutdown wakes the blocked accept (and fails every later one) while the descriptor stays ours.
        shutdown(listener, Int32(SHUT_RDWR))
        acceptLoopEnded.wait()
        close(listener)
        try? FileManager.default.removeItem(atPath: directory)
    }
}

struct BridgeTestFailure: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
