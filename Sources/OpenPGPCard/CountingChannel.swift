/// Wraps a channel and counts what a driver sends through it (benchmarks, tests).
public final class CountingChannel: SmartCardChannel, @unchecked Sendable {
    public let base: any SmartCardChannel
    public private(set) var commands = 0
    public private(set) var transactions = 0

    public init(_ base: any SmartCardChannel) { self.base = base }

    public func transmit(_ command: CommandAPDU) throws -> ResponseAPDU {
        commands += 1
        return try base.transmit(command)
    }

    public func withTransaction<T>(_ body: () throws -> T) throws -> T {
        transactions += 1
        return try base.withTransaction(body)
    }

    public var connectionGeneration: Int { base.connectionGeneration }

    public func resetCounts() { commands = 0; transactions = 0 }
}
