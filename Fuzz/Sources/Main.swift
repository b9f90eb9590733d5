import CFuzzerDriver
import Glibc

/// `paratii-fuzz TARGET [libFuzzer options] [CORPUS_DIR…|FILE…]`: runs one target under libFuzzer;
/// `paratii-fuzz list` names the targets.
/// A file argument replays that input once (how a crasher is reproduced).
@main
struct Main {
    static func main() {
        var arguments = CommandLine.arguments
        if arguments.dropFirst().first == "list" {
            print(targets.keys.sorted().joined(separator: "\n"))
            exit(0)
        }
        guard arguments.count >= 2, let target = targets[arguments[1]] else {
            let names = targets.keys.sorted().joined(separator: " ")
            printError("usage: paratii-fuzz TARGET [libFuzzer options] [corpus…]\ntargets: \(names)")
            exit(2)
        }
        selected = target
        arguments.remove(at: 1)
        // libFuzzer keeps pointers into argv for the whole run: these strings are never freed.
        var argv: [UnsafeMutablePointer<CChar>?] = arguments.map { strdup($0) } + [nil]
        var argc = Int32(arguments.count)
        let status = argv.withUnsafeMutableBufferPointer { buffer in
            var pointer: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? = buffer.baseAddress
            return LLVMFuzzerRunDriver(&argc, &pointer) { data, size in testOneInput(data, size) }
        }
        exit(status)
    }
}

/// libFuzzer's own main (linked in by -sanitize=fuzzer, unused: SwiftPM points main at ours) needs this symbol.
@_cdecl("LLVMFuzzerTestOneInput")
func testOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    selected([UInt8](UnsafeBufferPointer(start: data, count: size)))
    return 0
}

/// The target chosen on the command line; set once before libFuzzer starts calling back.
nonisolated(unsafe) var selected: @Sendable ([UInt8]) -> Void = { _ in }

let targets: [String: @Sendable ([UInt8]) -> Void] = [
    "json": fuzzJSON,
    "typed-data": fuzzTypedData,
    "rlp": fuzzRLP,
    "raw-transaction": fuzzRawTransaction,
    "transaction-json": fuzzTransactionJSON,
    "keystore": fuzzKeystore,
    "tlv": fuzzTLV,
    "apdu": fuzzAPDU,
    "card-data": fuzzCardData,
    "envelope": fuzzEnvelope,
    "revocation-list": fuzzRevocationList,
    "allowance-spec": fuzzAllowanceSpec,
    "bridge-bodies": fuzzBridgeBodies,
    "bridge-query": fuzzBridgeQuery,
    "payment-signature": fuzzPaymentSignature,
]

/// An invariant that must hold for every input: failing it is a finding, reported as a crash.
func require(_ condition: @autoclosure () -> Bool, _ message: @autoclosure () -> String) {
    if !condition() {
        printError("invariant broken: \(message())")
        abort()
    }
}

func printError(_ text: String) {
    var line = text + "\n"
    line.withUTF8 { _ = write(2, $0.baseAddress, $0.count) }
}
