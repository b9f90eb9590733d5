import Ethereum
import Foundation
import GRDB
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Logging
import LoopbackHTTP
import Testing

@testable import Bridge

/// The router in process (`app.test(.router)`): the same routes and middleware as the daemon, no
/// socket, no server. The socket tests (SecurityTests, FlowTests…) stay: they also cover the listener.
@Suite struct RouterTests {
    /// The router over a fresh store. `X-Test-Authority` sets the request's authority (the Host header),
    /// which the in-process client always fills with "localhost".
    static func withRouter<T: Sendable>(
        admin: Bool = true, _ test: @Sendable (any TestClientProtocol, BridgeStore) async throws -> T
    ) async throws -> T {
        let directory = "/tmp/pbr-\(UUID().uuidString.prefix(8))"
        defer { try? FileManager.default.removeItem(atPath: directory) }
        var settings = BridgeSettings(socketPath: directory + "/bridge.sock", databasePath: directory + "/bridge.sqlite")
        settings.allowedOrigins = ["http://localhost:8080"]
        let store = try BridgeStore(path: settings.databasePath)
        let router = buildRouter(BridgeContext(settings: settings, store: store, tokens: { [] }), admin: admin)
        var logger = Logger(label: "paratii.bridge.router-test")
        logger.logLevel = .critical
        let app = Application(responder: TestAuthority(inner: router.buildResponder()), logger: logger)
        return try await app.test(.router) { client in try await test(client, store) }
    }

    struct TestAuthority<Inner: HTTPResponder>: HTTPResponder {
        let inner: Inner
        func respond(to request: Request, context: Inner.Context) async throws -> Response {
            guard let authority = request.headers[HTTPField.Name("X-Test-Authority")!] else {
                return try await inner.respond(to: request, context: context)
            }
            var head = request.head
            head.authority = authority
            return try await inner.respond(to: Request(head: head, body: request.body), context: context)
        }
    }

    static func object(_ response: TestResponse) -> JSONValue? { try? JSONValue.parse(Array(response.body.readableBytesView)) }

    static func post(
        _ client: any TestClientProtocol, _ uri: String, _ value: JSONValue, headers: HTTPFields = [:]
    ) async throws -> TestResponse {
        try await client.execute(uri: uri, method: .post, headers: headers, body: ByteBuffer(string: value.compactText))
    }

    @Test func health() async throws {
        try await Self.withRouter { client, _ in
            let response = try await client.execute(uri: "/v1/health", method: .get)
            #expect(response.status == .ok)
            #expect(response.headers[.contentType] == "application/json")
            #expect(Self.object(response) == .object(["ok": .bool(true)]))
        }
    }

