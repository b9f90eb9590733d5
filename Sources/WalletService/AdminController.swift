import BigInt
import Bridge
import Delegation
import Ethereum
import Foundation
import Hummingbird
import LoopbackHTTP
import PlayerCore

/// The local tools' routes, on the Unix socket only (0600, the user's own): unlock, lock, list and
/// approve pairings with their budgets, revoke a site. No page can reach them.
struct AdminController {
    let vault: Vault
    let settings: WalletServiceSettings

    func addRoutes(to group: RouterGroup<BasicRequestContext>) {
        let vault = self.vault, settings = self.settings
        group.post("unlock") { request, _ in
            let object = try RequestBodies.object(try await BoundedBody.json(request, limit: settings.bodyLimit), keys: ["password"])
            guard let password = object["password"]?.stringValue else { throw APIError.badRequest("password is required") }
            try await vault.unlock(password: password)
            return JSONResponse.make(.object(["locked": .bool(false)]))
        }
        group.post("lock") { _, _ in
            vault.lockNow()
            return JSONResponse.make(.object(["locked": .bool(true)]))
        }
        // Where the bridge delegation stands; POST asks the bridge now (also after a denial), unless a request is out.
        group.get("delegation") { _, _ in JSONResponse.make(Self.delegation(try vault.checkDelegation())) }
        group.post("delegation/request") { _, _ in JSONResponse.make(Self.delegation(try vault.checkDelegation(force: true))) }
        group.get("pairings") { _, _ in
            JSONResponse.make(
                .object([
                    "locked": .bool(vault.isLocked),
                    "pending": .array(
                        vault.pendingPairings().map {
                            .object(["id": .string($0.id), "origin": .string($0.origin), "name": .string($0.name)])
                        }),
                    "sites": .array(vault.pairedSites().map { .object(["origin": .string($0.origin), "name": .string($0.name)]) }),
                ]))
        }
        // `{"code": "123456", "budgets": [{"token": "0x…", "limit": "<base units>", "period": SECONDS}]}`
        group.post("pairings/:id/approve") { request, context in
            let object = try RequestBodies.object(
                try await BoundedBody.json(request, limit: settings.bodyLimit), keys: ["code", "budgets"])
            guard let code = object["code"]?.stringValue, code.utf8.count == 6 else { throw APIError.badRequest("code must be 6 digits") }
            guard let budgets = object["budgets"]?.arrayValue, !budgets.isEmpty, budgets.count <= 8 else {
                throw APIError.badRequest("budgets must list 1 to 8 tokens")
            }
            let limits = try budgets.map(Self.limit)
            let site = try vault.approve(id: context.parameters.get("id") ?? "", code: code, limits: limits)
            return JSONResponse.make(.object(["origin": .string(site.origin), "name": .string(site.name)]))
        }
        group.post("pairings/:id/deny") { _, context in
            try vault.deny(id: context.parameters.get("id") ?? "")
            return JSONResponse.make(.object(["denied": .bool(true)]))
        }
        group.post("sites/revoke") { request, _ in
            let object = try RequestBodies.object(try await BoundedBody.json(request, limit: settings.bodyLimit), keys: ["origin"])
            guard let origin = object["origin"]?.stringValue else { throw APIError.badRequest("origin is required") }
            try vault.revoke(origin: origin)
            return JSONResponse.make(.object(["revoked": .string(origin)]))
        }
    }

    static func delegation(_ status: DelegationKeeper.Status?) -> JSONValue {
        guard let status else {
            return .object(["state": .string("unconfigured"), "message": .string("no --bridge given to `wallet serve`")])
        }
        return .object(["state": .string(status.phase.rawValue), "message": .string(status.message)])
    }

    static func limit(_ value: JSONValue) throws -> SiteLimit {
        guard case .object(let object) = value else { throw APIError.badRequest("each budget must be an object") }
        try APIError.onlyKeys(object, ["token", "limit", "period"], in: "budget")
        guard let token = object["token"]?.stringValue.flatMap({ try? Address($0) }),
            let limit = object["limit"]?.stringValue.flatMap({ BigUInt($0, radix: 10) }), limit > 0,
            case .number(let text) = object["period"], let period = UInt64(text)
        else { throw APIError.badRequest("a budget is {\"token\": address, \"limit\": base units, \"period\": seconds}") }
        return SiteLimit(token: token, limit: limit, period: period)
    }
}
