import BigInt
import Ethereum
import Testing

@testable import Delegation

/// v written 0/1 verifies off chain but fails ecrecover at redemption: envelopes refuse it, as high s.
@Suite struct RecoveryByteTests {
    let world = World()

    static func rawRecoveryID(_ envelope: Envelope) -> Envelope {
        var signature = envelope.signature
        signature[64] -= 27
        return Envelope(message: envelope.message, domain: envelope.domain, signature: signature, parents: envelope.parents)
    }

    @Test func vZeroOrOneIsABadSignatureInEveryLink() throws {
        let spending = try world.signedSpending()
        let voucher = try world.signedVoucher(world.voucher(under: spending), parents: [spending])
        #expect(world.verifier().verify(voucher, at: world.now).valid)
        // The leaf written with v 0/1: the same signature, and refused.
        let leaf = world.verifier().verify(Self.rawRecoveryID(voucher), at: world.now)
        #expect(leaf.reason == .badSignature)
        #expect(leaf.detail.contains("v must be 27 or 28"))
        // A parent written with v 0/1.
        let parent = try world.signedVoucher(world.voucher(under: spending), parents: [Self.rawRecoveryID(spending)])
        #expect(world.verifier().verify(parent, at: world.now).reason == .badSignature)
        // Through JSON too: what arrives on the wire gets the same verdict.
        let wire = try Envelope(json: Self.rawRecoveryID(voucher).json)
        #expect(world.verifier().verify(wire, at: world.now).reason == .badSignature)
    }

    @Test func aRevocationWithVZeroOrOneIsHonouredAndKeptAs27Or28() throws {
        let spending = try world.signedSpending()
        let voucher = try world.signedVoucher(world.voucher(under: spending), parents: [spending])
        let revocation = Self.rawRecoveryID(try world.revocation(of: spending, by: world.master))
        var list = RevocationList()
        #expect(list.add(revocation) == nil)
        #expect(list.envelopes.allSatisfy { [27, 28].contains($0.signature[64]) })
        #expect(Verifier(domain: world.domain, revocations: list).verify(voucher, at: world.now).reason == .revoked)
    }
}