    @Test func hostAndOriginGuards() async throws {
        try await Self.withRouter { client, _ in
            for host in ["evil.example", "127.0.0.1.nip.io", "localhost:abc", "[::1]x"] {
                let response = try await client.execute(
                    uri: "/v1/health", method: .get, headers: [HTTPField.Name("X-Test-Authority")!: host])
                #expect(response.status.code == 421, "Host \(host)")
                #expect(Self.object(response)?["code"] == .string("bad_host"))
            }
            for host in ["localhost:8547", "127.0.0.1", "[::1]:1"] {
                #expect(
                    try await client.execute(uri: "/v1/health", method: .get, headers: [HTTPField.Name("X-Test-Authority")!: host]).status
                        == .ok)
            }
            let foreign = try await client.execute(uri: "/v1/health", method: .get, headers: [.origin: "http://evil.example"])
            #expect(foreign.status == .forbidden)
            #expect(Self.object(foreign) == .object(["error": .string("origin not allowed"), "code": .string("bad_origin")]))
            let allowed = try await client.execute(uri: "/v1/health", method: .get, headers: [.origin: "http://localhost:8080"])
            #expect(allowed.status == .ok)
            #expect(allowed.headers[.accessControlAllowOrigin] == "http://localhost:8080")
            let preflight = try await client.execute(uri: "/v1/pairings", method: .options, headers: [.origin: "http://localhost:8080"])
            #expect(preflight.status == .noContent)
        }
    }

    @Test func pairingRoundTrip() async throws {
        try await Self.withRouter { client, store in
            let secret = PairingSecret()
            let created = try await Self.post(
                client, "/v1/pairings", .object(["name": .string("router player"), "secretHash": .string(secret.hash)]))
            #expect(created.status == .created)
            let id = try #require(Self.object(created)?["id"]?.stringValue)
            #expect(Self.object(created)?["state"] == .string("pending"))
            let ownerOnly: HTTPFields = [.authorization: "Pairing \(secret.secret)"]
            #expect(Self.object(try await client.execute(uri: "/v1/pairings/\(id)", method: .get, headers: ownerOnly))?["token"] == nil)
            #expect(try await client.execute(uri: "/v1/admin/pairings/\(id)/approve", method: .post).status == .ok)
            let approved = try await client.execute(uri: "/v1/pairings/\(id)", method: .get, headers: ownerOnly)
            let token = try #require(Self.object(approved)?["token"]?.stringValue)
            let status = try await client.execute(uri: "/v1/status", method: .get, headers: [.authorization: "Bearer \(token)"])
            #expect(status.status == .ok)
            #expect(Self.object(status)?["pairing"] == .string(id))
            // The store holds a typed record; the audit chain grew by created, approved, token-delivered.
            #expect(try await store.pairing(id)?.state == .approved)
            #expect(try await store.auditEntries().map(\.kind) == ["pairing.created", "pairing.approved", "pairing.token-delivered"])
            #expect(try await store.verifyAudit().broken.isEmpty)
            // Settled once: approving again is a store refusal the API shows as 409.
            let again = try await client.execute(uri: "/v1/admin/pairings/\(id)/approve", method: .post)
            #expect(again.status == .conflict)
            #expect(Self.object(again) == .object(["error": .string("pairing is approved"), "code": .string("conflict")]))
        }
    }

    @Test func errorShapes() async throws {
        try await Self.withRouter(admin: false) { client, _ in
            // Hummingbird's own 404 in the API's shape; the admin routes do not exist on this router.
            for uri in ["/v1/nowhere", "/v1/admin/pending"] {
                let missing = try await client.execute(uri: uri, method: .get)
                #expect(missing.status == .notFound, "\(uri)")
                #expect(Self.object(missing) == .object(["error": .string("Not Found"), "code": .string("not_found")]), "\(uri)")
            }
            let unauthenticated = try await client.execute(uri: "/v1/status", method: .get)
            #expect(unauthenticated.status == .unauthorized)
            #expect(
                Self.object(unauthenticated)
                    == .object(["error": .string("pair first: Authorization: Bearer <token>"), "code": .string("unauthenticated")]))
            // Strict JSON: a duplicate key, an unknown member.
            let duplicate = try await client.execute(
                uri: "/v1/pairings", method: .post, body: ByteBuffer(string: #"{"name":"a","name":"b"}"#))
            #expect(duplicate.status == .badRequest)
            #expect(Self.object(duplicate)?["code"] == .string("malformed_json"))
            let unknown = try await Self.post(
                client, "/v1/pairings", .object(["name": .string("x"), "secretHash": .string(PairingSecret().hash), "admin": .bool(true)]))
            #expect(Self.object(unknown)?["code"] == .string("unknown_field"))
            // Over the limit: 413 in the same shape.
            let huge = try await client.execute(uri: "/v1/pairings", method: .post, body: ByteBuffer(repeating: 0x20, count: 70_000))
            #expect(huge.status == .contentTooLarge)
            #expect(Self.object(huge)?["code"] == .string("too_large"))
        }
    }

    /// A player's ninth waiting request is refused inside the store's write (`tooManyRequests`), as a 429.
    @Test func requestQueueIsBoundedPerPlayer() async throws {
        try await Self.withRouter { client, store in
            let secret = PairingSecret()
            let id = try #require(
                Self.object(
                    try await Self.post(client, "/v1/pairings", .object(["name": .string("q"), "secretHash": .string(secret.hash)])))?[
                        "id"]?.stringValue)
            #expect(try await client.execute(uri: "/v1/admin/pairings/\(id)/approve", method: .post).status == .ok)
            let token = try #require(
                Self.object(
                    try await client.execute(uri: "/v1/pairings/\(id)", method: .get, headers: [.authorization: "Pairing \(secret.secret)"])
                )?["token"]?.stringValue)
            let player: HTTPFields = [.authorization: "Bearer \(token)"]
            for _ in 0..<BridgeStore.pendingRequestsPerPairing {
                #expect(try await Self.post(client, "/v1/delegation-requests", SecurityTests.request, headers: player).status == .accepted)
            }
            let refused = try await Self.post(client, "/v1/delegation-requests", SecurityTests.request, headers: player)
            #expect(refused.status == .tooManyRequests)
            #expect(Self.object(refused)?["code"] == .string("too_many_requests"))
            #expect(try await store.requests(state: .pending).count == BridgeStore.pendingRequestsPerPairing)
            // The first request's spender became the pairing's wallet, in the same commit.
            #expect(try await store.pairing(id)?.wallet == (try Address("0x2222222222222222222222222222222222222222")))
        }
    }

    /// The pending-pairing limit is a store refusal (`BridgeStoreError.tooManyPairings`) the API shows as 429.
    @Test func storeRefusalsMapToStatuses() async throws {
        try await Self.withRouter { client, _ in
            for _ in 0..<BridgeStore.pendingPairingsPerPeer {
                #expect(
                    try await Self.post(
                        client, "/v1/pairings", .object(["name": .string("p"), "secretHash": .string(PairingSecret().hash)])
                    ).status == .created)
            }
            let refused = try await Self.post(
                client, "/v1/pairings", .object(["name": .string("p"), "secretHash": .string(PairingSecret().hash)]))
            #expect(refused.status == .tooManyRequests)
            #expect(
                Self.object(refused)
                    == .object(["error": .string("too many of your pairings wait for approval"), "code": .string("too_many_pairings")]))
        }
        #expect(APIError(BridgeStoreError.notFound("request")).status == .notFound)
        #expect(APIError(BridgeStoreError.settled("request", state: "expired")).message == "request is expired")
    }
}
