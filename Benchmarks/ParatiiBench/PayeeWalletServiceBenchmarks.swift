#if canImport(WalletService)
import BigInt
import Bridge
import Delegation
import Ethereum
import Foundation
import Logging
import PlayerCore
import Synchronization
import WalletService

extension PayeeBenchmarks {
    /// The pay step as the page takes it: `paratii wallet serve` on loopback, one paired page origin with
    /// a budget, `POST /v1/pay` for each 402's offer (memo = the offer's memo).
    static func throughWalletService(directory wallet: String, _ body: (_ pay: (Offer) throws -> Envelope) throws -> Void) throws {
        let run = try Scratch.directory("payee-wallet-service")
        defer { try? FileManager.default.removeItem(atPath: run) }
        var logger = Logger(label: "paratii.bench.wallet")
        logger.logLevel = .critical
        let settings = WalletServiceSettings(socketPath: run + "/wallet.sock", tcp: ("127.0.0.1", 0), configuration: Configuration())
        let vault = Vault(directory: wallet, settings: settings)
        let port = Mutex(0)
        let app = try buildApplication(vault, logger: logger) { bound in port.withLock { $0 = bound } }
        let task = Task {
            try await vault.unlock(password: "bench")
            try await app.runService(gracefulShutdownSignals: [])
        }
        defer { task.cancel() }
        for _ in 0..<400 where port.withLock({ $0 }) == 0 { Thread.sleep(forTimeInterval: 0.05) }
        let address = "http://127.0.0.1:\(port.withLock { $0 })"
        try BridgeLoadBenchmarks.waitUntilUp(BridgeClient(address))
        let origin = "http://localhost:8080"
        let secret = PairingSecret()
        let page = BridgeClient(address)
        guard
            let created = try page.request(
                "POST", "/v1/pairings",
                body: Array(JSONValue.object(["name": .string("bench"), "secretHash": .string(secret.hash)]).compactText.utf8),
                headers: [("Origin", origin)]
            ).json, let id = created["id"]?.stringValue, let code = created["code"]?.stringValue,
            try BridgeClient(settings.socketPath).post(
                "/v1/admin/pairings/\(id)/approve",
                .object([
                    "code": .string(code),
                    "budgets": .array([
                        .object([
                            "token": .string(Address.zero.checksummed), "limit": .string(String(BigUInt(10).power(24))),
                            "period": .number("0"),
                        ])
                    ]),
                ])
            ).status == 200,
            let token = try page.request(
                "GET", "/v1/pairings/\(id)", headers: [("Authorization", "Pairing \(secret.secret)"), ("Origin", origin)]
            ).json?["token"]?.stringValue
        else { throw failure("pairing with the wallet service failed") }
        let client = BridgeClient(address, token: token)
        try body { offer in
            let request: JSONValue = .object([
                "payee": offer.accepted["payTo"] ?? .null, "token": offer.accepted["asset"] ?? .null,
                "amount": offer.accepted["amount"] ?? .null, "memo": offer.accepted["extra"]?["memo"] ?? .null,
            ])
            let response = try client.request("POST", "/v1/pay", body: Array(request.compactText.utf8), headers: [("Origin", origin)])
            guard response.status == 200, let voucher = response.json?["voucher"] else { throw failure("pay: \(response.errorText)") }
            return try Envelope(json: voucher)
        }
    }
}
#endif
