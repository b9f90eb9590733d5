import Delegation
import Ethereum
import Foundation
import GRDB
import Testing

@testable import Bridge

/// Requests through the bridge with a software master standing in for the card (the card path is in
/// CardFlowTests): approve, deny, expiry, a forged approval, events, revocations, the audit chain.
@Suite(.timeLimit(.minutes(5))) struct FlowTests {
    func approve(
        _ bridge: TestBridge, _ id: String, master: PrivateKey, counter: Int?, domain: Domain? = nil,
        tamper: ((inout SpendingDelegation) -> Void)? = nil
    ) async throws -> BridgeClient.Response {
        let pending = try await call { try bridge.client().get("/v1/admin/pending") }
        let entry = try #require(pending.json?["requests"]?.arrayValue?.first { $0["id"]?.stringValue == id })
        let asked = try DelegationRequest(json: try #require(entry["request"]), configuration: bridge.settings.chain)
        var delegation = asked.delegation(master: master.address, now: bridge.clock.now)
        tamper?(&delegation)
        let envelope = try Envelope.sign(delegation, domain: domain ?? bridge.settings.chain.domain, signer: master)
        var object: JSONObject = ["envelope": envelope.json]
        if let counter { object["signatureCounter"] = .number("\(counter)") }
        let body = JSONValue.object(object)
        return try await call { try bridge.client().post("/v1/admin/delegation-requests/\(id)/approve", body) }
    }

    @Test func requestApprovedYieldsAVerifyingEnvelope() async throws {
        let bridge = try await TestBridge()
        let token = try await bridge.pair()
        let player = bridge.client(token: token)
        let created = try await call { try player.post("/v1/delegation-requests", SecurityTests.request) }
        #expect(created.status == 202)
        #expect(created.json?["state"] == .string("pending"))
        let id = try #require(created.json?["id"]?.stringValue)
        let revision = try await bridge.store.revision()

        // A long-poll waiting for the change, while the user approves.
        async let events = call { try player.get("/v1/events?since=\(revision)&timeout=20") }
        try await Task.sleep(for: .milliseconds(300))
        let master = PrivateKey.generate()
        // An approval that grants more than asked is refused.
        let widened = try await approve(bridge, id, master: master, counter: 1) { $0.allowances[0].total *= 2 }
        #expect(widened.status == 422)
        let approved = try await approve(bridge, id, master: master, counter: 1)
        #expect(approved.status == 200, "\(approved.errorText)")
        let seen = try await events
        #expect(seen.json?["events"]?.arrayValue?.contains { $0["type"] == .string("request.approved") && $0["id"] == .string(id) } == true)

        let polled = try await call { try player.get("/v1/delegation-requests/\(id)") }
        #expect(polled.json?["state"] == .string("approved"))
        let envelope = try Envelope(json: try #require(polled.json?["envelope"]))
        let verdict = Verifier(domain: bridge.settings.chain.domain).verify(envelope, at: bridge.clock.now + 1)
        #expect(verdict.valid, "\(verdict.detail)")
        #expect(verdict.master == master.address)
        let delegation = try #require(envelope.message.typed as? SpendingDelegation)
        #expect(delegation.spender == (try Address("0x2222222222222222222222222222222222222222")))
        // Settled once: a second approval is a conflict.
        let again = try await call {
            try bridge.client().post("/v1/admin/delegation-requests/\(id)/approve", .object(["envelope": envelope.json]))
        }
        #expect(again.status == 409)
        await bridge.stop()
    }

    @Test func denyAndExpiry() async throws {
        let bridge = try await TestBridge { $0.requestExpiry = 60 }
        let player = bridge.client(token: try await bridge.pair())
        let first = try #require(
            try await call { try player.post("/v1/delegation-requests", SecurityTests.request) }.json?["id"]?.stringValue)
        #expect(try await call { try bridge.client().request("POST", "/v1/admin/delegation-requests/\(first)/deny") }.status == 200)
        let denied = try await call { try player.get("/v1/delegation-requests/\(first)") }
        #expect(denied.json?["state"] == .string("denied"))
        #expect(denied.json?["envelope"] == nil)

        let second = try #require(
            try await call { try player.post("/v1/delegation-requests", SecurityTests.request) }.json?["id"]?.stringValue)
        bridge.clock.advance(61)
        let expired = try await call { try player.get("/v1/delegation-requests/\(second)") }
        #expect(expired.json?["state"] == .string("expired"))
        let late = try await call { try bridge.client().request("POST", "/v1/admin/delegation-requests/\(second)/deny") }
        #expect(late.status == 409)
        await bridge.stop()
    }

    /// README: the bridge releases an envelope only if it grants exactly what was asked (same spender,
    /// allowances, payees, no longer window) and verifies under the configured domain. Each difference is
    /// refused with its code, and the request stays pending for a faithful approval.
    @Test func anEnvelopeThatDiffersFromTheRequestIsRefused() async throws {
        let bridge = try await TestBridge()
        let player = bridge.client(token: try await bridge.pair())
        let id = try #require(try await call { try player.post("/v1/delegation-requests", SecurityTests.request) }.json?["id"]?.stringValue)
        let master = PrivateKey.generate()
        let stranger = try Address("0x3333333333333333333333333333333333333333")
        let differences: [(String, (inout SpendingDelegation) -> Void)] = [
            ("spender", { $0.spender = stranger }),
            ("payees", { $0.payees = [stranger] }),
            ("per payment", { $0.allowances[0].perPayment += 1 }),
            ("a longer window", { $0.validUntil += 86400 }),
            (
                "a window already over",
                {
                    $0.validAfter = 1; $0.validUntil = 2
                }
            ),
        ]
        for (what, change) in differences {
            let response = try await approve(bridge, id, master: master, counter: nil, tamper: change)
            #expect(response.status == 422 && response.json?["code"] == .string("mismatch"), "\(what): \(response.errorText)")
        }
        let elsewhere = Domain(
            chainId: bridge.settings.chain.chainId + 1, verifyingContract: bridge.settings.chain.domain.verifyingContract)
        let otherChain = try await approve(bridge, id, master: master, counter: nil, domain: elsewhere)
        #expect(otherChain.status == 422 && otherChain.json?["code"] == .string("invalid_envelope"), "\(otherChain.errorText)")
        #expect(try await bridge.store.request(id)?.state == .pending)
        #expect(try await approve(bridge, id, master: master, counter: nil).status == 200)
        await bridge.stop()
    }

    @Test func auditChainAndCounterGaps() async throws {
        let bridge = try await TestBridge()
        let player = bridge.client(token: try await bridge.pair())
        let master = PrivateKey.generate()
        for counter in [4, 5, 9] {
            let id = try #require(
                try await call { try player.post("/v1/delegation-requests", SecurityTests.request) }.json?["id"]?.stringValue)
            #expect(try await approve(bridge, id, master: master, counter: counter).status == 200)
        }
        let report = try await bridge.store.verifyAudit()
        #expect(report.broken.isEmpty)
        #expect(report.signatures == 3)
        // One gap, where the counter jumped from 5 to 9: three signatures the bridge never saw.
        let jump = try #require(try await bridge.store.auditEntries().first { $0.signatureCounter == 9 })
        #expect(report.counterGaps == ["before entry \(jump.seq): the card made 3 signature(s) outside the bridge (counter 5 → 9)"])
        let viaAPI = try await call { try bridge.client().get("/v1/admin/audit") }
        #expect(viaAPI.json?["broken"] == .array([]))

        // Tampering with any entry breaks the chain.
        try await bridge.store.dbWriter.write { db in try db.execute(sql: "UPDATE audit SET detail = 'forged' WHERE seq = 2") }
        #expect(try await bridge.store.verifyAudit().broken.contains { $0.hasPrefix("entry 2:") })
        try await bridge.store.dbWriter.write { db in try db.execute(sql: "DELETE FROM audit WHERE seq = 3") }
        #expect(try await bridge.store.verifyAudit().broken.contains { $0.contains("entries removed") })
        await bridge.stop()
    }

    @Test func revocationsArePostedAndListed() async throws {
        let bridge = try await TestBridge()
        let player = bridge.client(token: try await bridge.pair())
        let master = PrivateKey.generate()
        // A delegation this bridge released: the user approved it, the card (here a key) signed it.
        let request = try #require(
            try await call { try player.post("/v1/delegation-requests", SecurityTests.request) }.json?["id"]?.stringValue)
        let approved = try await call {
            try bridge.client().post("/v1/admin/delegation-requests/\(request)/approve", try FaultDrills.signed(bridge, master: master))
        }
        let released = try Envelope(json: try #require(approved.json?["envelope"]))
        // Revoking anything else is refused: the bridge's list is not a store for anyone's revocations.
        let stranger = Revocation(issuer: master.address, target: [UInt8](repeating: 7, count: 32), issuedAt: bridge.clock.now)
        let strangerEnvelope = try Envelope.sign(stranger, domain: bridge.settings.chain.domain, signer: master)
        #expect(try await call { try player.post("/v1/revocations", strangerEnvelope.json) }.status == 422)
        let revocation = Revocation(issuer: master.address, target: released.id, issuedAt: bridge.clock.now)
        let envelope = try Envelope.sign(revocation, domain: bridge.settings.chain.domain, signer: master)
        #expect(try await call { try player.post("/v1/revocations", envelope.json) }.status == 201)
        // A forged one (signed by someone else than its issuer) is refused.
        let forged = Envelope(
            message: Message(revocation), domain: bridge.settings.chain.domain,
            signature: try PrivateKey.generate().sign(digest: revocation.digest(in: bridge.settings.chain.domain)).bytes, parents: [])
        #expect(try await call { try player.post("/v1/revocations", forged.json) }.status == 422)
        let list = try await call { try player.get("/v1/revocations") }
        let items = try #require(list.json?["revocations"]?.arrayValue)
        #expect(items.count == 1)
        #expect(try Envelope(json: items[0]).id == envelope.id)
        await bridge.stop()
    }

    @Test func tokensReportWhatTheProbeSees() async throws {
        let seen: JSONValue = .object(["reader": .string("Virtual PCD 00 01"), "cardPresent": .bool(false)])
        let bridge = try await TestBridge(tokens: { [seen] })
        let player = bridge.client(token: try await bridge.pair())
        let response = try await call { try player.get("/v1/tokens") }
        #expect(response.json?["tokens"] == .array([seen]))
        await bridge.stop()
    }
}
