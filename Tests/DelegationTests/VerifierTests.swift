import BigInt
import Ethereum
import Foundation
import Testing

@testable import Delegation

@Suite struct VerifierTests {
    let world = World()

    func reason(_ envelope: Envelope, _ verifier: Verifier? = nil, at time: UInt64? = nil) -> Reason? {
        (verifier ?? world.verifier()).verify(envelope, at: time ?? world.now).reason
    }

    @Test func validChainsVerifyToTheMaster() throws {
        let spending = try world.signedSpending()
        let voucher = try world.signedVoucher(world.voucher(under: spending), parents: [spending])
        let posting = try Envelope.sign(world.posting(under: spending), domain: world.domain, signer: world.spender, parents: [spending])
        let vote = try Envelope.sign(world.vote(under: posting), domain: world.domain, signer: world.poster, parents: [posting, spending])
        for envelope in [spending, voucher, posting, vote] {
            let verdict = world.verifier().verify(envelope, at: world.now)
            #expect(verdict.valid, "\(envelope.kind): \(verdict.detail)")
            #expect(verdict.master == world.master.address)
            #expect(verdict.id == envelope.id)
        }
    }

    @Test func badSignature() throws {
        let spending = try world.signedSpending()
        // Signed by a stranger although the voucher's delegation names the spender.
        let forged = try world.signedVoucher(world.voucher(under: spending), parents: [spending], signer: world.stranger)
        #expect(reason(forged) == .badSignature)
        // The high-s twin of a valid signature.
        let signature = try Signature(bytes: spending.signature)
        let n = BigUInt("fffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141", radix: 16)!
        let highS = (n - BigUInt(Data(signature.s))).word256
        let twin = Envelope(
            message: spending.message, domain: spending.domain, signature: signature.r + highS + [signature.v ^ 1], parents: [])
        #expect(reason(twin) == .badSignature)
    }

    @Test func windows() throws {
        let spending = try world.signedSpending()
        #expect(reason(spending, at: world.now + 31 * 86400) == .expired)
        #expect(reason(spending, at: world.now - 7200) == .notYetValid)
        let voucher = try world.signedVoucher(world.voucher(under: spending), parents: [spending])
        #expect(reason(voucher, at: world.now + 31 * 86400) == .expired)
    }

    @Test func revocations() throws {
        let spending = try world.signedSpending()
        let voucher = try world.signedVoucher(world.voucher(under: spending), parents: [spending])
        let byMaster = try world.revocation(of: spending, by: world.master)
        #expect(reason(voucher, world.verifier([byMaster])) == .revoked)
        // Not yet in force at the time asked about.
        #expect(reason(voucher, world.verifier([byMaster]), at: world.now - 10) == nil)
        // A stranger has no standing: ignored, and said so.
        let byStranger = try world.revocation(of: spending, by: world.stranger)
        let verdict = world.verifier([byStranger]).verify(voucher, at: world.now)
        #expect(verdict.valid)
        #expect(verdict.notes.count == 1 && verdict.notes[0].contains("not entitled"))
        // The spender may revoke its posting delegations; the master may too.
        let posting = try Envelope.sign(world.posting(under: spending), domain: world.domain, signer: world.spender, parents: [spending])
        let vote = try Envelope.sign(world.vote(under: posting), domain: world.domain, signer: world.poster, parents: [posting, spending])
        #expect(reason(vote, world.verifier([try world.revocation(of: posting, by: world.spender)])) == .revoked)
        #expect(reason(vote, world.verifier([try world.revocation(of: posting, by: world.master)])) == .revoked)
        // But the spender cannot revoke the master's delegation.
        #expect(reason(vote, world.verifier([try world.revocation(of: spending, by: world.spender)])) == nil)
    }

    @Test func scopesAndVoteValues() throws {
        let spending = try world.signedSpending()
        let rateOnly = try Envelope.sign(
            world.posting(under: spending, scopes: .rate), domain: world.domain, signer: world.spender, parents: [spending])
        let flag = try Envelope.sign(
            world.vote(under: rateOnly, kind: 2, value: 1), domain: world.domain, signer: world.poster, parents: [rateOnly, spending])
        #expect(reason(flag) == .scopeNotGranted)
        let badRating = try Envelope.sign(
            world.vote(under: rateOnly, kind: 1, value: 6), domain: world.domain, signer: world.poster, parents: [rateOnly, spending])
        #expect(reason(badRating) == .malformed)
        let noScopes = try Envelope.sign(
            world.posting(under: spending, scopes: []), domain: world.domain, signer: world.spender, parents: [spending])
        #expect(reason(noScopes) == .malformed)
    }

