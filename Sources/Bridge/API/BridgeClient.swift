import Ethereum
import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// A small blocking HTTP/1.1 client for the bridge's API, over its Unix socket (a path) or loopback
/// TCP (`http://127.0.0.1:PORT`). One connection per request, `Connection: close`.
public struct BridgeClient: Sendable {
    public enum Endpoint: Sendable { case unix(String), tcp(host: String, port: Int) }
    public let endpoint: Endpoint
    public var token: String?
    public var host = "localhost"
    public var timeout: Int = 120
    public var socketPath: String? { if case .unix(let path) = endpoint { path } else { nil } }

    public init(_ address: String, token: String? = nil) {
        if address.hasPrefix("http://") {
            let rest = address.dropFirst("http://".count).split(separator: "/").first.map(String.init) ?? ""
            let parsed = try? BridgeSettings.parseLoopback(rest)
            endpoint = .tcp(host: parsed?.host ?? "127.0.0.1", port: parsed?.port ?? 0)
        } else {
            endpoint = .unix(address)
        }
        self.token = token
    }

    public struct Response: Sendable {
        public let status: Int
        public let body: [UInt8]
        /// Header values by lowercased name (the last one wins).
        public var headers: [String: String] = [:]
        public var json: JSONValue? { try? JSONValue.parse(body) }
        /// The API's error text, or the body.
        public var errorText: String {
            if let json, let error = json["error"]?.stringValue { return "\(error) (\(json["code"]?.stringValue ?? "\(status)"))" }
            return "HTTP \(status)"
        }
    }

    /// Sends one request; `headers` may override Host or add Origin (the tests play attackers with it).
    public func request(_ method: String, _ path: String, body: [UInt8]? = nil, headers: [(String, String)] = []) throws -> Response {
        let fd = try connect()
        defer { close(fd) }
        var head = "\(method) \(path) HTTP/1.1\r\n"
        var names = Set(headers.map { $0.0.lowercased() })
        if !names.contains("host") { head += "Host: \(host)\r\n" }
        if let token, !names.contains("authorization") { head += "Authorization: Bearer \(token)\r\n" }
        for (name, value) in headers { head += "\(name): \(value)\r\n" }
        names.insert("host")
        if let body {
            head += "Content-Type: application/json\r\nContent-Length: \(body.count)\r\n"
        } else if method == "POST" {
            head += "Content-Length: 0\r\n"
        }
        head += "Connection: close\r\n\r\n"
        try send(fd, Array(head.utf8) + (body ?? []))
        return try Self.parse(try receive(fd))
    }

    public func get(_ path: String) throws -> Response { try request("GET", path) }
    public func post(_ path: String, _ value: JSONValue) throws -> Response {
        try request("POST", path, body: Array(value.compactText.utf8))
    }

