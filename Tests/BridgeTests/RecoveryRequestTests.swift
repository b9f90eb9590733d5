import BigInt
import Bridge
import Delegation
import Ethereum
import LoopbackHTTP
import Testing

/// The recovery kinds of transaction requests: what the bridge accepts, what the card would sign (the
/// contract's calldata, no value, to the bridge's own contract), and what it refuses with one line.
@Suite struct RecoveryRequestTests {
    static let contract = try! Address("0x5FbDB2315678afecb367f032d93F642f64180aa3")
    static let pti = try! Address("0xe7f1725E7734CE288F8367e1Bb143E90bb3F0512")
    static let chain = Configuration(chainId: 31337, verifyingContract: contract, ptiToken: pti)
    static let backup = try! Address("0x9858EfFD232B4033E47d90003D41EC34EcaEda94")
    static let fees: [String: String] = ["nonce": "4", "gas": "90000", "maxFeePerGas": "2000000000", "maxPriorityFeePerGas": "1"]

    func request(_ members: [String: String]) throws -> TransactionRequest {
        try TransactionRequest(json: Self.json(members), configuration: Self.chain)
    }

    static func json(_ members: [String: String]) -> JSONValue {
        .object(JSONObject(members.merging(fees) { a, _ in a }.sorted { $0.key < $1.key }.map { ($0.key, JSONValue.string($0.value)) }))
    }

    @Test func eachKindSignsTheContractCallAndRoundTrips() throws {
        let cases: [([String: String], [UInt8], String)] = [
            (
                ["kind": "recovery-set", "account": Self.backup.checksummed, "delay": "2592000"],
                ParatiiContract.setRecovery(account: Self.backup, delay: 2_592_000), "may take over the card's escrow"
            ),
            (
                ["kind": "recovery-set", "account": Address.zero.checksummed, "delay": "0"],
                ParatiiContract.setRecovery(account: .zero, delay: 0), "remove the card's recovery address"
            ),
            (
                ["kind": "recovery-start", "master": Self.backup.checksummed],
                ParatiiContract.startTakeover(master: Self.backup), "start taking over"
            ),
            (["kind": "recovery-cancel"], ParatiiContract.cancelTakeover, "cancel the takeover"),
            (
                ["kind": "recovery-complete", "master": Self.backup.checksummed, "token": "PTI"],
                ParatiiContract.completeTakeover(master: Self.backup, tokens: [Self.pti]), "in ETH and PTI moves to this card's address"
            ),
        ]
        for (members, calldata, shown) in cases {
            let asked = try request(members)
            let transaction = asked.transaction(chainId: 31337)
            #expect(transaction.to == Self.contract && transaction.value == 0 && transaction.data == calldata, "\(members)")
            #expect(asked.signs(Self.chain).contains(shown), "\(asked.signs(Self.chain))")
            #expect(!asked.needsConfirmedRecipient(wallet: nil))
            // What the bridge stores and shows parses back to the same request.
            #expect(try TransactionRequest(json: asked.json(Self.chain), configuration: Self.chain) == asked)
        }
        // The selectors are the contract's (contracts/Paratii.vy): keccak of the signatures.
        #expect(ParatiiContract.cancelTakeover == Array(Keccak256.hash("cancelTakeover()").prefix(4)))
    }

    @Test func badRecoveryRequestsAreRefused() throws {
        let refused: [[String: String]] = [
            ["kind": "recovery-set", "account": Self.backup.checksummed],  // no delay
            ["kind": "recovery-set", "account": Self.backup.checksummed, "delay": "0"],  // an address needs a delay
            ["kind": "recovery-set", "account": Address.zero.checksummed, "delay": "60"],
            ["kind": "recovery-set", "account": Self.backup.checksummed, "delay": "31622400"],  // over a year
            ["kind": "recovery-set", "account": Self.backup.checksummed, "delay": "60", "amount": "1"],
            ["kind": "recovery-start"],
            ["kind": "recovery-start", "master": "0x1234"],
            ["kind": "recovery-cancel", "master": Self.backup.checksummed],
            ["kind": "recovery-complete", "master": Self.backup.checksummed, "token": "ETH"],
            ["kind": "recovery-cancel", "to": Self.backup.checksummed],  // another contract
            ["kind": "topup", "to": Self.backup.checksummed, "token": "ETH", "amount": "1", "master": Self.backup.checksummed],
        ]
        for members in refused {
            #expect(throws: APIError.self, "\(members)") { try request(members) }
        }
        // A bridge without a contract takes no recovery request.
        #expect(throws: APIError.self) {
            try TransactionRequest(json: Self.json(["kind": "recovery-cancel"]), configuration: Configuration())
        }
    }
}
