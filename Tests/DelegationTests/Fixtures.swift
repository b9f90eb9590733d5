import BigInt
import Ethereum

@testable import Delegation

/// A small world: a master (the card), a spender, a poster, an institution, and their messages.
struct World {
    let domain = Domain(chainId: 11_155_111, verifyingContract: try! Address("0xCcCCccccCCCCcCCCCCCcCcCccCcCCCcCcccccccC"))
    let master = try! PrivateKey(hex: "0x" + String(repeating: "11", count: 32))
    let spender = try! PrivateKey(hex: "0x" + String(repeating: "22", count: 32))
    let poster = try! PrivateKey(hex: "0x" + String(repeating: "33", count: 32))
    let institution = try! PrivateKey(hex: "0x" + String(repeating: "44", count: 32))
    let stranger = try! PrivateKey(hex: "0x" + String(repeating: "55", count: 32))
    let pti = try! Address("0x00000000000000000000000000000000000000aa")
    let payee = try! Address("0x00000000000000000000000000000000000000bb")
    let now: UInt64 = 1_780_000_000

    var ethAllowance: Allowance {
        Allowance(
            token: Allowance.eth, total: BigUInt(50) * BigUInt(10).power(15), perPayment: BigUInt(10).power(14),
            period: 86400, perPeriod: BigUInt(10).power(16))
    }

    func spendingDelegation(
        payees: [Address] = [], validAfter: UInt64? = nil, validUntil: UInt64? = nil,
        allowances: [Allowance]? = nil
    ) -> SpendingDelegation {
        SpendingDelegation(
            master: master.address, spender: spender.address, allowances: allowances ?? [ethAllowance],
            payees: payees, validAfter: validAfter ?? now - 3600, validUntil: validUntil ?? now + 30 * 86400, salt: 7)
    }

    func signedSpending(_ delegation: SpendingDelegation? = nil, parents: [Envelope] = []) throws -> Envelope {
        try Envelope.sign(delegation ?? spendingDelegation(), domain: domain, signer: master, parents: parents)
    }

    func voucher(under parent: Envelope, cumulative: BigUInt = 1000, token: Address = Allowance.eth, payee: Address? = nil) -> Voucher {
        Voucher(
            delegation: parent.id, payee: payee ?? self.payee, token: token, cumulative: cumulative, sequence: 1,
            memo: Keccak256.hash("segment-1"))
    }

    func signedVoucher(_ voucher: Voucher, parents: [Envelope], signer: PrivateKey? = nil) throws -> Envelope {
        try Envelope.sign(voucher, domain: domain, signer: signer ?? spender, parents: parents)
    }

    func posting(
        under parent: Envelope, scopes: Scopes = [.rate, .flag], validAfter: UInt64? = nil, validUntil: UInt64? = nil
    ) -> PostingDelegation {
        PostingDelegation(
            parent: parent.id, spender: spender.address, poster: poster.address, scopes: scopes,
            validAfter: validAfter ?? now - 60, validUntil: validUntil ?? now + 86400, salt: 9)
    }

    func vote(under posting: Envelope, kind: UInt8 = 1, value: Int16 = 5, issuedAt: UInt64? = nil) -> Vote {
        Vote(
            delegation: posting.id, content: Keccak256.hash("video-42"), kind: kind, value: value, reason: "great ✓",
            issuedAt: issuedAt ?? now)
    }

    func attestation(ceiling: [Allowance]? = nil, validUntil: UInt64? = nil) -> CardAttestation {
        CardAttestation(
            institution: institution.address, master: master.address, holder: "Ada Lovelace",
            cardSerial: "D2760001240103040006123456780000",
            ceiling: ceiling ?? [
                Allowance(
                    token: Allowance.eth, total: BigUInt(10).power(18), perPayment: BigUInt(10).power(16),
                    period: 86400, perPeriod: BigUInt(10).power(17))
            ],
            validUntil: validUntil ?? now + 365 * 86400, salt: 3)
    }

    func revocation(of target: Envelope, by key: PrivateKey, at time: UInt64? = nil) throws -> Envelope {
        try Envelope.sign(Revocation(issuer: key.address, target: target.id, issuedAt: time ?? now - 1), domain: domain, signer: key)
    }

    func verifier(_ revocations: [Envelope] = [], institution: Address? = nil) -> Verifier {
        var list = RevocationList()
        for revocation in revocations { list.add(revocation) }
        return Verifier(domain: domain, revocations: list, institution: institution)
    }
}
