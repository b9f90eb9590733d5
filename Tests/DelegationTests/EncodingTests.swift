import BigInt
import Ethereum
import Testing

@testable import Delegation

@Suite struct EncodingTests {
    let world = World()

    /// The wire contract, verbatim from DESIGN.md: other wallets and a future contract hash these strings.
    @Test func typeStringsAreTheContract() {
        #expect(
            SpendingDelegation.encodeType
                == "SpendingDelegation(address master,address spender,Allowance[] allowances,address[] payees,uint64 validAfter,uint64 validUntil,uint256 salt)Allowance(address token,uint256 total,uint256 perPayment,uint64 period,uint256 perPeriod)"
        )
        #expect(
            PostingDelegation.encodeType
                == "PostingDelegation(bytes32 parent,address spender,address poster,uint32 scopes,uint64 validAfter,uint64 validUntil,uint256 salt)"
        )
        #expect(
            Voucher.encodeType == "Voucher(bytes32 delegation,address payee,address token,uint256 cumulative,uint64 sequence,bytes32 memo)")
        #expect(Vote.encodeType == "Vote(bytes32 delegation,bytes32 content,uint8 kind,int16 value,string reason,uint64 issuedAt)")
        #expect(Revocation.encodeType == "Revocation(address issuer,bytes32 target,uint64 issuedAt)")
        #expect(
            CardAttestation.encodeType
                == "CardAttestation(address institution,address master,string holder,string cardSerial,Allowance[] ceiling,uint64 validUntil,uint256 salt)Allowance(address token,uint256 total,uint256 perPayment,uint64 period,uint256 perPeriod)"
        )
    }

    /// The native hash of every message equals the generic EIP-712 encoder's over its typed data.
    @Test func nativeDigestsMatchTheGenericEncoder() throws {
        let spending = try world.signedSpending(world.spendingDelegation(payees: [world.payee]))
        let posting = world.posting(under: spending)
        let postingEnvelope = try Envelope.sign(posting, domain: world.domain, signer: world.spender, parents: [spending])
        let messages: [any TypedMessage] = [
            world.spendingDelegation(), world.spendingDelegation(payees: [world.payee, world.stranger.address]),
            posting, world.voucher(under: spending, cumulative: BigUInt(2).power(256) - 1),
            world.vote(under: postingEnvelope), world.vote(under: postingEnvelope, kind: 2, value: -1),
            world.vote(under: postingEnvelope, kind: 4, value: Int16.min),
            Revocation(issuer: world.master.address, target: spending.id, issuedAt: UInt64.max), world.attestation(),
        ]
        for message in messages {
            let generic = try TypedData(json: message.typedData(in: world.domain)).digest()
            #expect(message.digest(in: world.domain) == generic, "\(type(of: message))")
        }
    }

    @Test func envelopesRoundTripThroughJSON() throws {
        let spending = try world.signedSpending()
        let voucher = try world.signedVoucher(world.voucher(under: spending), parents: [spending])
        let text = voucher.json.prettyText
        let parsed = try Envelope(parsing: Array(text.utf8))
        #expect(parsed == voucher)
        #expect(parsed.id == voucher.id)
        #expect(parsed.parents.first?.id == spending.id)
        // Any EIP-712 tool recovers the signer from typedData alone.
        let digest = try TypedData(json: parsed.typedData).digest()
        #expect(try Signature(bytes: parsed.signature).recoverAddress(digest: digest) == world.spender.address)
    }

    @Test func envelopesOffContractAreRefused() throws {
        let spending = try world.signedSpending()
        var json = spending.json.objectValue!
        var typed = json["typedData"]!.objectValue!
        var types = typed["types"]!.objectValue!
        types["Allowance"] = .array(Array(types["Allowance"]!.arrayValue!.reversed()))
        typed["types"] = .object(types)
        json["typedData"] = .object(typed)
        #expect(throws: DelegationError.self) { try Envelope(json: .object(json)) }

        var domain = spending.typedData["domain"]!.objectValue!
        domain["name"] = .string("Other")
        var typed2 = spending.typedData.objectValue!
        typed2["domain"] = .object(domain)
        #expect(throws: DelegationError.self) {
            try Envelope(json: .object(["typedData": .object(typed2), "signature": .string(spending.signature.hexString)]))
        }

        for bad in ["{}", "[]", #"{"typedData":{},"signature":"0x00"}"#, #"{"typedData":1,"signature":"0x"}"#] {
            #expect(throws: DelegationError.self) { try Envelope(parsing: Array(bad.utf8)) }
        }
    }

    @Test func signerMustBeTheDeclaredKey() throws {
        #expect(throws: DelegationError.self) {
            try Envelope.sign(world.spendingDelegation(), domain: world.domain, signer: world.stranger)
        }
    }

    @Test func unitsAreExact() throws {
        #expect(try Units.parseAmount("0.05") == BigUInt(5) * BigUInt(10).power(16))
        #expect(try Units.parseAmount("1") == BigUInt(10).power(18))
        #expect(try Units.parseAmount(".5") == BigUInt(5) * BigUInt(10).power(17))
        #expect(try Units.parseAmount("0.000000000000000001") == 1)
        for bad in ["", ".", "-1", "1e3", "0.0000000000000000001", "1,5", " 1", "0x10"] {
            #expect(throws: DelegationError.self, "\(bad)") { try Units.parseAmount(bad) }
        }
        #expect(Units.formatAmount(BigUInt(10).power(14)) == "0.0001")
        #expect(Units.formatAmount(BigUInt(3) * BigUInt(10).power(18)) == "3")
        #expect(try Units.parseDuration("1d") == 86400)
        #expect(try Units.parseDuration("90") == 90)
        #expect(throws: DelegationError.self) { try Units.parseDuration("1y") }
        #expect(Units.formatDuration(86400) == "1d")
    }

    @Test func allowanceSpecs() throws {
        let config = Configuration(chainId: 1, verifyingContract: .zero, ptiToken: world.pti)
        let eth = try Allowance(spec: "token=ETH,total=0.05,per-payment=0.0001,period=1d,per-period=0.01", configuration: config)
        #expect(
            eth
                == Allowance(
                    token: .zero, total: BigUInt(5) * BigUInt(10).power(16), perPayment: BigUInt(10).power(14),
                    period: 86400, perPeriod: BigUInt(10).power(16)))
        #expect(try Allowance(spec: "token=PTI,total=5", configuration: config).token == world.pti)
        for bad in [
            "token=ETH", "total=1", "token=ETH,total=1,period=1d", "token=ETH,total=1,per-payment=2",
            "token=DOGE,total=1", "token=ETH,total=1,colour=red", "token=ETH,total=1,total=2",
        ] {
            #expect(throws: DelegationError.self, "\(bad)") { try Allowance(spec: bad, configuration: config) }
        }
        #expect(throws: DelegationError.self) { try Allowance(spec: "token=PTI,total=1", configuration: Configuration()) }
    }
}
