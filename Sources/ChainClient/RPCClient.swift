import BigInt
import Ethereum
import Foundation
import NIOCore

/// A JSON-RPC client for the few calls the wallet, the depositor and the payees make: chain id, nonce,
/// balance, fee suggestion, calls, gas estimates, sending raw transactions and waiting for receipts.
/// Everything from the node is parsed strictly: a field that is missing or not a quantity is
/// `.malformed`, never a default.
public struct RPCClient: Sendable {
    let transport: RPCTransport

    /// `timeout` bounds each call; waiting for a receipt has its own bound.
    public init(url: String, timeout: Duration = .seconds(30)) throws(ChainError) {
        transport = try RPCTransport(url: url, timeout: .nanoseconds(Int64(timeout.components.seconds) * 1_000_000_000))
    }

    public var url: String { transport.url }

    public func chainId() async throws(ChainError) -> BigUInt {
        try Self.quantity(try await transport.call("eth_chainId", []), "eth_chainId")
    }

    /// The next nonce of `address`, counting transactions still in the pool.
    public func nonce(of address: Address) async throws(ChainError) -> BigUInt {
        try Self.quantity(
            try await transport.call("eth_getTransactionCount", [.string(address.checksummed), .string("pending")]),
            "eth_getTransactionCount")
    }

    public func balance(of address: Address) async throws(ChainError) -> BigUInt {
        try Self.quantity(try await transport.call("eth_getBalance", [.string(address.checksummed), .string("latest")]), "eth_getBalance")
    }

    public func blockNumber() async throws(ChainError) -> BigUInt {
        try Self.quantity(try await transport.call("eth_blockNumber", []), "eth_blockNumber")
    }

    /// EIP-1559 fees from the last blocks (`eth_feeHistory`): the priority fee is the median of their
    /// median tips (at least 1 wei), the fee cap twice the next block's base fee plus that tip, so the
    /// transaction stays includable through six full blocks of base fee rises.
    public func suggestFees(blocks: Int = 10) async throws(ChainError) -> (maxFeePerGas: BigUInt, maxPriorityFeePerGas: BigUInt) {
        let history = try await transport.call(
            "eth_feeHistory", [.string(IntegerText.quantity(BigUInt(blocks))), .string("latest"), .array([.number("50")])])
        guard let bases = history["baseFeePerGas"]?.arrayValue, let next = bases.last else {
            throw .malformed("eth_feeHistory: no baseFeePerGas")
        }
        let baseFee = try Self.quantity(next, "eth_feeHistory baseFeePerGas")
        var tips: [BigUInt] = []
        for row in history["reward"]?.arrayValue ?? [] {
            guard let first = row.arrayValue?.first else { continue }
            tips.append(try Self.quantity(first, "eth_feeHistory reward"))
        }
        let tip = max(tips.sorted().dropFirst(tips.count / 2).first ?? 1_000_000_000, 1)
        return (baseFee * 2 + tip, tip)
    }

    /// `eth_call` at the latest block: the return data, or `.rpc` with the revert reason.
    public func call(to: Address, data: [UInt8], from: Address? = nil) async throws(ChainError) -> [UInt8] {
        var object: JSONObject = ["to": .string(to.checksummed), "data": .string(data.hexString)]
        if let from { object["from"] = .string(from.checksummed) }
        return try Self.bytes(try await transport.call("eth_call", [.object(object), .string("latest")]), "eth_call")
    }

    /// `eth_estimateGas` for a call from `from`; a call that would revert is `.rpc` with its reason.
    public func estimateGas(from: Address, to: Address, value: BigUInt = 0, data: [UInt8]) async throws(ChainError) -> BigUInt {
        let object: JSONObject = [
            "from": .string(from.checksummed), "to": .string(to.checksummed), "value": .string(IntegerText.quantity(value)),
            "data": .string(data.hexString),
        ]
        return try Self.quantity(try await transport.call("eth_estimateGas", [.object(object)]), "eth_estimateGas")
    }

    /// Broadcasts a signed transaction; returns the hash the node reports, which must be the transaction's own.
    public func send(_ signed: SignedTransaction) async throws(ChainError) -> [UInt8] {
        let hash = try Self.bytes(
            try await transport.call("eth_sendRawTransaction", [.string(signed.raw.hexString)]), "eth_sendRawTransaction")
        guard hash == signed.hash else { throw .malformed("eth_sendRawTransaction answered another hash \(hash.hexString)") }
        return hash
    }

    /// The receipt of `hash`, or nil while it is not mined.
    public func receipt(_ hash: [UInt8]) async throws(ChainError) -> Receipt? {
        let value = try await transport.call("eth_getTransactionReceipt", [.string(hash.hexString)])
        if value == .null { return nil }
        return try Receipt(json: value)
    }

    /// Polls for the receipt of `hash` until it is mined or `timeout` passes.
    public func waitForReceipt(
        _ hash: [UInt8], timeout: Duration = .seconds(120), poll: Duration = .milliseconds(200)
    ) async throws(ChainError)
        -> Receipt
    {
        let deadline = ContinuousClock.now + timeout
        while true {
            if let found = try await receipt(hash) { return found }
            guard ContinuousClock.now + poll < deadline else {
                throw .timeout("no receipt for \(hash.hexString) within \(timeout.components.seconds) s")
            }
            do { try await Task.sleep(for: poll) } catch { throw .timeout("cancelled while waiting for \(hash.hexString)") }
        }
    }

    static func quantity(_ value: JSONValue, _ what: String) throws(ChainError) -> BigUInt {
        // A JSON-RPC quantity is 0x-hex; decimals or numbers would be another node's bug, refused.
        guard case .string(let text) = value, text.hasPrefix("0x"), let parsed = IntegerText.parseUnsigned(value) else {
            throw .malformed("\(what): not a quantity")
        }
        return parsed
    }

    static func bytes(_ value: JSONValue, _ what: String) throws(ChainError) -> [UInt8] {
        guard case .string(let text) = value, text.hasPrefix("0x"), let bytes = try? [UInt8](hex: text) else {
            throw .malformed("\(what): not hex data")
        }
        return bytes
    }
}