    private func connect() throws -> Int32 {
        switch endpoint {
        case .unix(let path):
            let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
            guard fd >= 0 else { throw BridgeError.io("socket: \(String(cString: strerror(errno)))") }
            var address = sockaddr_un()
            address.sun_family = sa_family_t(AF_UNIX)
            let bytes = Array(path.utf8)
            guard bytes.count < MemoryLayout.size(ofValue: address.sun_path) else {
                close(fd); throw BridgeError.io("socket path too long: \(path)")
            }
            withUnsafeMutableBytes(of: &address.sun_path) { raw in
                for (i, b) in bytes.enumerated() { raw[i] = b }
                raw[bytes.count] = 0
            }
            let result = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
            }
            guard result == 0 else {
                let text = String(cString: strerror(errno))
                close(fd)
                throw BridgeError.io("cannot reach the bridge at \(path): \(text) (start it with `paratii bridge run`)")
            }
            setTimeout(fd)
            return fd
        case .tcp(let host, let port):
            let fd = socket(host.contains(":") ? AF_INET6 : AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            guard fd >= 0 else { throw BridgeError.io("socket: \(String(cString: strerror(errno)))") }
            var result: Int32
            if host.contains(":") {
                var address = sockaddr_in6()
                address.sin6_family = sa_family_t(AF_INET6)
                address.sin6_port = in_port_t(UInt16(port).bigEndian)
                address.sin6_addr = in6addr_loopback
                result = withUnsafePointer(to: &address) {
                    $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                        Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in6>.size))
                    }
                }
            } else {
                var address = sockaddr_in()
                address.sin_family = sa_family_t(AF_INET)
                address.sin_port = in_port_t(UInt16(port).bigEndian)
                address.sin_addr.s_addr = inet_addr("127.0.0.1")
                result = withUnsafePointer(to: &address) {
                    $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                        Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
                    }
                }
            }
            guard result == 0 else {
                let text = String(cString: strerror(errno))
                close(fd)
                throw BridgeError.io("cannot reach the bridge at \(host):\(port): \(text)")
            }
            setTimeout(fd)
            return fd
        }
    }

    private func setTimeout(_ fd: Int32) {
        var tv = timeval(tv_sec: timeout, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
    }

    private func send(_ fd: Int32, _ bytes: [UInt8]) throws {
        var offset = 0
        while offset < bytes.count {
            let n = bytes[offset...].withUnsafeBytes { Glibc.send(fd, $0.baseAddress!, $0.count, Int32(MSG_NOSIGNAL)) }
            if n < 0 {
                if errno == EINTR { continue }
                // The server may answer (413) and close before reading all we send: read its answer then.
                if errno == EPIPE || errno == ECONNRESET { return }
                throw BridgeError.io("send: \(String(cString: strerror(errno)))")
            }
            offset += n
        }
    }

    private func receive(_ fd: Int32) throws -> [UInt8] {
        var data: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress!, $0.count, 0) }
            if n == 0 { break }
            if n < 0 {
                if errno == EINTR { continue }
                if errno == ECONNRESET, !data.isEmpty { break }
                throw BridgeError.io("receive: \(String(cString: strerror(errno)))")
            }
            data += buffer[0..<n]
            if data.count > 16 << 20 { throw BridgeError.protocolError("response too large") }
        }
        return data
    }

    static func parse(_ data: [UInt8]) throws -> Response {
        guard
            let end = data.indices.first(where: {
                $0 + 3 < data.count && data[$0] == 13 && data[$0 + 1] == 10 && data[$0 + 2] == 13 && data[$0 + 3] == 10
            }),
            let head = String(validating: data[..<end], as: UTF8.self)
        else { throw BridgeError.protocolError("malformed HTTP response") }
        let lines = head.components(separatedBy: "\r\n")
        let statusParts = lines[0].split(separator: " ")
        guard statusParts.count >= 2, let status = Int(statusParts[1]) else { throw BridgeError.protocolError("malformed status line") }
        var chunked = false
        var length: Int?
        var headers: [String: String] = [:]
        for line in lines.dropFirst() {
            let pair = line.split(separator: ":", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
            guard pair.count == 2 else { continue }
            headers[pair[0].lowercased()] = pair[1]
            if pair[0].lowercased() == "transfer-encoding", pair[1].lowercased().contains("chunked") { chunked = true }
            if pair[0].lowercased() == "content-length" { length = Int(pair[1]) }
        }
        var body = Array(data[(end + 4)...])
        if chunked {
            var decoded: [UInt8] = []
            var index = 0
            while index < body.count {
                guard let lineEnd = body[index...].indices.first(where: { $0 + 1 < body.count && body[$0] == 13 && body[$0 + 1] == 10 }),
                    let sizeText = String(validating: body[index..<lineEnd], as: UTF8.self),
                    let size = Int(sizeText.split(separator: ";")[0], radix: 16)
                else { throw BridgeError.protocolError("malformed chunk") }
                if size == 0 { break }
                let start = lineEnd + 2
                guard start + size <= body.count else { throw BridgeError.protocolError("truncated chunk") }
                decoded += body[start..<(start + size)]
                index = start + size + 2
            }
            body = decoded
        } else if let length, length <= body.count {
            body = Array(body.prefix(length))
        }
        return Response(status: status, body: body, headers: headers)
    }
}
