// `swift run -c release ParatiiBench [group…]`: each benchmark prints its figure as a ratio to a
// limit measured in the same run on the same machine, never as an absolute goal alone.
import Foundation

let requested = Set(CommandLine.arguments.dropFirst())
let soakOnly = requested.contains("soak")
let groups: [(name: String, run: () throws -> Void)] = [
    ("ethereum", EthereumBenchmarks.run),
    ("delegation", DelegationBenchmarks.run),
    ("player", PlayerBenchmarks.run),
    ("card", CardBenchmarks.run),
    ("bridge", BridgeBenchmarks.run),
    ("bridge-load", BridgeLoadBenchmarks.run),
    ("wallet-service", WalletServiceBenchmarks.run),
    ("payee", PayeeBenchmarks.run),
    ("payee-scale", PayeeScaleBenchmarks.run),
    ("payee-cpu", PayeeCPUBenchmarks.run),
]

// `ParatiiBench payee-worker URL FILE`: one accept process of the payee-scale benchmark.
if CommandLine.arguments.count == 4 && CommandLine.arguments[1] == "payee-worker" {
    try await PayeeScaleBenchmarks.worker(url: CommandLine.arguments[2], file: CommandLine.arguments[3])
    exit(0)
}

for group in groups where !soakOnly && (requested.isEmpty || requested.contains(group.name)) {
    print("== \(group.name)")
    try group.run()
}

// `ParatiiBench soak [SECONDS]` (default 600): runs only when asked, for a fixed time; exit 1 when memory or descriptors grow.
if let index = CommandLine.arguments.firstIndex(of: "soak") {
    let seconds = CommandLine.arguments.dropFirst(index + 1).first.flatMap { Int($0) } ?? 600
    if try !Soak.run(seconds: seconds) { exit(1) }
}
