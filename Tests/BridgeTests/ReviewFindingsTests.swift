import Delegation
import Ethereum
import Foundation
import GRDB
import LoopbackHTTP
import Storage
import Testing

@testable import Bridge

/// The outside review's findings on the bridge, each tried as the attacker would: another local user,
/// a paired player sending hostile numbers, a peer flooding pairings, a player naming its own recipient.
@Suite(.timeLimit(.minutes(5))) struct ReviewFindingsTests {
    // MARK: 1. The socket directory must be the user's alone

    @Test func socketDirectoryOfAnotherUserIsRefused() async throws {
        guard geteuid() == 0 else { return }
        let base = "/tmp/pb-\(UUID().uuidString.prefix(8))"
        defer { try? FileManager.default.removeItem(atPath: base) }
        #expect(mkdir(base, 0o755) == 0)
        // `nobody` created the directory first, open to itself.
        #expect(mkdir(base + "/run", 0o777) == 0 && chmod(base + "/run", 0o777) == 0 && chown(base + "/run", 65534, 65534) == 0)
        #expect(throws: StorageError.self) { try BridgeSocket.prepare(base + "/run/bridge.sock") }
        #expect(try FileManager.default.contentsOfDirectory(atPath: base + "/run").isEmpty)
        // A symlink in its place, to a directory the attacker reads: refused, nothing created through it.
        #expect(mkdir(base + "/attacker", 0o777) == 0)
        #expect(symlink(base + "/attacker", base + "/link") == 0)
        #expect(throws: StorageError.self) { try BridgeSocket.prepare(base + "/link/bridge.sock") }
        #expect(try FileManager.default.contentsOfDirectory(atPath: base + "/attacker").isEmpty)
    }

    /// The review's attack itself: no XDG_RUNTIME_DIR, so the bridge falls back to /tmp/paratii-UID, which
    /// `nobody` made first (or made a symlink). Run in a private mount namespace with its own /tmp, so the
    /// machine's /tmp is untouched; the real `paratii bridge run` must refuse, naming the path.
    @Test func tmpFallbackPlantedByAnotherUserIsRefused() async throws {
        guard geteuid() == 0 else { return }
        // A copy outside /tmp: the namespace mounts a fresh /tmp, which would hide a checkout under /tmp (and
        // a sanitizer's suppressions file there, hence no sanitizer options inside).
        let base = FileManager.default.fileExists(atPath: "/dev/shm") ? "/dev/shm" : "/var/tmp"
        var template = Array((base + "/paratii-fallback-XXXXXX").utf8CString)
        let copyDirectory = String(cString: try #require(mkdtemp(&template)))
        defer { try? FileManager.default.removeItem(atPath: copyDirectory) }
        let binary = copyDirectory + "/paratii"
        try FileManager.default.copyItem(atPath: CardFlowTests.binary.path, toPath: binary)
        let script = """
            set -e
            mount -t tmpfs tmpfs /tmp
            setpriv --reuid=65534 --regid=65534 --clear-groups mkdir -m 0777 /tmp/paratii-0 /tmp/paratii-0/paratii
            if env -u XDG_RUNTIME_DIR -u TSAN_OPTIONS -u ASAN_OPTIONS \(binary) bridge run --database /tmp/state/bridge.sqlite 2>/tmp/err1; then echo STARTED1; fi
            cat /tmp/err1; ls -A /tmp/paratii-0/paratii | sed 's/^/INSIDE1 /'
            rm -rf /tmp/paratii-0
            setpriv --reuid=65534 --regid=65534 --clear-groups sh -c 'mkdir -m 0777 /tmp/attacker && ln -s /tmp/attacker /tmp/paratii-0'
            if env -u XDG_RUNTIME_DIR -u TSAN_OPTIONS -u ASAN_OPTIONS \(binary) bridge run --database /tmp/state/bridge.sqlite 2>/tmp/err2; then echo STARTED2; fi
            cat /tmp/err2; ls -A /tmp/attacker | sed 's/^/INSIDE2 /'
            echo DONE
            """
        let result = try await CardFlowTests.runProgram("/usr/bin/unshare", ["--mount", "--propagation", "private", "sh", "-c", script])
        let output = result.stdout + result.stderr
        #expect(output.contains("DONE"), "\(output)")
        #expect(!output.contains("STARTED"), "\(output)")
        #expect(output.contains("/tmp/paratii-0 belongs to uid 65534"), "\(output)")
        #expect(output.contains("/tmp/paratii-0 is not a directory"), "\(output)")
        #expect(!output.contains("INSIDE"), "something was created in the attacker's directory: \(output)")
    }

    // MARK: 5. Hostile numbers in query strings

    @Test func hostileEventTimeoutsAre400AndTheBridgeLives() async throws {
        let bridge = try await TestBridge()
        let player = bridge.client(token: try await bridge.pair())
        for query in [
            "timeout=nan", "timeout=inf", "timeout=-inf", "timeout=-1e16", "timeout=1e300", "timeout=61", "timeout=", "since=-1",
            "since=abc", "since=99999999999999999999", "since=1e3",
        ] {
            let response = try await call { try player.get("/v1/events?\(query)") }
            #expect(response.status == 400, "\(query): \(response.status)")
            #expect(response.json?["code"] == .string("bad_request"), "\(query)")
        }
        #expect(try await call { try player.get("/v1/events?since=0&timeout=0") }.status == 200)
        #expect(try await call { try bridge.client().get("/v1/health") }.status == 200)
        await bridge.stop()
    }

    @Test func queryParsingRefusesWithoutTrapping() throws {
        #expect(try RequestHeaders.eventsQuery(since: "7", timeout: "0.25") == .init(since: 7, timeoutMilliseconds: 250))
        #expect(try RequestHeaders.eventsQuery(since: nil, timeout: nil) == .init())
        for bad in ["nan", "NaN", "inf", "-0.5", "1e300", "60.001", "0x10", " 5"] {
            #expect(throws: APIError.self, "\(bad)") { try RequestHeaders.eventsQuery(since: nil, timeout: bad) }
        }
        #expect(RequestHeaders.bearerToken("Bearer " + String(repeating: "a", count: 64)) != nil)
        #expect(RequestHeaders.bearerToken("Bearer " + String(repeating: "g", count: 64)) == nil)
        #expect(RequestHeaders.pairingSecret("Pairing short") == nil)
    }

    // MARK: 6. Pairing tokens only for their creator; limits per peer

    @Test func anotherUserWithThePairingIDGetsNoToken() async throws {
        guard geteuid() == 0 else { return }
        let port = try freeLoopbackPort()
        let bridge = try await TestBridge { $0.tcp = (host: "127.0.0.1", port: port) }
        let player = TestPairing()
        let id = try #require(try await call { try bridge.client().post("/v1/pairings", player.body("player")) }.json?["id"]?.stringValue)
        #expect(try await call { try bridge.client().request("POST", "/v1/admin/pairings/\(id)/approve") }.status == 200)
        // `nobody` knows the id (it read `ps`) and asks over TCP, as it can: 404, and no token.
        var stolen = (status: Int32(0), stdout: "", stderr: "")
        for _ in 0..<100 {
            stolen = try await CardFlowTests.runProgram(
                "/usr/bin/setpriv",
                [
                    "--reuid=65534", "--regid=65534", "--clear-groups", "curl", "-s",
                    "-H", "Host: localhost", "http://127.0.0.1:\(port)/v1/pairings/\(id)",
                ])
            if stolen.stdout.contains("not_found") || stolen.stdout.contains("token") { break }
            try await Task.sleep(for: .milliseconds(50))
        }
        #expect(stolen.stdout.contains("not_found") && !stolen.stdout.contains("\"token\""), "\(stolen.stdout)")
        // The creator still collects it.
        let mine = try await call { try player.poll(bridge.client(), id) }
        #expect(mine.json?["token"]?.stringValue?.count == 64)
        await bridge.stop()
    }

    @Test func oneFloodingPeerCannotLockOthersOut() async throws {
        let port = try freeLoopbackPort()
        let bridge = try await TestBridge {
            $0.tcp = (host: "127.0.0.1", port: port)
            $0.allowedOrigins = ["http://localhost:8080", "http://localhost:9090"]
        }
        let tcp = BridgeClient("http://127.0.0.1:\(port)")
        var ready = false
        let deadline = Date().addingTimeInterval(180)  // as long as TestBridge waits for its socket
        while !ready && Date() < deadline {
            ready = (try? await call { try tcp.get("/v1/health") })?.status == 200
            if !ready { try await Task.sleep(for: .milliseconds(50)) }
        }
        func pair(_ origin: String) async throws -> Int {
            let body = Array(TestPairing().body("flood").compactText.utf8)
            return try await call { try tcp.request("POST", "/v1/pairings", body: body, headers: [("Origin", origin)]) }.status
        }
        for _ in 0..<BridgeStore.pendingPairingsPerPeer { #expect(try await pair("http://localhost:8080") == 201) }
        #expect(try await pair("http://localhost:8080") == 429)
        // Another page, and the user's own socket, still pair.
        #expect(try await pair("http://localhost:9090") == 201)
        #expect(try await call { try bridge.client().post("/v1/pairings", TestPairing().body("local player")) }.status == 201)
        // The socket's peer is the kernel's word for it (SO_PEERCRED), not something the client says.
        let peers = try await bridge.store.dbWriter.read { db in
            try String.fetchAll(db, sql: "SELECT DISTINCT peer FROM pairing ORDER BY peer")
        }
        #expect(peers == ["origin:http://localhost:8080", "origin:http://localhost:9090", "uid:\(geteuid())"], "\(peers)")
        await bridge.stop()
    }

    // MARK: 3. What approve shows is what the card signs

    static func chain() throws -> Delegation.Configuration {
        var chain = Configuration(
            chainId: 1337, verifyingContract: .zero, ptiToken: try Address("0x1111111111111111111111111111111111111111"))
        chain.tokens = [.init(address: try Address("0x3333333333333333333333333333333333333333"), symbol: "USDC", decimals: 6)]
        return chain
    }

    @Test func unknownTokensAreRefusedBeforeTheyAreQueued() async throws {
        let bridge = try await TestBridge()
        let player = bridge.client(token: try await bridge.pair())
        var unknown = SecurityTests.request.objectValue!
        unknown["allowances"] = .array([.object(["token": .string("0x00000000000000000000000000000000000000aa"), "total": .string("1")])])
        let unknownBody = unknown
        #expect(try await call { try player.post("/v1/delegation-requests", .object(unknownBody)) }.status == 400)
        let topup: JSONValue = .object([
            "kind": .string("topup"), "to": .string("0x2222222222222222222222222222222222222222"),
            "token": .string("0x00000000000000000000000000000000000000aa"), "amount": .string("1"),
            "nonce": .string("0"), "gas": .string("100000"), "maxFeePerGas": .string("1"),
            "maxPriorityFeePerGas": .string("1"),
        ])
        #expect(try await call { try player.post("/v1/transaction-requests", topup) }.status == 400)
        #expect(try await bridge.store.requests(state: .pending).isEmpty)
        await bridge.stop()
    }

    @Test func amountsAreSignedInTheTokensOwnDecimals() throws {
        let chain = try Self.chain()
        let asked = try TransactionRequest(
            json: .object([
                "kind": .string("topup"), "to": .string("0x2222222222222222222222222222222222222222"), "token": .string("USDC"),
                "amount": .string("0.000001"), "nonce": .string("0"), "gas": .string("100000"), "maxFeePerGas": .string("1"),
                "maxPriorityFeePerGas": .string("1"),
            ]), configuration: chain)
        #expect(asked.amount == 1)
        // ERC-20 transfer(to, 1): the last word of the calldata is the amount the card signs.
        let data = asked.transaction(chainId: 1337).data
        #expect(data.suffix(32) == [UInt8](repeating: 0, count: 31) + [1])
        #expect(asked.summary(chain)[0].contains("0.000001 USDC"), "\(asked.summary(chain))")
        #expect(asked.json(chain)["amount"] == .string("0.000001"))
        let request = try DelegationRequest(
            json: .object([
                "spender": .string("0x2222222222222222222222222222222222222222"),
                "allowances": .array([.object(["token": .string("USDC"), "total": .string("2.5"), "perPayment": .string("0.01")])]),
                "validFor": .string("1d"),
            ]), configuration: chain)
        #expect(request.allowances[0].total == 2_500_000 && request.allowances[0].perPayment == 10_000)
        #expect(request.allowances[0].summary(chain) == "USDC: total 2.5, per payment 0.01")
    }

    @Test func aTopupElsewhereThanThePlayersWalletNeedsConfirmation() async throws {
        let bridge = try await TestBridge()
        let wallet = PrivateKey.generate().address
        let pairing = TestPairing()
        let id = try #require(
            try await call { try bridge.client().post("/v1/pairings", pairing.body("player", wallet: wallet)) }.json?["id"]?.stringValue)
        #expect(try await call { try bridge.client().request("POST", "/v1/admin/pairings/\(id)/approve") }.status == 200)
        let token = try #require(try await call { try pairing.poll(bridge.client(), id) }.json?["token"]?.stringValue)
        let elsewhere = "0x2222222222222222222222222222222222222222"
        let topup: JSONValue = .object([
            "kind": .string("topup"), "to": .string(elsewhere), "token": .string("ETH"), "amount": .string("1"),
            "nonce": .string("0"), "gas": .string("21000"), "maxFeePerGas": .string("1"), "maxPriorityFeePerGas": .string("1"),
        ])
        let request = try #require(
            try await call { try bridge.client(token: token).post("/v1/transaction-requests", topup) }.json?["id"]?.stringValue)
        let pending = try await call { try bridge.client().get("/v1/admin/pending") }
        #expect(pending.json?["requests"]?.arrayValue?.first?["wallet"] == .string(wallet.checksummed))
        let refused = try await CardFlowTests.run(["approve", request, "--socket", bridge.settings.socketPath])
        #expect(refused.status != 0, "\(refused.stderr)")
        #expect(
            refused.stderr.contains("WARNING: the top-up goes to \(elsewhere)") && refused.stderr.contains("--confirm-recipient"),
            "\(refused.stderr)")
        #expect(try await bridge.store.request(request)?.state == .pending)
        let mistyped = try await CardFlowTests.run([
            "approve", request, "--socket", bridge.settings.socketPath, "--confirm-recipient", wallet.checksummed,
        ])
        #expect(mistyped.status != 0 && mistyped.stderr.contains("--confirm-recipient"), "\(mistyped.stderr)")
        #expect(try await bridge.store.request(request)?.state == .pending)
        await bridge.stop()
    }

    // MARK: 10. Revocations only of what this bridge released, and a bounded number

    @Test func revocationsAreBoundedPerPlayer() async throws {
        let bridge = try await TestBridge()
        let token = try await bridge.pair()
        let pairing = try await bridge.store.authenticate(token: token)?.id
        try await bridge.store.dbWriter.write { db in
            for n in 0..<BridgeStore.revocationsPerPairing {
                try db.execute(
                    sql: "INSERT INTO revocation (id, envelope, addedAt, pairing) VALUES (?, '{}', 0, ?)",
                    arguments: [Data([UInt8](repeating: UInt8(n), count: 32)), pairing])
            }
        }
        await #expect(throws: BridgeStoreError.tooManyRevocations) {
            try await bridge.store.addRevocation(id: [UInt8](repeating: 0xEE, count: 32), envelope: .object([:]), pairing: pairing)
        }
        await bridge.stop()
    }
}
