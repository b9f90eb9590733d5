#if canImport(WalletService)
import BigInt
import Bridge
import Delegation
import Ethereum
import Foundation
import PlayerCore
import WalletService

extension PayeeBenchmarks {
    /// The pay step as the page takes it: `paratii wallet serve` on loopback, one paired page origin with
    /// a budget, `POST /v1/pay` for each 402's offer (memo = the offer's memo), on a kept-alive connection.
    static func throughWalletService(directory wallet: String, _ body: (_ pay: (Offer) throws -> Envelope) throws -> Void) throws {
        let run = try Scratch.directory("payee-wallet-service")
        defer { try? FileManager.default.removeItem(atPath: run) }
        let settings = WalletServiceSettings(socketPath: run + "/wallet.sock", tcp: ("127.0.0.1", 0), configuration: Configuration())
        let vault = Vault(directory: wallet, settings: settings)
        let (address, task) = try WalletServiceBenchmarks.serve(vault)
        defer { task.cancel() }
        let origin = "http://localhost:8080"
        let token = try WalletServiceBenchmarks.pair(address, admin: settings.socketPath, origin: origin, limit: BigUInt(10).power(24))
        let client = BridgeClient(address, token: token, keepAlive: true)
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
