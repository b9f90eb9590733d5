import Foundation
import Hummingbird
import Logging
import NIOCore
import ServiceLifecycle
import Testing

@testable import Bridge

/// BridgeClient's kept-alive connection: requests share one connection (counted by the server), the
/// framing leaves the connection at the next answer, a connection the server closed while idle is
/// replaced without the caller noticing, and a request that went out unanswered is sent again only
/// when that cannot apply it twice. One test at a time: in the full suite many in-process servers
/// share two cores, and these add a dozen threads and sockets of their own.
@Suite(.serialized) struct KeepAliveTests {
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

    // The client blocks: each test runs it off Swift's cooperative pool (`call`), which the in-process
    // servers of the other suites need, and asserts on what it returns.

    @Test func keptAliveRequestsShareOneConnectionAndFramingHolds() async throws {
        let server = try ScriptedServer(script: Self.answering)
        defer { server.stop() }
        let (kept, acceptedKept, oneShot) = try await call {
            let client = BridgeClient(server.path, keepAlive: true)
            var texts: [String] = []
            for round in 0..<4 {
                texts.append(Self.text(try client.get("/a")))
                texts.append(Self.text(try client.get("/chunked")))
                texts.append(Self.text(try client.request("POST", "/b", body: Array("{\"n\":\(round)}".utf8))))
                let empty = try client.get("/empty")
                texts.append("\(empty.status) \(empty.body.count)")
            }
            let accepted = server.accepted
            // Without keep-alive: a connection per request, each saying so.
            let oneShot = BridgeClient(server.path)
            return (texts, accepted, try (0..<3).map { _ in Self.text(try oneShot.get("/c")) })
        }
        #expect(kept == (0..<4).flatMap { ["GET /a ", "hello, world", "POST /b {\"n\":\($0)}", "204 0"] })
        #expect(acceptedKept == 1)
        let requests = server.requests
        #expect(requests.count == 19)
        #expect(requests.prefix(16).allSatisfy { $0.connection == 1 && $0.headers["connection"] == nil })
        #expect(oneShot == ["GET /c ", "GET /c ", "GET /c "])
        #expect(server.accepted == 4)
        #expect(requests.suffix(3).allSatisfy { $0.headers["connection"] == "close" })
    }

    @Test func connectionCloseEndsTheKeptConnection() async throws {
        let server = try ScriptedServer(script: Self.answering)
        defer { server.stop() }
        let bye = try await call {
            let client = BridgeClient(server.path, keepAlive: true)
            _ = try client.get("/1")
            _ = try client.request("GET", "/2", headers: [("Connection", "close")])
            _ = try client.get("/3")
            let bye = Self.text(try client.get("/bye"))
            _ = try client.get("/4")
            return bye
        }
        #expect(bye == "bye")
        #expect(server.requests.map(\.connection) == [1, 1, 2, 2, 3])
        #expect(server.requests[1].headers["connection"] == "close")
    }

    @Test func idleConnectionClosedByTheServerIsReplaced() async throws {
        // The first connection is answered once, then closed without notice (an idle timeout).
        let server = try ScriptedServer { peer in
            if peer.index == 1 {
                if peer.read() != nil { peer.answer("first") }
                return
            }
            Self.answering(peer)
        }
        defer { server.stop() }
        let texts = try await call {
            let client = BridgeClient(server.path, keepAlive: true)
            let first = Self.text(try client.get("/first"))
            usleep(100_000)
            return [first, Self.text(try client.request("POST", "/pay", body: Array("{}".utf8)))]
        }
        #expect(texts == ["first", "POST /pay {}"])
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

    /// Sends `/first` (answered) and then `second` on the same kept connection; what `second` threw,
    /// the connections accepted once things settled, and what a later GET answers.
    static func secondRequest(
        _ server: ScriptedServer, _ second: @escaping @Sendable (BridgeClient) throws -> BridgeClient.Response
    ) async throws -> (error: String?, accepted: Int, after: String) {
        try await call {
            let client = BridgeClient(server.path, keepAlive: true)
            _ = try client.get("/first")
            var thrown: String?
            do { _ = try second(client) } catch { thrown = "\(error)" }
            Self.settle(server, accepted: 2)
            let accepted = server.accepted
            return (thrown, accepted, Self.text(try client.get("/after")))
        }
    }

    @Test func postSentOnAConnectionThatThenClosesIsNotSentAgain() async throws {
        let server = try ScriptedServer(script: Self.hangingUpOnTheSecond)
        defer { server.stop() }
        let outcome = try await Self.secondRequest(server) { try $0.request("POST", "/pay", body: Array("{\"amount\":1}".utf8)) }
        #expect(outcome.error?.contains("not sent again, since it may have been applied") == true)
        #expect(outcome.accepted == 1)
        #expect(server.requests.filter { $0.path == "/pay" }.count == 1)
        // The client goes on with a new connection.
        #expect(outcome.after == "GET /after ")
        #expect(server.accepted == 2)
    }

    @Test func idempotentRequestOnAConnectionThatThenClosesIsRetriedOnce() async throws {
        let server = try ScriptedServer(script: Self.hangingUpOnTheSecond)
        defer { server.stop() }
        let status = try await call {
            let client = BridgeClient(server.path, keepAlive: true)
            _ = try client.get("/first")
            return Self.text(try client.get("/status"))
        }
        #expect(status == "GET /status ")
        #expect(server.requests.filter { $0.path == "/status" }.map(\.connection) == [1, 2])
    }

    @Test func halfSentPostIsNotReplayed() async throws {
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
        let big = [UInt8](repeating: UInt8(ascii: "x"), count: 8 << 20)
        let outcome = try await Self.secondRequest(server) { try $0.request("POST", "/upload", body: big) }
        #expect(outcome.error != nil)
        #expect(outcome.accepted == 1)
        #expect(server.requests.filter { $0.path == "/upload" }.count == 1)
    }

    @Test func truncatedBodyIsAnErrorNotARetry() async throws {
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
        let outcome = try await Self.secondRequest(server) { try $0.get("/short") }
        #expect(outcome.error?.contains("closed inside a response body") == true)
        #expect(outcome.accepted == 1)
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
        // Shut down gracefully and wait for it: cancelling the server while a connection it accepted is
        // still buffered traps in NIO ("Deinited NIOAsyncWriter without calling finish()").
        let group = ServiceGroup(services: [app], gracefulShutdownSignals: [], cancellationSignals: [], logger: logger)
        let task = Task { try await group.run() }
        do {
            let deadline = Date().addingTimeInterval(60)
            while port.value == 0 {
                try #require(Date() < deadline, "the server did not come up")
                try await Task.sleep(for: .milliseconds(20))
            }
            let address = "http://127.0.0.1:\(port.value)"
            try await call { try body(address) }
        } catch {
            await group.triggerGracefulShutdown()
            _ = await task.result
            throw error
        }
        await group.triggerGracefulShutdown()
        _ = await task.result
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
