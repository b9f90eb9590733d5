import BigInt
import Delegation
import Ethereum
import Foundation
import PCSC
import Testing

@testable import Bridge

/// An institution's card approving through the bridge: `paratii approve --attestation` carries the
/// card's CardAttestation as the delegation's root, so the player's chain verifies under the
/// institution, and refuses a request above the attested ceiling before the PIN is asked.
@Suite(.serialized, .timeLimit(.minutes(15))) struct AttestedApprovalTests {
    typealias Rig = CardFlowTests

    @Test func approvalCarriesTheAttestationAndRefusesAboveTheCeiling() async throws {
        let rig = try await CardBridgeRig()
        let (card, bridge, config, pin) = (rig.card, rig.bridge, rig.config, rig.pin)

        // The institution (a software key here; its own card in InstitutionTests) attests the card: ETH up to 0.1 in all.
        let institution = PrivateKey.generate()
        let now = UInt64(Date().timeIntervalSince1970)
        let attestation = CardAttestation(
            institution: institution.address, master: card.master, holder: "Ada", cardSerial: "00000001",
            ceiling: [Allowance(token: Allowance.eth, total: BigUInt(10).power(17), perPayment: BigUInt(10).power(15))],
            validUntil: now + 90 * 86400, salt: 1)
        let attestationFile = bridge.directory + "/attestation.json"
        try Data(try Envelope.sign(attestation, domain: bridge.settings.chain.domain, signer: institution).json.prettyText.utf8)
            .write(to: URL(fileURLWithPath: attestationFile))
        let player = bridge.client(token: try await bridge.pair())
        func ask(total: String) async throws -> String {
            let body: JSONValue = .object([
                "spender": .string("0x2222222222222222222222222222222222222222"), "validFor": .string("30d"),
                "allowances": .array([.object(["token": .string("ETH"), "total": .string(total), "perPayment": .string("0.001")])]),
            ])
            return try #require(try await call { try player.post("/v1/delegation-requests", body) }.json?["id"]?.stringValue)
        }
        let approve = { (id: String) in
            [
                "approve", id, "--socket", bridge.settings.socketPath, "--config", config, "--reader", Rig.reader,
                "--pin-file", pin, "--attestation", attestationFile,
            ]
        }

        let tooMuch = try await ask(total: "0.5")
        let refused = try await Rig.run(approve(tooMuch))
        #expect(refused.status != 0 && refused.stderr.contains("exceeds the attested ceiling"), "\(refused.stderr)")
        #expect(try await bridge.store.request(tooMuch)?.state == .pending)
        #expect(try await bridge.store.verifyAudit().signatures == 0, "the card signed nothing")

        let within = try await ask(total: "0.05")
        let approved = try await Rig.run(approve(within))
        #expect(approved.status == 0, "\(approved.stderr)")
        let released = try #require(try await call { try player.get("/v1/delegation-requests/\(within)") }.json?["envelope"])
        let envelope = try Envelope(json: released)
        let at = UInt64(Date().timeIntervalSince1970) + 1
        let verdict = Verifier(domain: bridge.settings.chain.domain, institution: institution.address).verify(envelope, at: at)
        #expect(verdict.valid, "\(verdict.detail)")
        #expect(verdict.master == card.master)
        let other = Verifier(domain: bridge.settings.chain.domain, institution: PrivateKey.generate().address).verify(envelope, at: at)
        #expect(other.reason == .notAttested)
        await rig.finish()
    }
}