    @Test func allowancesAndPayees() throws {
        let spending = try world.signedSpending(world.spendingDelegation(payees: [world.payee]))
        let total = world.ethAllowance.total
        #expect(reason(try world.signedVoucher(world.voucher(under: spending, cumulative: total), parents: [spending])) == nil)
        #expect(reason(try world.signedVoucher(world.voucher(under: spending, cumulative: total + 1), parents: [spending])) == .overTotal)
        #expect(reason(try world.signedVoucher(world.voucher(under: spending, token: world.pti), parents: [spending])) == .unknownToken)
        #expect(
            reason(try world.signedVoucher(world.voucher(under: spending, payee: world.stranger.address), parents: [spending]))
                == .payeeNotAllowed)
    }

    @Test func brokenChains() throws {
        let spending = try world.signedSpending()
        let other = try world.signedSpending(world.spendingDelegation(validUntil: world.now + 86400))
        let voucher = world.voucher(under: spending)
        #expect(reason(try world.signedVoucher(voucher, parents: [])) == .brokenChain)
        #expect(reason(try world.signedVoucher(voucher, parents: [other])) == .brokenChain)
        #expect(reason(try world.signedVoucher(voucher, parents: [spending, spending])) == .brokenChain)
    }

    @Test func postingMayNotWidenItsParent() throws {
        let spending = try world.signedSpending()
        let wide = world.posting(under: spending, validUntil: world.now + 60 * 86400)
        let envelope = try Envelope.sign(wide, domain: world.domain, signer: world.spender, parents: [spending])
        #expect(reason(envelope) == .widensParent)
    }

    @Test func wrongDomain() throws {
        let spending = try world.signedSpending()
        let elsewhere = Verifier(domain: Domain(chainId: 1, verifyingContract: .zero))
        #expect(elsewhere.verify(spending, at: world.now).reason == .wrongDomain)
    }

    @Test func institutions() throws {
        let attestation = try Envelope.sign(world.attestation(), domain: world.domain, signer: world.institution)
        let spending = try world.signedSpending(parents: [attestation])
        let voucher = try world.signedVoucher(world.voucher(under: spending), parents: [spending, attestation])
        let strict = world.verifier(institution: world.institution.address)
        #expect(strict.verify(voucher, at: world.now).valid)
        // Without the attestation, or under another institution, the chain is not attested.
        let bare = try world.signedSpending()
        #expect(reason(try world.signedVoucher(world.voucher(under: bare), parents: [bare]), strict) == .notAttested)
        #expect(reason(voucher, world.verifier(institution: world.stranger.address)) == .notAttested)
        // A delegation above the ceiling.
        let greedy = world.spendingDelegation(allowances: [
            Allowance(token: .zero, total: BigUInt(10).power(19), perPayment: 1, period: 86400, perPeriod: 1)
        ])
        let greedyEnvelope = try world.signedSpending(greedy, parents: [attestation])
        #expect(reason(greedyEnvelope, strict) == .widensParent)
        // Revoking the card's attestation voids everything under it.
        let revoked = try world.revocation(of: attestation, by: world.institution)
        #expect(reason(voucher, world.verifier([revoked], institution: world.institution.address)) == .revoked)
    }

    /// Changing any field of any link breaks the chain: a different id, or a signature that no longer recovers the key.
    @Test func tamperingAnyFieldOfAnyLinkIsCaught() throws {
        let spending = try world.signedSpending(world.spendingDelegation(payees: [world.payee]))
        let posting = try Envelope.sign(world.posting(under: spending), domain: world.domain, signer: world.spender, parents: [spending])
        let vote = try Envelope.sign(world.vote(under: posting), domain: world.domain, signer: world.poster, parents: [posting, spending])
        let voucher = try world.signedVoucher(world.voucher(under: spending), parents: [spending])
        var tampered = 0
        for leaf in [voucher, vote] {
            let json = leaf.json
            let links = 1 + leaf.parents.count
            for link in 0..<links {
                let message = Self.linkMessage(json, link)
                for key in message.keys {
                    for mutation in Self.mutations(of: message[key]!) {
                        var edited = message
                        edited[key] = mutation
                        let envelope: Envelope
                        do { envelope = try Envelope(json: Self.replacing(json, link, with: edited)) } catch { tampered += 1; continue }
                        let verdict = world.verifier().verify(envelope, at: world.now)
                        #expect(!verdict.valid, "link \(link) field \(key) → \(mutation) was not caught")
                        tampered += 1
                    }
                }
            }
        }
        #expect(tampered >= 30)
    }

    static func linkMessage(_ json: JSONValue, _ link: Int) -> JSONObject {
        let envelope = link == 0 ? json : json["parents"]!.arrayValue![link - 1]
        return envelope["typedData"]!["message"]!.objectValue!
    }

    static func replacing(_ json: JSONValue, _ link: Int, with message: JSONObject) -> JSONValue {
        func edit(_ envelope: JSONValue) -> JSONValue {
            var object = envelope.objectValue!
            var typed = object["typedData"]!.objectValue!
            typed["message"] = .object(message)
            object["typedData"] = .object(typed)
            return .object(object)
        }
        guard link > 0 else { return edit(json) }
        var root = json.objectValue!
        var parents = root["parents"]!.arrayValue!
        parents[link - 1] = edit(parents[link - 1])
        root["parents"] = .array(parents)
        return .object(root)
    }

    /// Values that differ from `value` but still parse as the same type.
    static func mutations(of value: JSONValue) -> [JSONValue] {
        switch value {
        case .number(let n): return [.number(String((UInt64(n) ?? 0) &+ 1))]
        case .string(let s) where s.hasPrefix("0x") && s.count == 42:
            return [.string("0x" + String(repeating: "0", count: 39) + "1")]
        case .string(let s) where s.hasPrefix("0x"):
            return [.string("0x" + String(repeating: "ab", count: 32))]
        case .string(let s) where s.allSatisfy(\.isNumber):
            return [.string(String(BigUInt(s)! + 1))]
        case .string(let s): return [.string(s + "!")]
        case .array(let items) where items.isEmpty: return [.array([.string("0x" + String(repeating: "0", count: 39) + "9")])]
        case .array(let items):
            var changed: [JSONValue] = []
            if case .object(var first) = items[0] {
                first["total"] = .string("1")
                changed.append(.array([.object(first)] + items.dropFirst()))
            } else {
                changed.append(.array(Array(items.dropLast())))
            }
            return changed
        default: return []
        }
    }

    /// The first voucher recovers every link of its chain; each later one under the same delegation only
    /// its own signature: the delegation's signer comes from the cache.
    @Test func cachedChainCostsOneRecovery() throws {
        let spending = try world.signedSpending()
        let verifier = world.verifier()
        let links = 1 + spending.parents.count + 1
        for cumulative in 1...20 {
            let voucher = try world.signedVoucher(world.voucher(under: spending, cumulative: BigUInt(cumulative)), parents: [spending])
            #expect(verifier.verify(voucher, at: world.now).valid)
            #expect(verifier.signers.recoveries == links + (cumulative - 1), "after \(cumulative) vouchers")
        }
    }

    @Test func revocationListFiles() throws {
        let spending = try world.signedSpending()
        var list = RevocationList()
        let revocation = try world.revocation(of: spending, by: world.master)
        #expect(list.add(revocation) == nil)
        #expect(list.add(revocation) == nil)
        #expect(list.count == 1)
        #expect(list.add(spending) != nil)
        // A forged revocation: names the master but signed by a stranger.
        let forged = Envelope(
            message: revocation.message, domain: world.domain,
            signature: try world.stranger.sign(digest: revocation.id).bytes, parents: [])
        #expect(list.add(forged) != nil)
        var other = RevocationList()
        other.add(try world.revocation(of: spending, by: world.spender))
        #expect(list.merge(other).isEmpty)
        #expect(list.count == 2)
        let (reloaded, notes) = try RevocationList.parse(Array(list.json.compactText.utf8))
        #expect(reloaded.count == 2 && notes.isEmpty)
        let withJunk = JSONValue.array(list.json.arrayValue! + [.string("junk"), spending.json])
        let (filtered, junkNotes) = try RevocationList.parse(Array(withJunk.compactText.utf8))
        #expect(filtered.count == 2 && junkNotes.count == 2)
        #expect(throws: DelegationError.self) { try RevocationList.parse(Array("{".utf8)) }
    }
}
