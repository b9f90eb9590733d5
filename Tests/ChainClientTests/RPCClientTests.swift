import BigInt
import ChainClient
import Ethereum
import Foundation
import Hummingbird
import Logging
import NIOCore
import Testing

/// The client against a node that answers what each test needs: well-formed replies parsed exactly, and
/// every failure one case of ChainError (the happy path against a real py-evm node is in Tests/chain).
@Suite(.timeLimit(.minutes(2))) struct RPCClientTests {
    /// A canned JSON-RPC node on loopback: `reply(method, params)` is the JSON written back.
    final class CannedNode: Sendable {
        let port: Int
        private let task: Task<Void, any Error>

        init(_ reply: @escaping @Sendable (String, JSONValue) async -> String) async throws {
            let router = Router()
            router.post("/") { request, _ -> Response in
                let body = try await request.body.collect(upTo: 1 << 20)
                let value = try JSONValue.parse(Array(body.readableBytesView))
                let text = await reply(value["method"]?.stringValue ?? "", value["params"] ?? .null)
                return Response(status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(string: text)))
            }
            let (stream, continuation) = AsyncStream.makeStream(of: Int.self)
            let app = Application(
                router: router, configuration: .init(address: .hostname("127.0.0.1", port: 0)),
                onServerRunning: { channel in continuation.yield(channel.localAddress?.port ?? 0) }, logger: Self.quiet)
            task = Task { try await app.runService(gracefulShutdownSignals: []) }
            var iterator = stream.makeAsyncIterator()
            port = await iterator.next() ?? 0
        }

        var url: String { "http://127.0.0.1:\(port)" }
        /// Stopping mid-request is the point of some tests: the server's complaints about it are noise.
        static var quiet: Logger {
            var logger = Logger(label: "canned-node")
            logger.logLevel = .critical
            return logger
        }
        func stop() { task.cancel() }
    }

    static func result(_ json: String) -> String { #"{"jsonrpc":"2.0","id":1,"result":\#(json)}"# }

    @Test func repliesAreParsedAndFeesSuggested() async throws {
        let node = try await CannedNode { method, _ in
            switch method {
            case "eth_chainId": Self.result(#""0x539""#)
            case "eth_getBalance": Self.result(#""0xde0b6b3a7640000""#)
            case "eth_feeHistory":
                // Next base fee 10 gwei; median tips 1, 3, 2 gwei: tip 2 gwei, cap 2 × 10 + 2 gwei.
                Self.result(
                    #"{"oldestBlock":"0x1","baseFeePerGas":["0x1","0x1","0x1","0x2540be400"],"reward":[["0x3b9aca00"],["0xb2d05e00"],["0x77359400"]]}"#
                )
            case "eth_call": Self.result(#""0x00000000000000000000000000000000000000000000000000000000000000ff""#)
            default: #"{"jsonrpc":"2.0","id":1,"error":{"code":-32601,"message":"no"}}"#
            }
        }
        defer { node.stop() }
        let client = try RPCClient(url: node.url)
        #expect(try await client.chainId() == 1337)
        #expect(try await client.balance(of: .zero) == BigUInt(10).power(18))
        let fees = try await client.suggestFees()
        #expect(fees.maxPriorityFeePerGas == 2_000_000_000 && fees.maxFeePerGas == 22_000_000_000)
        #expect(try await client.call(to: .zero, data: [1, 2]).last == 0xff)
    }

    @Test func everyFailureIsOneCase() async throws {
        let reason = ([0x08, 0xc3, 0x79, 0xa0] + (try ABI.encode([.string("not signed by master")], as: [.string]))).hexString
        let node = try await CannedNode { method, _ in
            switch method {
            case "eth_chainId": return Self.result("1337")  // a number, not a quantity
            case "eth_blockNumber": return "not json"
            case "eth_getBalance": return #"{"jsonrpc":"2.0","id":1,"error":{"code":-32000,"message":"insufficient funds"}}"#
            case "eth_call": return #"{"jsonrpc":"2.0","id":1,"error":{"code":3,"message":"execution reverted","data":"\#(reason)"}}"#
            case "eth_getTransactionCount":
                try? await Task.sleep(for: .seconds(4))
                return Self.result(#""0x1""#)
            case "eth_getTransactionReceipt": return Self.result("null")
            case "eth_sendRawTransaction": return Self.result(#""0x\#(String(repeating: "ab", count: 32))""#)
            default: return #"{"jsonrpc":"2.0","id":1}"#
            }
        }
        defer { node.stop() }
        // Answers get a generous deadline (a loaded CI machine); only the hanging call gets a short one.
        let client = try RPCClient(url: node.url, timeout: .seconds(20))
        let impatient = try RPCClient(url: node.url, timeout: .seconds(1))
        await #expect(throws: ChainError.malformed("eth_chainId: not a quantity")) { try await client.chainId() }
        await #expect(throws: ChainError.malformed("eth_blockNumber: not JSON")) { try await client.blockNumber() }
        await #expect(throws: ChainError.rpc(code: -32000, message: "insufficient funds")) { try await client.balance(of: .zero) }
        await #expect(throws: ChainError.rpc(code: 3, message: "execution reverted: not signed by master")) {
            try await client.call(to: .zero, data: [])
        }
        await #expect(throws: ChainError.malformed("eth_estimateGas: neither result nor error")) {
            try await client.estimateGas(from: .zero, to: .zero, data: [])
        }
        await #expect(throws: ChainError.timeout("eth_getTransactionCount after 1 s")) { try await impatient.nonce(of: .zero) }
        do {
            _ = try await client.waitForReceipt([UInt8](repeating: 1, count: 32), timeout: .milliseconds(600), poll: .milliseconds(100))
            Issue.record("a receipt that never comes must time out")
        } catch { #expect(error.description.hasPrefix("timed out: no receipt for 0x0101")) }
        // The node answering another hash than the transaction's own is not believed.
        let signed = try Transaction(kind: .dynamicFee, chainId: 1337, nonce: 0, gas: 21000, to: .zero, value: 1, data: []).sign(
            with: PrivateKey.generate())
        await #expect(throws: ChainError.self) { try await client.send(signed) }
    }

    @Test func badURLsAndDeadNodes() async throws {
        for url in ["ftp://127.0.0.1:1", "127.0.0.1:8545", "http://"] {
            #expect(throws: ChainError.self) { try RPCClient(url: url) }
        }
        // A port nobody listens on (bound then closed): unreachable, not a hang.
        let node = try await CannedNode { _, _ in "" }
        let url = node.url
        node.stop()
        try await Task.sleep(for: .milliseconds(300))
        let client = try RPCClient(url: url, timeout: .seconds(2))
        do {
            _ = try await client.chainId()
            Issue.record("a dead node must fail")
        } catch {
            guard case .unreachable = error else {
                Issue.record("expected unreachable, got \(error)")
                return
            }
        }
    }
}
