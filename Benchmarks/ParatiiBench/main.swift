// `swift run -c release ParatiiBench [group…]`: each benchmark prints its figure as a ratio to a
// limit measured in the same run on the same machine, never as an absolute goal alone.
import Foundation

let requested = Set(CommandLine.arguments.dropFirst())
let groups: [(name: String, run: () throws -> Void)] = [
    ("ethereum", EthereumBenchmarks.run),
    ("delegation", DelegationBenchmarks.run),
    ("player", PlayerBenchmarks.run),
    ("card", CardBenchmarks.run),
    ("bridge", BridgeBenchmarks.run),
]

for group in groups where requested.isEmpty || requested.contains(group.name) {
    print("== \(group.name)")
    try group.run()
}
