import BigInt
import Delegation
import Ethereum
import Foundation
import Testing

@testable import Bridge

/// Master-signed transactions (top-ups) through the bridge, with a software master standing in for
/// the card (the card path is in TopupCardFlowTests): what a player may ask, what the bridge accepts
/// as the user's approval, what the player gets back.
@Suite(.timeLimit(.minutes(5))) struct TransactionRequestTests {
    static let spender = "0x2222222222222222222222222222222222222222"
    static let topup: JSONValue = .object([
        "kind": .string("topup"), "to": .string(spender), "token": .string("PTI"), "amount": .string("2.5"),
        "nonce": .string("7"), "gas": .string("100000"), "maxFeePerGas": .string("30000000000"),
        "maxPriorityFeePerGas": .string("1000000000"),
    ])

    func approve(
        _ bridge: TestBridge, _ id: String, master: PrivateKey, tamper: (inout Transaction) -> Void = { _ in }
    ) async throws -> BridgeClient.Response {
        let pending = try await call { try bridge.client().get("/v1/admin/pending") }
        let entry = try #require(pending.json?["requests"]?.arrayValue?.first { $0["id"]?.stringValue == id })
        #expect(entry["kind"] == .string("transaction"))
        let asked = try TransactionRequest(json: try #require(entry["request"]), configuration: bridge.settings.chain)
        var transaction = asked.transaction(chainId: bridge.settings.chain.chainId)
        tamper(&transaction)
        let raw = try transaction.sign(with: master).raw
        let body: JSONValue = .object(["raw": .string(raw.hexString), "signatureCounter": .number("4")])
        return try await call { try bridge.client().post("/v1/admin/transaction-requests/\(id)/approve", body) }
    }

    @Test func topupApprovedYieldsTheSignedTransactionAskedFor() async throws {
        let bridge = try await TestBridge()
        let player = bridge.client(token: try await bridge.pair())
        let created = try await call { try player.post("/v1/transaction-requests", Self.topup) }
        #expect(created.status == 202, "\(created.errorText)")
        #expect(created.json?["kind"] == .string("transaction"))
        let id = try #require(created.json?["id"]?.stringValue)
        // Not reachable as a delegation request, and not approvable with an envelope.
        #expect(try await call { try player.get("/v1/delegation-requests/\(id)") }.status == 404)
        #expect(try await call { try bridge.client().post("/v1/admin/delegation-requests/\(id)/approve", .object([:])) }.status == 404)

        let master = PrivateKey.generate()
        // Anything but the transaction asked for is refused: another amount, recipient, nonce, fee or chain.
        let tampers: [(inout Transaction) -> Void] = [
            { $0.data = ERC20.transfer(to: master.address, amount: 1) }, { $0.nonce += 1 }, { $0.maxFeePerGas *= 2 },
            { $0.chainId = 1 }, { $0.to = master.address },
        ]
        for tamper in tampers {
            #expect(try await approve(bridge, id, master: master, tamper: tamper).status == 422)
        }
        #expect(
            try await call { try bridge.client().post("/v1/admin/transaction-requests/\(id)/approve", .object(["raw": .string("0xc0")])) }
                .status == 400)
        #expect(try await call { try player.get("/v1/transaction-requests/\(id)") }.json?["state"] == .string("pending"))

        let approved = try await approve(bridge, id, master: master)
        #expect(approved.status == 200, "\(approved.errorText)")
        let polled = try await call { try player.get("/v1/transaction-requests/\(id)") }
        #expect(polled.json?["state"] == .string("approved"))
        let result = try #require(polled.json?["transaction"])
        let signed = try SignedTransaction.decode(try [UInt8](hex: try #require(result["raw"]?.stringValue)))
        #expect(signed.from == master.address)
        #expect(result["from"] == .string(master.address.checksummed))
        #expect(result["hash"] == .string(signed.hash.hexString))
        #expect(signed.transaction.chainId == 1337 && signed.transaction.nonce == 7 && signed.transaction.gas == 100_000)
        #expect(signed.transaction.to == bridge.settings.chain.ptiToken)
        #expect(signed.transaction.data == ERC20.transfer(to: try Address(Self.spender), amount: BigUInt(25) * BigUInt(10).power(17)))

        // The audit log has the decision with the transaction's hash and the card's counter.
        let entry = try #require(try await bridge.store.auditEntries().last { $0.kind == "request.approved" })
        #expect(entry.signatureCounter == 4 && entry.detail.contains(signed.hash.hexString))
        #expect(try await bridge.store.verifyAudit().broken.isEmpty)
        // Settled once.
        let again = JSONValue.object(["raw": .string(signed.raw.hexString)])
        #expect(try await call { try bridge.client().post("/v1/admin/transaction-requests/\(id)/approve", again) }.status == 409)
        await bridge.stop()
    }

    @Test func malformedTopupsAreRefusedAndNothingIsQueued() async throws {
        let bridge = try await TestBridge()
        let player = bridge.client(token: try await bridge.pair())
        let base = try #require(Self.topup.objectValue)
        let cases: [(String, JSONValue?)] = [
            ("kind", .string("transfer")), ("kind", nil), ("to", .string("0x12")), ("token", .string("DOGE")), ("amount", .string("0")),
            ("amount", .string("-1")), ("amount", .string("1e18")), ("nonce", .string("0x07")), ("nonce", .number("7")),
            ("nonce", .string("18446744073709551616")), ("gas", .string("20999")), ("gas", .string("1000001")),
            ("maxPriorityFeePerGas", .string("30000000001")), ("extra", .string("x")), ("chainId", .string("1")),
        ]
        for (key, value) in cases {
            var object = base
            object[key] = value
            let body = JSONValue.object(object)
            let response = try await call { try player.post("/v1/transaction-requests", body) }
            #expect(response.status == 400, "\(key)=\(String(describing: value)) gave \(response.status)")
        }
        let unauthenticated = try await call { try bridge.client().post("/v1/transaction-requests", Self.topup) }
        #expect(unauthenticated.status == 401)
        #expect(try await bridge.store.requests().isEmpty)
        await bridge.stop()
    }

    /// Deposits go to the bridge's own contract: the player names a token and an amount, never where it goes.
    @Test func depositsGoToTheConfiguredContractOnly() async throws {
        let contract = try Address("0x3333333333333333333333333333333333333333")
        let bridge = try await TestBridge(tune: { $0.chain.verifyingContract = contract })
        let player = bridge.client(token: try await bridge.pair())
        var deposit = try #require(Self.topup.objectValue)
        deposit["kind"] = .string("deposit")
        deposit["to"] = nil
        var approval = deposit
        approval["kind"] = .string("deposit-approval")
        let master = PrivateKey.generate()
        let amount = BigUInt(25) * BigUInt(10).power(17)
        for (body, data) in [
            (approval, ERC20.approve(spender: contract, amount: amount)),
            (deposit, ParatiiContract.depositToken(try #require(bridge.settings.chain.ptiToken), amount: amount)),
        ] {
            let request = JSONValue.object(body)
            let created = try await call { try player.post("/v1/transaction-requests", request) }
            #expect(created.status == 202, "\(created.errorText)")
            let id = try #require(created.json?["id"]?.stringValue)
            // What the user is shown names the contract and the amount.
            let pending = try await call { try bridge.client().get("/v1/admin/pending") }
            let entry = try #require(pending.json?["requests"]?.arrayValue?.first { $0["id"]?.stringValue == id })
            let asked = try TransactionRequest(json: try #require(entry["request"]), configuration: bridge.settings.chain)
            #expect(
                asked.signs(bridge.settings.chain).contains("2.5 PTI") && asked.signs(bridge.settings.chain).contains(contract.checksummed))
            #expect(!asked.needsConfirmedRecipient(wallet: nil))
            #expect(try await approve(bridge, id, master: master, tamper: { $0.to = master.address }).status == 422)
            #expect(try await approve(bridge, id, master: master).status == 200)
            let polled = try await call { try player.get("/v1/transaction-requests/\(id)") }
            let raw = try #require(polled.json?["transaction"]?["raw"]?.stringValue)
            let signed = try SignedTransaction.decode(try [UInt8](hex: raw))
            #expect(signed.transaction.data == data && signed.transaction.value == 0)
        }
        // ETH: deposit() with the amount as value, to the contract.
        deposit["token"] = .string("ETH")
        let eth = try TransactionRequest(json: .object(deposit), configuration: bridge.settings.chain)
        #expect(eth.transaction(chainId: 1337).to == contract && eth.transaction(chainId: 1337).value == amount)
        #expect(eth.transaction(chainId: 1337).data == ParatiiContract.deposit)
        // Refused: a deposit elsewhere, an ETH approval, and any deposit on a bridge with no contract.
        var elsewhere = deposit
        elsewhere["to"] = .string(master.address.checksummed)
        approval["token"] = .string("ETH")
        for object in [elsewhere, approval] {
            let body = JSONValue.object(object)
            #expect(try await call { try player.post("/v1/transaction-requests", body) }.status == 400)
        }
        await bridge.stop()
        let bare = try await TestBridge()
        let other = bare.client(token: try await bare.pair())
        let ethDeposit = JSONValue.object(deposit)
        #expect(try await call { try other.post("/v1/transaction-requests", ethDeposit) }.status == 400)
        await bare.stop()
    }
}
