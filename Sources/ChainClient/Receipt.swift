import BigInt
import Ethereum

/// A mined transaction's outcome, as `eth_getTransactionReceipt` gives it.
public struct Receipt: Sendable, Equatable {
    public struct Log: Sendable, Equatable {
        public var address: Address
        public var topics: [[UInt8]]
        public var data: [UInt8]
    }

    public var transactionHash: [UInt8]
    public var blockNumber: BigUInt
    /// true when the transaction succeeded (status 1); a reverted one is mined too, and pays its gas.
    public var succeeded: Bool
    public var gasUsed: BigUInt
    public var effectiveGasPrice: BigUInt
    public var logs: [Log]

    /// What the sender paid for gas, in wei.
    public var fee: BigUInt { gasUsed * effectiveGasPrice }

    init(json: JSONValue) throws(ChainError) {
        func field(_ key: String) throws(ChainError) -> JSONValue {
            guard let value = json[key] else { throw .malformed("receipt without \(key)") }
            return value
        }
        transactionHash = try RPCClient.bytes(try field("transactionHash"), "receipt transactionHash")
        blockNumber = try RPCClient.quantity(try field("blockNumber"), "receipt blockNumber")
        let status = try RPCClient.quantity(try field("status"), "receipt status")
        guard status <= 1 else { throw .malformed("receipt status \(status)") }
        succeeded = status == 1
        gasUsed = try RPCClient.quantity(try field("gasUsed"), "receipt gasUsed")
        effectiveGasPrice = try RPCClient.quantity(try field("effectiveGasPrice"), "receipt effectiveGasPrice")
        guard let items = try field("logs").arrayValue else { throw .malformed("receipt logs is not an array") }
        var logs: [Log] = []
        for item in items {
            guard case .string(let addressText)? = item["address"], let address = try? Address(addressText),
                let topicValues = item["topics"]?.arrayValue, topicValues.count <= 4
            else { throw .malformed("receipt log without address or topics") }
            var topics: [[UInt8]] = []
            for topic in topicValues {
                let bytes = try RPCClient.bytes(topic, "log topic")
                guard bytes.count == 32 else { throw .malformed("log topic of \(bytes.count) bytes") }
                topics.append(bytes)
            }
            logs.append(Log(address: address, topics: topics, data: try RPCClient.bytes(item["data"] ?? .null, "log data")))
        }
        self.logs = logs
    }
}
