import CSecp256k1

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The process-wide libsecp256k1 context, randomised once against side channels (blinding).
/// After randomisation it is only read, which libsecp256k1 documents as thread safe.
enum Secp256k1 {
    nonisolated(unsafe) static let context: OpaquePointer = {
        // SECP256K1_CONTEXT_NONE: every operation is available on a context since 0.2.0.
        let ctx = secp256k1_context_create(UInt32(1))!
        var seed = [UInt8](repeating: 0, count: 32)
        SystemRandom.fill(&seed)
        precondition(secp256k1_context_randomize(ctx, seed) == 1, "secp256k1 context randomisation failed")
        secureZero(&seed)
        return ctx
    }()

    /// The group order n, big-endian.
    static let order: [UInt8] = try! [UInt8](hex: "fffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141")
}

/// Overwrites memory in a way the optimiser may not drop.
public func secureZero(_ bytes: inout [UInt8]) {
    bytes.withUnsafeMutableBytes { secureZero($0) }
}

public func secureZero(_ buffer: UnsafeMutableRawBufferPointer) {
    guard let base = buffer.baseAddress, buffer.count > 0 else { return }
    #if canImport(Glibc)
    explicit_bzero(base, buffer.count)
    #else
    _ = memset_s(base, buffer.count, 0, buffer.count)
    #endif
}
