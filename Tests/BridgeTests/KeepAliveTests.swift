import Foundation
import Hummingbird
import Logging
import NIOCore
import Testing

@testable import Bridge

/// BridgeClient's kept-alive connection: requests share one connection (counted by the server), the
/// framing leaves the connection at the next answer, a connection the server closed while idle is
/// replaced without the caller noticing, and a request that went out unanswered is sent again only
/// when that cannot apply it twice.
@Suite struct KeepAliveTests {
    /// Answers every request on the connection: `/chunked` in chunks (with an extension and a trailer,
    /// written in pieces), `/empty` with 204, `/bye` with `Connection: close` and a close, anything else
    /// with a Content-Length echo of the method, path and body (its size when large).
    static func answering(_ peer: ScriptedServer.Peer) {
        while let request = peer.read() {
            switch request.path {
            case "/chunked":
                peer.write("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5;ext=1\r")
                usleep(20_000)
                peer.write("\nhello\r\n7\r\n, wor")
                usleep(20_000)
                peer.write("ld\r\n0\r\nX-Trailer: t\r\n\r\n")
            case "/empty":
                peer.write("HTTP/1.1 204 No Content\r\n\r\n")
            case "/bye":
                peer.answer("bye", extra: "Connection: close\r\n")
                return
            default:
                let body = request.body.count > 1024 ? "\(request.body.count) bytes" : String(decoding: request.body, as: UTF8.self)
                peer.answer("\(request.method) \(request.path) \(body)")
            }
        }
    }

    static func text(_ response: BridgeClient.Response) -> String { String(decoding: response.body, as: UTF8.self) }

    /// Waits until the server has accepted `count` connections, or a moment passed (then the count says).
    static func settle(_ server: ScriptedServer, accepted count: Int) {
        for _ in 0..<40 where server.accepted < count { usleep(10_000) }
        usleep(50_000)
    }

