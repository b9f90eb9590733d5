// swift-tools-version:6.1
import PackageDescription

let package = Package(
    name: "paratii-signer-bridge",
    // Linux only (Debian): Glibc, pcscd's libpcsclite, SO_PEERCRED and the vpcd test rig are what it is
    // built and tested on; no macOS build is claimed.
    products: [
        .executable(name: "paratii", targets: ["ParatiiCLI"]),
        .library(name: "Ethereum", targets: ["Ethereum"]),
        .library(name: "OpenPGPCard", targets: ["OpenPGPCard"]),
        .library(name: "PCSC", targets: ["PCSC"]),
        .library(name: "SoftToken", targets: ["SoftToken"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-crypto", from: "4.0.0"),
        .package(url: "https://github.com/attaswift/BigInt", from: "6.0.0"),
        .package(url: "https://github.com/groue/GRDB.swift", from: "7.0.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.0.0"),
        // Hummingbird's own logging and service-lifecycle packages, which the bridge uses directly.
        .package(url: "https://github.com/apple/swift-log", from: "1.6.0"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.6.0"),
        // NIOCore directly: the bridge reads SO_PEERCRED from the connection to tell peers apart.
        .package(url: "https://github.com/apple/swift-nio", from: "2.60.0"),
        // The JSON-RPC client's HTTP(S); already in the graph through HummingbirdTesting.
        .package(url: "https://github.com/swift-server/async-http-client", from: "1.21.0"),
        // The payee store on PostgreSQL (many accept processes sharing one database): postgres-nio and its pool.
        .package(url: "https://github.com/vapor/postgres-nio", from: "1.33.0"),
    ],
    targets: [
        // Thin shims over the system's C libraries (Debian's -dev packages).
        .systemLibrary(
            name: "CSecp256k1",
            pkgConfig: "libsecp256k1",
            providers: [.apt(["libsecp256k1-dev"]), .brew(["secp256k1"])]
        ),
        .systemLibrary(
            name: "CPCSCLite",
            pkgConfig: "libpcsclite",
            providers: [.apt(["libpcsclite-dev"])]
        ),
        .systemLibrary(
            name: "CLibUSB",
            pkgConfig: "libusb-1.0",
            providers: [.apt(["libusb-1.0-0-dev"]), .brew(["libusb"])]
        ),

        // Storage: XDG paths, private directories, atomic 0600 file writes, durable SQLite (WAL check, FULL).
        .target(
            name: "Storage",
            dependencies: [.product(name: "GRDB", package: "GRDB.swift")]
        ),

        // Ethereum signing core: Keccak, secp256k1, EIP-55/191/712, RLP, transactions, keystores.
        .target(
            name: "Ethereum",
            dependencies: [
                "CSecp256k1",
                "Storage",
                .product(name: "BigInt", package: "BigInt"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "_CryptoExtras", package: "swift-crypto"),
            ]
        ),

        // OpenPGP card driver (application 3.4, ECDSA secp256k1 signature slot). Owns the channel protocol.
        .target(
            name: "OpenPGPCard",
            dependencies: [
                "Ethereum",
                .product(name: "Crypto", package: "swift-crypto"),
            ]
        ),
        // PC/SC transport over libpcsclite, implementing OpenPGPCard's SmartCardChannel.
        .target(
            name: "PCSC",
            dependencies: ["CPCSCLite", "OpenPGPCard", "Ethereum"]
        ),
        // Software OpenPGP card that plugs into the real pcscd through vsmartcard's vpcd.
        .target(
            name: "SoftToken",
            dependencies: [
                "Ethereum",
                "Storage",
                "OpenPGPCard",
                .product(name: "Crypto", package: "swift-crypto"),
            ]
        ),

        // The token hub: the one place that finds tokens (PC/SC readers and the OpenPGP facts of their cards,
        // the card a command uses, known USB tokens over libusb and their hotplug). The table is a copy of
        // udev/known-tokens.json (SwiftPM cannot reach outside the target); udev/check-generated.sh and
        // DoctorTests fail when the two differ.
        .target(
            name: "TokenHub",
            dependencies: ["CLibUSB", "PCSC", "OpenPGPCard", "Ethereum"],
            resources: [.copy("Resources/known-tokens.json")]
        ),
        // Diagnosis: `paratii doctor`'s findings over what the token hub sees and the host's facts.
        .target(
            name: "Doctor",
            dependencies: ["TokenHub", "PCSC", "OpenPGPCard", "Ethereum"]
        ),

        // The wire contract's typed messages, envelopes, revocation lists and the offline verifier.
        .target(
            name: "Delegation",
            dependencies: ["Ethereum", "Storage", .product(name: "BigInt", package: "BigInt")]
        ),

        // The player core: spending wallet, bounded vouchers, votes, SQLite ledger, payee store.
        .target(
            name: "PlayerCore",
            dependencies: [
                "Ethereum", "Delegation", "Storage", .product(name: "BigInt", package: "BigInt"),
                .product(name: "GRDB", package: "GRDB.swift"), .product(name: "GRDBSQLite", package: "GRDB.swift"),
            ]
        ),

        // The payee store on PostgreSQL: the same rules as PlayerCore's SQLite PayeeStore, serialized per channel
        // by the database, so any number of accept processes can share it.
        .target(
            name: "PayeeStorePostgres",
            dependencies: [
                "PlayerCore", "Delegation", "Ethereum", "Storage", .product(name: "BigInt", package: "BigInt"),
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            exclude: ["citus.sql"]
        ),

        // Institutions: the roster of enrolled staff cards (SQLite), attestations and their revocation.
        .target(
            name: "Institution",
            dependencies: [
                "Ethereum", "Delegation", "OpenPGPCard", "Storage", .product(name: "BigInt", package: "BigInt"),
                .product(name: "GRDB", package: "GRDB.swift"),
            ]
        ),

        // The HTTP pieces the loopback servers share (bridge, wallet service, payee server): refusals that
        // render themselves, JSON answers, bounded bodies, the loopback Host check, access log, error shape.
        .target(
            name: "LoopbackHTTP",
            dependencies: ["Ethereum", .product(name: "Hummingbird", package: "hummingbird")]
        ),

        // The bridge daemon: local API (Hummingbird) over a Unix socket, pairings, delegation requests, audit log.
        .target(
            name: "Bridge",
            dependencies: [
                "Ethereum", "Delegation", "OpenPGPCard", "PCSC", "TokenHub", "Storage", "LoopbackHTTP",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "BigInt", package: "BigInt"),
            ]
        ),

        // The chain client: JSON-RPC to an Ethereum node (chain id, nonce, fees, calls, sending, receipts).
        .target(
            name: "ChainClient",
            dependencies: [
                "Ethereum", .product(name: "BigInt", package: "BigInt"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
            ]
        ),

        // The payee's content server: media segments paid per segment over HTTP 402 (x402 v2 headers,
        // scheme paratii-voucher) into the payee store, the player page and a dashboard.
        .target(
            name: "PayeeServer",
            dependencies: [
                "Ethereum", "Delegation", "PlayerCore", "LoopbackHTTP",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "BigInt", package: "BigInt"),
            ]
        ),

        // The wallet service (`paratii wallet serve`): the player core for web pages on loopback, per-origin pairings and budgets.
        .target(
            name: "WalletService",
            dependencies: [
                "PlayerCore", "Bridge", "LoopbackHTTP", "Delegation", "Ethereum", "Storage",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "BigInt", package: "BigInt"),
            ]
        ),

        // The one executable; stays thin over the libraries.
        .executableTarget(
            name: "ParatiiCLI",
            dependencies: [
                "Ethereum",
                "Delegation",
                "PlayerCore",
                "PayeeStorePostgres",
                "OpenPGPCard",
                "PCSC",
                "SoftToken",
                "Doctor",
                "TokenHub",
                "Bridge",
                "WalletService",
                "PayeeServer",
                "LoopbackHTTP",
                "Institution",
                "Storage",
                "ChainClient",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "BigInt", package: "BigInt"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),

        // Benchmarks: ratios against limits measured in the same run.
        .target(
            name: "CBaseline",
            dependencies: ["CSecp256k1"],
            path: "Benchmarks/CBaseline",
            cSettings: [.unsafeFlags(["-O2"])],
            linkerSettings: [.linkedLibrary("crypto"), .linkedLibrary("secp256k1"), .linkedLibrary("sqlite3")]
        ),
        .executableTarget(
            name: "ParatiiBench",
            dependencies: [
                "Ethereum", "Delegation", "PlayerCore", "PayeeStorePostgres", "CBaseline", "PCSC", "OpenPGPCard", "SoftToken", "Bridge",
                "PayeeServer", "WalletService", "TestSupport",
                .product(name: "Logging", package: "swift-log"), .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "BigInt", package: "BigInt"),
            ],
            path: "Benchmarks/ParatiiBench"
        ),

        .testTarget(
            name: "StorageTests",
            dependencies: ["Storage"]
        ),
        .testTarget(
            name: "EthereumTests",
            dependencies: ["Ethereum", .product(name: "BigInt", package: "BigInt")]
        ),
        // The chain client against canned JSON-RPC replies (Hummingbird on loopback): each failure one ChainError case.
        .testTarget(
            name: "ChainClientTests",
            dependencies: [
                "ChainClient", "Ethereum", .product(name: "BigInt", package: "BigInt"),
                .product(name: "Hummingbird", package: "hummingbird"), .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .testTarget(
            name: "DelegationTests",
            dependencies: ["Delegation", "Ethereum", .product(name: "BigInt", package: "BigInt")]
        ),
        .testTarget(
            name: "PlayerCoreTests",
            dependencies: [
                "PlayerCore", "PayeeStorePostgres", "Delegation", "Ethereum", "TestSupport", "LoopbackHTTP",
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "BigInt", package: "BigInt"),
            ]
        ),
        // What more than one test target needs (the seeded generator, the child-process deadline); test targets share no sources.
        .target(name: "TestSupport", path: "Tests/TestSupport"),
        // The card stack, a target per module, no pcscd: the driver in process against the soft card and
        // against the recorded transcripts; the soft token APDU by APDU; the transport's APDU log.
        .testTarget(name: "OpenPGPCardTests", dependencies: ["OpenPGPCard", "SoftToken", "Ethereum", "TestSupport"]),
        .testTarget(name: "PCSCTests", dependencies: ["PCSC", "OpenPGPCard"]),
        .testTarget(name: "SoftTokenTests", dependencies: ["SoftToken", "OpenPGPCard", "Ethereum"]),
        // Hardware-path tests: the real pcscd, vpcd and the software token, and the
        // bridge daemon under a pcscd restart (restarting pcscd belongs to this suite).
        .testTarget(
            name: "HardwareTests",
            dependencies: ["Ethereum", "OpenPGPCard", "PCSC", "SoftToken", "Delegation", "Institution", "Bridge", "TestSupport"]
        ),
        .testTarget(
            name: "InstitutionTests",
            dependencies: [
                "Institution", "Delegation", "Ethereum", .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "BigInt", package: "BigInt"),
            ]
        ),
        // Doctor: token-table and matching unit tests, and doctor against the real pcscd with a soft card
        // in vpcd's second slot.
        .testTarget(
            name: "DoctorTests",
            dependencies: ["Doctor", "TokenHub", "OpenPGPCard", "PCSC", "SoftToken", "TestSupport"]
        ),
        // Bridge: API security as an attacker would try it, against a bridge on a temporary socket, the router
        // in process (HummingbirdTesting), and the full flow against pcscd + a soft card in vpcd's second slot.
        .testTarget(
            name: "BridgeTests",
            dependencies: [
                "Bridge", "Delegation", "TokenHub", "Ethereum", "PlayerCore", "OpenPGPCard", "PCSC", "SoftToken", "Storage",
                "LoopbackHTTP", "WalletService", "TestSupport",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdTesting", package: "hummingbird"),
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "BigInt", package: "BigInt"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        // The payee's content server over real HTTP on loopback, paid with vouchers from a real wallet.
        .testTarget(
            name: "PayeeServerTests",
            dependencies: [
                "PayeeServer", "PlayerCore", "Delegation", "Ethereum", "LoopbackHTTP",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdTesting", package: "hummingbird"),
                .product(name: "BigInt", package: "BigInt"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "GRDB", package: "GRDB.swift"),
            ]
        ),
        // The wallet service's router in process (HummingbirdTesting): pairing, refusals, budgets, locking.
        .testTarget(
            name: "WalletServiceTests",
            dependencies: [
                "WalletService", "PlayerCore", "Delegation", "Ethereum", "Bridge", "LoopbackHTTP",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdTesting", package: "hummingbird"),
                .product(name: "BigInt", package: "BigInt"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
    ]
)

// Instrumented builds for scripts/fuzz and scripts/sanitize: PARATII_INSTRUMENT=fuzzer|address|thread.
// Only this package's own modules get the flags (dependencies keep their plain build, so switching
// costs a rebuild of our code only); `fuzzer` also adds the libFuzzer harness under Fuzz/.
if let mode = Context.environment["PARATII_INSTRUMENT"], ["fuzzer", "address", "thread"].contains(mode) {
    let sanitizers = mode == "fuzzer" ? "fuzzer,address" : mode
    // lld: gold fails on sanitizer-instrumented Swift objects ("internal error in format_file_lineno").
    let swiftFlags: [SwiftSetting] = [.unsafeFlags(["-sanitize=\(sanitizers)"])]
    let linkFlags: [LinkerSetting] = [.unsafeFlags(["-sanitize=\(sanitizers)", "-use-ld=lld"])]
    let own = [
        "Storage", "Ethereum", "OpenPGPCard", "PCSC", "SoftToken", "TokenHub", "Doctor", "Delegation", "PlayerCore", "LoopbackHTTP",
        "Bridge", "PayeeServer", "ChainClient",
    ]
    for target in package.targets where own.contains(target.name) {
        target.swiftSettings = (target.swiftSettings ?? []) + swiftFlags
        target.linkerSettings = (target.linkerSettings ?? []) + linkFlags
    }
    if mode == "fuzzer" {
        package.products.append(.executable(name: "paratii-fuzz", targets: ["ParatiiFuzz"]))
        package.targets += [
            .target(name: "CFuzzerDriver", path: "Fuzz/CFuzzerDriver"),
            .executableTarget(
                name: "ParatiiFuzz",
                dependencies: ["CFuzzerDriver", "Ethereum", "OpenPGPCard", "Delegation", "Bridge", "PayeeServer"],
                path: "Fuzz/Sources",
                swiftSettings: swiftFlags,
                linkerSettings: linkFlags
            ),
        ]
    }
}
