import Delegation
import Ethereum
import Foundation
import Testing

@testable import Bridge

/// The local API as an attacker would try it: no token, a rebinding Host, a foreign Origin, huge or
/// malformed bodies, unknown fields, a revoked token, someone else's request.
@Suite(.timeLimit(.minutes(5))) struct SecurityTests {
    static let request: JSONValue = .object([
        "spender": .string("0x2222222222222222222222222222222222222222"),
        "allowances": .array([
            .object([
                "token": .string("ETH"), "total": .string("0.05"), "perPayment": .string("0.001"),
                "period": .string("1d"), "perPeriod": .string("0.01"),
            ])
        ]),
        "payees": .array([]), "validFor": .string("30d"),
    ])

    @Test func everyPlayerEndpointNeedsAToken() async throws {
        let bridge = try await TestBridge()
        for (method, path) in [
            ("GET", "/v1/status"), ("POST", "/v1/delegation-requests"), ("GET", "/v1/delegation-requests/00000000000000000000000000000000"),
            ("GET", "/v1/tokens"), ("GET", "/v1/events?since=0&timeout=0"), ("POST", "/v1/revocations"), ("GET", "/v1/revocations"),
        ] {
            for token in [nil, "", String(repeating: "0", count: 64), "x"] {
                let response = try await call {
                    try bridge.client().request(
                        method, path, body: method == "POST" ? Array(Self.request.compactText.utf8) : nil,
                        headers: token.map { [("Authorization", "Bearer \($0)")] } ?? [])
                }
                #expect(response.status == 401, "\(method) \(path) with \(token ?? "no token")")
                #expect(response.json?["code"] == .string("unauthenticated"))
            }
        }
        await bridge.stop()
    }

    @Test func hostMustBeLoopback() async throws {
        let bridge = try await TestBridge()
        let token = try await bridge.pair()
        for host in ["evil.example", "localhost.evil.example", "127.0.0.1.nip.io", "localhost:abc", "[::1]x", "10.0.0.1", "127.0.0.2"] {
            let response = try await call { try bridge.client(token: token).request("GET", "/v1/status", headers: [("Host", host)]) }
            #expect(response.status == 421, "Host \(host)")
            #expect(response.json?["code"] == .string("bad_host"))
        }
        for host in ["localhost", "localhost:8547", "127.0.0.1:1", "[::1]:8547", "[::1]"] {
            let response = try await call { try bridge.client(token: token).request("GET", "/v1/status", headers: [("Host", host)]) }
            #expect(response.status == 200, "Host \(host)")
        }
        // Pairing too: a rebinding page must not even start one.
        let pairing = try await call {
            try bridge.client().request(
                "POST", "/v1/pairings", body: Array(TestPairing().body("x").compactText.utf8), headers: [("Host", "evil.example")])
        }
        #expect(pairing.status == 421)
        await bridge.stop()
    }

    @Test func originMustBeAllowed() async throws {
        let bridge = try await TestBridge()
        let token = try await bridge.pair()
        for origin in ["http://evil.example", "null", "http://localhost:8081", "http://localhost:8080.evil.example"] {
            let response = try await call { try bridge.client(token: token).request("GET", "/v1/status", headers: [("Origin", origin)]) }
            #expect(response.status == 403, "Origin \(origin)")
            #expect(response.json?["code"] == .string("bad_origin"))
            let pairing = try await call {
                try bridge.client().request(
                    "POST", "/v1/pairings", body: Array(TestPairing().body("x").compactText.utf8), headers: [("Origin", origin)])
            }
            #expect(pairing.status == 403)
        }
        let allowed = try await call {
            try bridge.client(token: token).request("GET", "/v1/status", headers: [("Origin", "http://localhost:8080")])
        }
        #expect(allowed.status == 200)
        await bridge.stop()
    }

    @Test func bodiesAreLimitedAndStrict() async throws {
        let bridge = try await TestBridge()
        let token = try await bridge.pair()
        let client = bridge.client(token: token)
        let huge = Array(#"{"spender":""#.utf8) + [UInt8](repeating: 0x61, count: 70_000) + Array(#""}"#.utf8)
        let oversized = try await call { try client.request("POST", "/v1/delegation-requests", body: huge) }
        #expect(oversized.status == 413)
        #expect(oversized.json?["code"] == .string("too_large"))
        let oversizedPairing = try await call { try bridge.client().request("POST", "/v1/pairings", body: huge) }
        #expect(oversizedPairing.status == 413)

        for text in ["{", "not json", #"{"spender": 0x12}"#, #"{"a":1,"a":2}"#, "", #"[1,2"#] {
            let response = try await call { try client.request("POST", "/v1/delegation-requests", body: Array(text.utf8)) }
            #expect(response.status == 400, "\(text)")
            #expect(response.json?["code"] == .string("malformed_json"), "\(text)")
        }
        var withExtra = Self.request.objectValue!
        withExtra["master"] = .string("0x3333333333333333333333333333333333333333")
        let withExtraFinal = withExtra
        let extra = try await call { try client.post("/v1/delegation-requests", .object(withExtraFinal)) }
        #expect(extra.status == 400)
        #expect(extra.json?["code"] == .string("unknown_field"))
        var nested = Self.request.objectValue!
        nested["allowances"] = .array([.object(["token": .string("ETH"), "total": .string("1"), "salt": .string("1")])])
        let nestedFinal = nested
        let nestedExtra = try await call { try client.post("/v1/delegation-requests", .object(nestedFinal)) }
        #expect(nestedExtra.json?["code"] == .string("unknown_field"))
        let pairingExtra = try await call {
            try bridge.client().post(
                "/v1/pairings", .object(["name": .string("x"), "secretHash": .string(PairingSecret().hash), "admin": .bool(true)]))
        }
        #expect(pairingExtra.json?["code"] == .string("unknown_field"))
        var injected = Self.request.objectValue!
        injected["allowances"] = .array([.object(["token": .string("ETH"), "total": .string("1,per-payment=2")])])
        let injectedFinal = injected
        let injection = try await call { try client.post("/v1/delegation-requests", .object(injectedFinal)) }
        #expect(injection.status == 400)
        var tooLong = Self.request.objectValue!
        tooLong["validFor"] = .string("5000d")
        let tooLongFinal = tooLong
        #expect(try await call { try client.post("/v1/delegation-requests", .object(tooLongFinal)) }.status == 400)
        await bridge.stop()
    }

    @Test func pairingTokenIsDeliveredOnceAndStoredHashed() async throws {
        let bridge = try await TestBridge()
        let player = TestPairing()
        let created = try await call { try bridge.client().post("/v1/pairings", player.body("Paratii player")) }
        #expect(created.status == 201)
        let id = try #require(created.json?["id"]?.stringValue)
        #expect(created.json?["code"]?.stringValue?.count == 6)
        let pending = try await call { try player.poll(bridge.client(), id) }
        #expect(pending.json?["state"] == .string("pending"))
        #expect(pending.json?["token"] == nil)
        // The player cannot approve itself over TCP… nor pass the admin API a token; over the socket it is the user's.
        #expect(try await call { try bridge.client().request("POST", "/v1/admin/pairings/\(id)/approve") }.status == 200)
        // The id alone (as `ps` shows it in `paratii approve ID`) gets nothing: not the token, not the state.
        #expect(try await call { try bridge.client().get("/v1/pairings/\(id)") }.status == 404)
        #expect(try await call { try TestPairing().poll(bridge.client(), id) }.status == 404)
        let first = try await call { try player.poll(bridge.client(), id) }
        let token = try #require(first.json?["token"]?.stringValue)
        #expect(token.count == 64)
        let second = try await call { try player.poll(bridge.client(), id) }
        #expect(second.json?["token"] == nil)
        #expect(second.json?["tokenDelivered"] == .bool(true))
        // Only the SHA-256 is stored.
        let database = try Data(contentsOf: URL(fileURLWithPath: bridge.settings.databasePath))
        let wal = (try? Data(contentsOf: URL(fileURLWithPath: bridge.settings.databasePath + "-wal"))) ?? Data()
        #expect(database.range(of: Data(token.utf8)) == nil && wal.range(of: Data(token.utf8)) == nil)
        #expect(try await call { try bridge.client(token: token).get("/v1/status") }.status == 200)
        // Revoked: the token stops working at once.
        #expect(try await call { try bridge.client().request("POST", "/v1/admin/pairings/\(id)/revoke") }.status == 200)
        #expect(try await call { try bridge.client(token: token).get("/v1/status") }.status == 401)
        // A denied pairing never yields a token.
        let intruder = TestPairing()
        let other = try await call { try bridge.client().post("/v1/pairings", intruder.body("intruder")) }
        let otherID = try #require(other.json?["id"]?.stringValue)
        #expect(try await call { try bridge.client().request("POST", "/v1/admin/pairings/\(otherID)/deny") }.status == 200)
        let denied = try await call { try intruder.poll(bridge.client(), otherID) }
        #expect(denied.json?["state"] == .string("denied"))
        #expect(denied.json?["token"] == nil)
        await bridge.stop()
    }

    @Test func socketIsPrivate() async throws {
        let bridge = try await TestBridge()
        var info = stat()
        #expect(stat(bridge.settings.socketPath, &info) == 0)
        #expect(info.st_mode & 0o777 == 0o600)
        #expect(stat((bridge.settings.socketPath as NSString).deletingLastPathComponent, &info) == 0)
        #expect(info.st_mode & 0o777 == 0o700)
        await bridge.stop()
    }

    @Test func onlyLoopbackBinds() throws {
        #expect(throws: BridgeError.self) { try BridgeSettings.parseLoopback("0.0.0.0:8547") }
        #expect(throws: BridgeError.self) { try BridgeSettings.parseLoopback("192.168.1.2:8547") }
        #expect(throws: BridgeError.self) { try BridgeSettings.parseLoopback("[::]:8547") }
        #expect(try BridgeSettings.parseLoopback("127.0.0.1:8547").port == 8547)
        #expect(try BridgeSettings.parseLoopback("[::1]:8547").host == "::1")
    }

    @Test func playersSeeOnlyTheirOwnRequests() async throws {
        let bridge = try await TestBridge()
        let alice = try await bridge.pair("alice")
        let mallory = try await bridge.pair("mallory")
        let created = try await call { try bridge.client(token: alice).post("/v1/delegation-requests", Self.request) }
        #expect(created.status == 202)
        let id = try #require(created.json?["id"]?.stringValue)
        #expect(try await call { try bridge.client(token: mallory).get("/v1/delegation-requests/\(id)") }.status == 404)
        #expect(try await call { try bridge.client(token: alice).get("/v1/delegation-requests/\(id)") }.status == 200)
        // Transaction requests too, and the event stream: Mallory's holds nothing of Alice's.
        let topup = try await call { try bridge.client(token: alice).post("/v1/transaction-requests", TransactionRequestTests.topup) }
        let topupID = try #require(topup.json?["id"]?.stringValue, "\(topup.errorText)")
        #expect(try await call { try bridge.client(token: mallory).get("/v1/transaction-requests/\(topupID)") }.status == 404)
        #expect(try await call { try bridge.client(token: alice).get("/v1/transaction-requests/\(topupID)") }.status == 200)
        func eventIDs(_ token: String) async throws -> [String] {
            let events = try await call { try bridge.client(token: token).get("/v1/events?since=0&timeout=0") }
            return try #require(events.json?["events"]?.arrayValue, "\(events.errorText)").compactMap { $0["id"]?.stringValue }
        }
        let alices = try await eventIDs(alice)
        #expect(alices.contains(id) && alices.contains(topupID))
        let mallorys = try await eventIDs(mallory)
        #expect(!mallorys.contains(id) && !mallorys.contains(topupID), "\(mallorys)")
        await bridge.stop()
    }
}
