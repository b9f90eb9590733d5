import Ethereum
import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// A small blocking HTTP/1.1 client for the bridge's API (and the other loopback servers'), over a Unix
/// socket (a path) or loopback TCP (`http://127.0.0.1:PORT`).
///
/// By default one connection per request, `Connection: close`. With `keepAlive` the client (and its
/// copies) keeps one connection open and sends its requests on it one at a time, as a browser does:
/// no connection setup per call. A kept connection the server closed while it sat idle is replaced
/// before anything is sent on it; when it turns out closed only after a request went out unanswered,
/// the request is sent again on a new connection only if it is idempotent (GET, HEAD, PUT, DELETE,
/// OPTIONS) or not a byte of it was sent; otherwise the caller gets an error saying the request may
/// have been applied, never a silent replay.
public struct BridgeClient: Sendable {
    public enum Endpoint: Sendable { case unix(String), tcp(host: String, port: Int) }
    public let endpoint: Endpoint
    public var token: String?
    public var host = "localhost"
    public var timeout: Int = 120
    public var socketPath: String? { if case .unix(let path) = endpoint { path } else { nil } }
    /// The kept-alive connection this client and its copies share; nil: a connection per request.
    private let kept: KeptConnection?
    public var keepAlive: Bool { kept != nil }

    public init(_ address: String, token: String? = nil, keepAlive: Bool = false) {
        if address.hasPrefix("http://") {
            let rest = address.dropFirst("http://".count).split(separator: "/").first.map(String.init) ?? ""
            let parsed = try? BridgeSettings.parseLoopback(rest)
            endpoint = .tcp(host: parsed?.host ?? "127.0.0.1", port: parsed?.port ?? 0)
        } else {
            endpoint = .unix(address)
        }
        self.token = token
        kept = keepAlive ? KeptConnection() : nil
    }

    private init(copying other: BridgeClient, keepAlive: Bool) {
        endpoint = other.endpoint
        token = other.token
        host = other.host
        timeout = other.timeout
        kept = keepAlive ? KeptConnection() : nil
    }

    /// This client with a kept-alive connection of its own (one per thread that calls concurrently).
    public func keepingAlive() -> BridgeClient { BridgeClient(copying: self, keepAlive: true) }

    /// Closes the kept-alive connection now (the next request opens another); a no-op without one.
    public func closeConnection() { kept?.lock.withLock { kept?.socket = nil } }

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

    /// Sends one request; `headers` may override Host or add Origin (the tests play attackers with it),
    /// or say `Connection: close` to end a kept-alive connection after this request.
    public func request(_ method: String, _ path: String, body: [UInt8]? = nil, headers: [(String, String)] = []) throws -> Response {
        var head = "\(method) \(path) HTTP/1.1\r\n"
        let names = Set(headers.map { $0.0.lowercased() })
        if !names.contains("host") { head += "Host: \(host)\r\n" }
        if let token, !names.contains("authorization") { head += "Authorization: Bearer \(token)\r\n" }
        for (name, value) in headers { head += "\(name): \(value)\r\n" }
        if let body {
            head += "Content-Type: application/json\r\nContent-Length: \(body.count)\r\n"
        } else if method == "POST" {
            head += "Content-Length: 0\r\n"
        }
        if kept == nil, !names.contains("connection") { head += "Connection: close\r\n" }
        head += "\r\n"
        let message = Array(head.utf8) + (body ?? [])
        let closeAsked = headers.contains { $0.0.lowercased() == "connection" && $0.1.lowercased().contains("close") }

        guard let kept else {
            do { return try Self.exchange(ClientSocket.open(endpoint, timeout: timeout), message, method).response } catch is Lost {
                throw BridgeError.io("the server closed the connection without answering \(method) \(path)")
            }
        }
        return try kept.lock.withLock {
            if let socket = kept.socket, !socket.isIdleAndOpen { kept.socket = nil }
            let reused = kept.socket != nil
            let socket = try kept.socket ?? ClientSocket.open(endpoint, timeout: timeout)
            kept.socket = nil  // put back only after a complete answer that leaves it reusable
            let answer: (response: Response, reusable: Bool)
            do { answer = try Self.exchange(socket, message, method) } catch let lost as Lost {
                guard reused, lost.sent == 0 || Self.idempotent.contains(method) else {
                    throw BridgeError.io(
                        "the server closed the connection after \(method) \(path) was sent and before it answered: not sent again, since it may have been applied"
                    )
                }
                // The server closed the kept connection as the request went out: once more on a new one.
                do { answer = try Self.exchange(ClientSocket.open(endpoint, timeout: timeout), message, method) } catch is Lost {
                    throw BridgeError.io("the server closed the connection without answering \(method) \(path)")
                }
            }
            if answer.reusable && !closeAsked { kept.socket = socket }
            return answer.response
        }
    }

    static let idempotent: Set<String> = ["GET", "HEAD", "PUT", "DELETE", "OPTIONS"]

    /// The connection ended before a byte of the answer came; `sent` bytes of the request had gone out.
    struct Lost: Error { let sent: Int }

    /// Sends the request and reads its answer. A server may answer (413) and close before reading all
    /// of a body: when sending fails, its answer is read all the same.
    private static func exchange(
        _ socket: ClientSocket, _ message: [UInt8], _ method: String
    ) throws -> (
        response: Response, reusable: Bool
    ) {
        let stopped = try socket.send(message)
        do {
            let answer = try ResponseReader.read(from: socket, method: method)
            return (answer.response, answer.reusable && stopped == nil)
        } catch is ResponseReader.NothingReceived { throw Lost(sent: stopped ?? message.count) }
    }

    public func get(_ path: String) throws -> Response { try request("GET", path) }
    public func post(_ path: String, _ value: JSONValue) throws -> Response {
        try request("POST", path, body: value.compactBytes)
    }
}

/// The connection a keep-alive client and its copies share, used by one request at a time.
final class KeptConnection: @unchecked Sendable {
    let lock = NSLock()
    var socket: ClientSocket?
}