    @Test func keptAliveRequestsShareOneConnectionAndFramingHolds() throws {
        let server = try ScriptedServer(script: Self.answering)
        defer { server.stop() }
        let client = BridgeClient(server.path, keepAlive: true)
        for round in 0..<4 {
            #expect(Self.text(try client.get("/a")) == "GET /a ")
            #expect(Self.text(try client.get("/chunked")) == "hello, world")
            #expect(Self.text(try client.request("POST", "/b", body: Array("{\"n\":\(round)}".utf8))) == "POST /b {\"n\":\(round)}")
            let empty = try client.get("/empty")
            #expect(empty.status == 204 && empty.body.isEmpty)
        }
        #expect(server.accepted == 1)
        #expect(server.requests.count == 16)
        #expect(server.requests.allSatisfy { $0.connection == 1 && $0.headers["connection"] == nil })

        // Without keep-alive: a connection per request, each saying so.
        let oneShot = BridgeClient(server.path)
        for _ in 0..<3 { #expect(Self.text(try oneShot.get("/c")) == "GET /c ") }
        #expect(server.accepted == 4)
        #expect(server.requests.suffix(3).allSatisfy { $0.headers["connection"] == "close" })
    }

    @Test func connectionCloseEndsTheKeptConnection() throws {
        let server = try ScriptedServer(script: Self.answering)
        defer { server.stop() }
        let client = BridgeClient(server.path, keepAlive: true)
        _ = try client.get("/1")
        _ = try client.request("GET", "/2", headers: [("Connection", "close")])
        _ = try client.get("/3")
        #expect(Self.text(try client.get("/bye")) == "bye")
        _ = try client.get("/4")
        #expect(server.requests.map(\.connection) == [1, 1, 2, 2, 3])
        #expect(server.requests[1].headers["connection"] == "close")
    }

    @Test func idleConnectionClosedByTheServerIsReplaced() throws {
        // The first connection is answered once, then closed without notice (an idle timeout).
        let server = try ScriptedServer { peer in
            if peer.index == 1 {
                if peer.read() != nil { peer.answer("first") }
                return
            }
            Self.answering(peer)
        }
        defer { server.stop() }
        let client = BridgeClient(server.path, keepAlive: true)
        #expect(Self.text(try client.get("/first")) == "first")
        usleep(100_000)
        #expect(Self.text(try client.request("POST", "/pay", body: Array("{}".utf8))) == "POST /pay {}")
        #expect(server.accepted == 2)
        #expect(server.requests.filter { $0.path == "/pay" }.map(\.connection) == [2])
    }

    /// The first connection answers once, then reads the next request and hangs up without an answer.
    static func hangingUpOnTheSecond(_ peer: ScriptedServer.Peer) {
        if peer.index == 1 {
            if peer.read() != nil { peer.answer("first") }
            _ = peer.read()
            return
        }
        answering(peer)
    }

    @Test func postSentOnAConnectionThatThenClosesIsNotSentAgain() throws {
        let server = try ScriptedServer(script: Self.hangingUpOnTheSecond)
        defer { server.stop() }
        let client = BridgeClient(server.path, keepAlive: true)
        _ = try client.get("/first")
        let error = #expect(throws: BridgeError.self) { try client.request("POST", "/pay", body: Array("{\"amount\":1}".utf8)) }
        #expect("\(error.map { "\($0)" } ?? "")".contains("not sent again, since it may have been applied"))
        Self.settle(server, accepted: 2)
        #expect(server.accepted == 1)
        #expect(server.requests.filter { $0.path == "/pay" }.count == 1)
        // The client goes on with a new connection.
        #expect(Self.text(try client.get("/after")) == "GET /after ")
        #expect(server.accepted == 2)
    }

    @Test func idempotentRequestOnAConnectionThatThenClosesIsRetriedOnce() throws {
        let server = try ScriptedServer(script: Self.hangingUpOnTheSecond)
        defer { server.stop() }
        let client = BridgeClient(server.path, keepAlive: true)
        _ = try client.get("/first")
        #expect(Self.text(try client.get("/status")) == "GET /status ")
        #expect(server.requests.filter { $0.path == "/status" }.map(\.connection) == [1, 2])
    }

    @Test func halfSentPostIsNotReplayed() throws {
        // The first connection answers once, then reads only the next request's head and resets.
        let server = try ScriptedServer { peer in
            if peer.index == 1 {
                if peer.read() != nil { peer.answer("first") }
                _ = peer.read(headOnly: true)
                peer.reset()
                return
            }
            Self.answering(peer)
        }
        defer { server.stop() }
        let client = BridgeClient(server.path, keepAlive: true)
        _ = try client.get("/first")
        let big = [UInt8](repeating: UInt8(ascii: "x"), count: 8 << 20)
        #expect(throws: BridgeError.self) { try client.request("POST", "/upload", body: big) }
        Self.settle(server, accepted: 2)
        #expect(server.accepted == 1)
        #expect(server.requests.filter { $0.path == "/upload" }.count == 1)
    }

    @Test func truncatedBodyIsAnErrorNotARetry() throws {
        let server = try ScriptedServer { peer in
            while let request = peer.read() {
                if request.path == "/short" {
                    peer.write("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc")
                    return
                }
                peer.answer("ok")
            }
        }
        defer { server.stop() }
        let client = BridgeClient(server.path, keepAlive: true)
        _ = try client.get("/first")
        let error = #expect(throws: BridgeError.self) { try client.get("/short") }
        #expect("\(error.map { "\($0)" } ?? "")".contains("closed inside a response body"))
        Self.settle(server, accepted: 2)
        #expect(server.accepted == 1)
    }

    // MARK: Hummingbird (the server of the bridge, the wallet service and the payee server)

    /// A request context that knows the connection's peer, so a route can say which connection asked.
    struct PeerContext: RequestContext {
        var coreContext: CoreRequestContextStorage
        let peer: String
        init(source: ApplicationRequestContextSource) {
            coreContext = .init(source: source)
            peer = "\(source.channel.remoteAddress?.port ?? -1)"
        }
    }

    /// Runs a Hummingbird application on a loopback port whose `/peer` answers the client's port.
    static func withPeerServer(idleTimeout: TimeAmount? = nil, _ body: @escaping @Sendable (String) throws -> Void) async throws {
        let router = Router(context: PeerContext.self)
        router.get("peer") { _, context in context.peer }
        router.post("peer") { _, context in context.peer }
        var logger = Logger(label: "paratii.keepalive.test")
        logger.logLevel = .critical
        let port = PortBox()
        let app = Application(
            router: router, server: .http1(configuration: .init(idleTimeout: idleTimeout)),
            configuration: .init(address: .hostname("127.0.0.1", port: 0), serverName: nil),
            onServerRunning: { channel in port.set(channel.localAddress?.port ?? 0) }, logger: logger)
        let task = Task { try await app.runService(gracefulShutdownSignals: []) }
        defer { task.cancel() }
        let deadline = Date().addingTimeInterval(60)
        while port.value == 0 {
            try #require(Date() < deadline, "the server did not come up")
            try await Task.sleep(for: .milliseconds(20))
        }
        let address = "http://127.0.0.1:\(port.value)"
        try await call { try body(address) }
    }

    final class PortBox: @unchecked Sendable {
        private let lock = NSLock()
        private var port = 0
        var value: Int { lock.withLock { port } }
        func set(_ value: Int) { lock.withLock { port = value } }
    }

    @Test func hummingbirdKeepsTheConnectionAlive() async throws {
        try await Self.withPeerServer { address in
            let client = BridgeClient(address, keepAlive: true)
            let peers = try (0..<10).map { _ in Self.text(try client.get("/peer")) }
            #expect(Set(peers).count == 1)
            let oneShot = BridgeClient(address)
            #expect(Set(try (0..<5).map { _ in Self.text(try oneShot.get("/peer")) }).count == 5)
        }
    }

    @Test func hummingbirdIdleTimeoutIsReconnectedTransparently() async throws {
        try await Self.withPeerServer(idleTimeout: .milliseconds(200)) { address in
            let client = BridgeClient(address, keepAlive: true)
            let first = Self.text(try client.get("/peer"))
            #expect(Self.text(try client.get("/peer")) == first)
            usleep(600_000)
            // The server closed the idle connection: the POST goes out on a new one, once.
            let second = try client.request("POST", "/peer")
            #expect(second.status == 200)
            #expect(Self.text(second) != first)
        }
    }
}
