import BigInt
import Delegation
import Ethereum
import Foundation
import Hummingbird
import HummingbirdTesting
import Testing

@testable import PayeeServer
@testable import PlayerCore

/// Every path of a paid segment over raw HTTP (no browser): real vouchers from a real wallet, the real
/// store, the server on a loopback port.
@Suite struct PaymentPathTests {
    let price = String(Shop.price)

    @Test func unpaidSegmentGets402WithDecodableRequirementsWhileInitAndManifestAreFree() async throws {
        let shop = try Shop()
        try await shop.serve { client in
            let response = try await client.get(Shop.segment(1))
            #expect(response.status.code == 402)
            let required = try #require(response.decoded(PaymentHeaders.required))
            #expect(required == response.json, "the body repeats the header")
            #expect(required["x402Version"] == .number("2") && required["error"] == nil)
            #expect(required["resource"]?["url"] == .string(Shop.segment(1)))
            let offer = try #require(required["accepts"]?.arrayValue?.first)
            #expect(offer["scheme"] == .string("paratii-voucher") && offer["network"] == .string("eip155:1"))
            #expect(offer["amount"] == .string(price) && offer["payTo"] == .string(shop.payee.checksummed))
            #expect(offer["asset"] == .string(Address.zero.checksummed))
            #expect(offer["extra"]?["memo"] == .string(Shop.segment(1)))
            #expect(offer["extra"]?["memoHash"] == .string(Keccak256.hash(Shop.segment(1)).hexString))
            #expect(offer["extra"]?["verifyingContract"] == .string(Address.zero.checksummed))
            #expect(offer["extra"]?["channel"] == nil, "an unpaid request does not say who pays")

            let initSegment = try await client.get("/media/init-stream0.webm")
            #expect(try initSegment.status == .ok && initSegment.bytes == shop.bytes("/media/init-stream0.webm"))
            let manifest = try #require(try await client.get("/media/manifest.json").json)
            #expect(manifest["init"] == .string("/media/init-stream0.webm"))
            #expect(manifest["segments"] == .array((1...5).map { .string(Shop.segment($0)) }))
            #expect(manifest["mimeType"] == .string("video/webm; codecs=\"vp09.00.21.08\""))
            #expect(manifest["duration"] == .number("5.000") && manifest["segmentDuration"] == .number("1.000"))
            #expect(try await client.get("/media/nothing.webm").status == .notFound)
            #expect(try await client.get("/media/..%2Fpayee.sqlite").status == .notFound)
        }
        #expect(try shop.channels().isEmpty)
    }

    @Test func aPaidSegmentComesWithItsBytesAndIsStoredOnceEvenWhenReplayed() async throws {
        let shop = try Shop()
        let voucher = try shop.pay(Shop.segment(1))
        try await shop.serve { client in
            let paid = try await client.get(Shop.segment(1), payment: shop.header(voucher, memo: Shop.segment(1)))
            #expect(paid.status == .ok)
            #expect(try paid.bytes == shop.bytes(Shop.segment(1)))
            let receipt = try #require(paid.decoded(PaymentHeaders.response))
            #expect(receipt["success"] == .bool(true) && receipt["payer"] == .string(shop.wallet.address.checksummed))
            #expect(receipt["transaction"] == .string(voucher.id.hexString) && receipt["network"] == .string("eip155:1"))
            #expect(receipt["extra"]?["cumulative"] == .string(price) && receipt["extra"]?["sequence"] == .number("1"))
            #expect(receipt["extra"]?["increase"] == .string(price) && receipt["extra"]?["duplicate"] == .bool(false))

            // The same voucher again for the same segment (a retry): served, nothing more counted.
            let replay = try await client.get(Shop.segment(1), payment: shop.header(voucher, memo: Shop.segment(1)))
            #expect(replay.status == .ok && replay.decoded(PaymentHeaders.response)?["extra"]?["duplicate"] == .bool(true))
            #expect(replay.decoded(PaymentHeaders.response)?["extra"]?["increase"] == .string("0"))
            // The same voucher for another segment: its memo names the first one.
            let elsewhere = try await client.get(Shop.segment(2), payment: shop.header(voucher, memo: Shop.segment(2)))
            #expect(elsewhere.status.code == 402 && elsewhere.refusal == "wrongMemo")
            #expect(elsewhere.channel?["cumulative"] == .string(price) && elsewhere.channel?["sequence"] == .number("1"))
            // And the next segment, paid properly.
            let next = try await client.get(Shop.segment(2), payment: shop.header(try shop.pay(Shop.segment(2)), memo: Shop.segment(2)))
            #expect(next.status == .ok && next.decoded(PaymentHeaders.response)?["extra"]?["sequence"] == .number("2"))

            let dashboard = try #require(try await client.get("/api/dashboard").json)
            #expect(dashboard["paidSegments"] == .number("2") && dashboard["replays"] == .number("1"))
            #expect(dashboard["earned"]?.arrayValue?.first?["amount"] == .string(String(Shop.price * 2)))
            #expect(dashboard["channels"]?.arrayValue?.count == 1)
        }
        let channels = try shop.channels()
        #expect(channels.count == 1 && channels[0].cumulative == Shop.price * 2 && channels[0].sequence == 2)
    }

    @Test func aCumulativeThatDisagreesWithTheChannelGetsTheServersState() async throws {
        let shop = try Shop()
        let first = try shop.pay(Shop.segment(1)), second = try shop.pay(Shop.segment(2))
        try await shop.serve { client in
            // The second voucher arrives first (the first was lost): it covers two prices, it is accepted.
            let late = try await client.get(Shop.segment(2), payment: shop.header(second, memo: Shop.segment(2)))
            #expect(late.status == .ok && late.decoded(PaymentHeaders.response)?["extra"]?["increase"] == .string(String(Shop.price * 2)))
            // The first now lies below the channel: a corrective 402 with the server's state.
            let stale = try await client.get(Shop.segment(1), payment: shop.header(first, memo: Shop.segment(1)))
            #expect(stale.status.code == 402 && stale.refusal == "decreasing")
            #expect(stale.channel?["cumulative"] == .string(String(Shop.price * 2)) && stale.channel?["sequence"] == .number("2"))
            #expect(stale.channel?["delegation"] == .string(shop.delegation.id.hexString))
            // A voucher raising the channel by less than the price: refused before the store, with the state.
            let short = try shop.forge(cumulative: Shop.price * 2 + Shop.price / 2, sequence: 3, memo: Shop.segment(3))
            let underpaid = try await client.get(Shop.segment(3), payment: shop.header(short, memo: Shop.segment(3)))
            #expect(underpaid.status.code == 402 && underpaid.refusal == "underpaid")
            #expect(underpaid.channel?["cumulative"] == .string(String(Shop.price * 2)))
        }
        let channels = try shop.channels()
        #expect(channels.count == 1 && channels[0].cumulative == Shop.price * 2 && channels[0].sequence == 2)
    }

    @Test func overTotalWrongPayeeAndWrongTokenAre402WithTheirReason() async throws {
        let pti = try Address("0x00000000000000000000000000000000000000aa")
        let everything = try Units.parseAmount("0.001")
        let shop = try Shop(allowances: [
            Allowance(token: .zero, total: everything, perPayment: everything, period: 0, perPeriod: 0),
            Allowance(token: pti, total: everything, perPayment: everything, period: 0, perPeriod: 0),
        ])
        let greedy = try shop.forge(cumulative: everything * 2, sequence: 1, memo: Shop.segment(1))
        let elsewhere = try shop.pay(Shop.segment(1), to: try Address("0x00000000000000000000000000000000000000cc"))
        let inPTI = try shop.pay(Shop.segment(1), token: pti)
        try await shop.serve { client in
            for (voucher, reason) in [(greedy, "overTotal"), (elsewhere, "wrongPayee"), (inPTI, "wrongToken")] {
                let response = try await client.get(Shop.segment(1), payment: shop.header(voucher, memo: Shop.segment(1)))
                #expect(response.status.code == 402 && response.refusal == reason, "\(reason)")
                #expect(response.decoded(PaymentHeaders.required)?["error"]?.stringValue?.count ?? 0 > reason.count + 2)
            }
        }
        #expect(try shop.channels().isEmpty)
    }

    @Test func revokedExpiredAndOtherChainVouchersAre402() async throws {
        let revoked = try Shop(revokeDelegation: true)
        let voucher = try revoked.pay(Shop.segment(1))
        try await revoked.serve { client in
            let response = try await client.get(Shop.segment(1), payment: revoked.header(voucher, memo: Shop.segment(1)))
            #expect(response.status.code == 402 && response.refusal == "revoked")
        }
        #expect(try revoked.channels().isEmpty)

        let expiring = try Shop(validFor: 600)
        let early = try expiring.pay(Shop.segment(1))
        expiring.clock.advance(3600)
        try await expiring.serve { client in
            let response = try await client.get(Shop.segment(1), payment: expiring.header(early, memo: Shop.segment(1)))
            #expect(response.status.code == 402 && response.refusal == "expired")
        }
        #expect(try expiring.channels().isEmpty)

        // Signed for chain 5: the verifier's domain is chain 1.
        let shop = try Shop()
        let otherChain = Domain(chainId: 5, verifyingContract: .zero)
        let delegation = try Envelope.sign(
            try #require(shop.delegation.message.typed as? SpendingDelegation), domain: otherChain, signer: shop.master)
        let voucher5 = Voucher(
            delegation: delegation.id, payee: shop.payee, token: .zero, cumulative: Shop.price, sequence: 1,
            memo: PaymentRequest.memo(Shop.segment(1)))
        let foreign = try Envelope.sign(voucher5, domain: otherChain, signer: shop.wallet.spendingKey, parents: [delegation])
        try await shop.serve { client in
            let response = try await client.get(Shop.segment(1), payment: shop.header(foreign, memo: Shop.segment(1)))
            #expect(response.status.code == 402 && response.refusal == "wrongDomain")
        }
        #expect(try shop.channels().isEmpty)
    }

    @Test func malformedPaymentHeadersAre400AndStoreNothing() async throws {
        let shop = try Shop()
        let voucher = try shop.pay(Shop.segment(1))
        let accepted = PaymentHeaders.requirements(shop.settings, memo: Shop.segment(1), channel: nil)
        func encoded(_ text: String) -> String { Data(text.utf8).base64EncodedString() }
        func payload(_ members: JSONObject) -> String { PaymentHeaders.encode(.object(members)) }
        let bad: [(String, String)] = [
            ("!!!not base64", "not base64"),
            (encoded("{\"x402Version\": 2,"), "not JSON"),
            (encoded("[2]"), "not a JSON object"),
            (payload(["x402Version": .number("1"), "accepted": accepted, "payload": voucher.json]), "x402Version"),
            (payload(["x402Version": .number("2"), "payload": voucher.json]), "accepted"),
            (payload(["x402Version": .number("2"), "accepted": .object(["scheme": .string("exact")]), "payload": voucher.json]), "scheme"),
            (payload(["x402Version": .number("2"), "accepted": accepted]), "payload"),
            (payload(["x402Version": .number("2"), "accepted": accepted, "payload": .object(["typedData": .null])]), "envelope"),
            (payload(["x402Version": .number("2"), "accepted": accepted, "payload": voucher.json, "tip": .bool(true)]), "tip"),
            (String(repeating: "A", count: 40000), "longer"),
        ]
        try await shop.serve { client in
            for (header, words) in bad {
                let response = try await client.get(Shop.segment(1), payment: header)
                #expect(response.status == .badRequest, "\(words)")
                #expect(response.json?["code"] == .string("malformed_payment"))
                #expect(response.json?["error"]?.stringValue?.contains(words) == true, "\(words): \(response.json?["error"] ?? .null)")
            }
            let dashboard = try #require(try await client.get("/api/dashboard").json)
            #expect(dashboard["recent"] == .array([]), "a malformed header never reaches the ledger")
        }
        #expect(try shop.channels().isEmpty)
    }

    @Test func preflightIsAnsweredAndThePaymentHeadersAreExposed() async throws {
        let shop = try Shop()
        try await shop.serve { client in
            let preflight = try await client.execute(
                uri: Shop.segment(1), method: .options,
                headers: [
                    .origin: "http://localhost:8080", .accessControlRequestHeaders: "payment-signature", .accessControlRequestMethod: "GET",
                ])
            #expect(preflight.status == .noContent)
            #expect(preflight.headers[.accessControlAllowOrigin] == "*")
            #expect(preflight.headers[.accessControlAllowHeaders]?.contains("PAYMENT-SIGNATURE") == true)
            #expect(preflight.headers[.accessControlAllowMethods]?.contains("GET") == true)
            let origin: HTTPFields = [.origin: "http://localhost:8080"]
            let unpaid = try await client.get(Shop.segment(1), headers: origin)
            let paid = try await client.get(
                Shop.segment(1), payment: shop.header(try shop.pay(Shop.segment(1)), memo: Shop.segment(1)), headers: origin)
            let malformed = try await client.get(Shop.segment(1), payment: "!!!", headers: origin)
            for (response, status) in [(unpaid, 402), (paid, 200), (malformed, 400)] {
                #expect(response.status.code == status)
                #expect(response.headers[.accessControlAllowOrigin] == "*", "\(status)")
                #expect(response.headers[.accessControlExposeHeaders] == "PAYMENT-REQUIRED, PAYMENT-RESPONSE", "\(status)")
            }
            // Who pays whom is not for other origins.
            let dashboard = try await client.get("/api/dashboard", headers: origin)
            #expect(dashboard.status == .ok && dashboard.headers[.accessControlAllowOrigin] == nil)
            // Nor for a DNS-rebound page: a Host other than loopback is 421 (the media stay public).
            for host in ["evil.example", "evil.example:8080", "127.0.0.1.evil.example"] {
                let rebound = try await client.execute(
                    uri: "/api/dashboard", method: .get, headers: [HTTPFields.Element.Name("Host")!: host])
                #expect(rebound.status.code == 421, "\(host)")
            }
            for host in ["localhost", "127.0.0.1:8080", "[::1]:80"] {
                #expect(
                    try await client.execute(uri: "/api/dashboard", method: .get, headers: [HTTPFields.Element.Name("Host")!: host]).status
                        == .ok, "\(host)")
            }
        }
    }

    @Test func concurrentPaymentsOnOneChannelAreSerialized() async throws {
        let shop = try Shop()
        // Five vouchers in the wallet's order (cumulative 1..5 prices), sent all at once in any order.
        let vouchers = try (1...5).map { try shop.pay(Shop.segment($0)) }
        let outcomes = try await shop.serve { client in
            try await withThrowingTaskGroup(of: (Int, UInt, JSONValue?).self) { group in
                for (i, voucher) in vouchers.enumerated() {
                    group.addTask {
                        let response = try await client.get(Shop.segment(i + 1), payment: shop.header(voucher, memo: Shop.segment(i + 1)))
                        return (i + 1, UInt(response.status.code), response.decoded(PaymentHeaders.response))
                    }
                }
                return try await group.reduce(into: []) { $0.append($1) }
            }
        }
        let served = outcomes.filter { $0.1 == 200 }
        #expect(!served.isEmpty && outcomes.allSatisfy { $0.1 == 200 || $0.1 == 402 })
        // Each served segment raised the channel by at least the price, and the raises add up to what the
        // store holds: no two requests were served from the same increase.
        let increases = served.compactMap { $0.2?["extra"]?["increase"]?.stringValue.flatMap { BigUInt($0) } }
        #expect(increases.count == served.count && increases.allSatisfy { $0 >= Shop.price })
        let channel = try #require(try shop.channels().first)
        #expect(increases.reduce(0, +) == channel.cumulative)
        #expect(channel.cumulative == served.map { Shop.price * BigUInt($0.0) }.max())
        // Every voucher the store took was one a segment was served for: none kept without its segment.
        #expect(try shop.receipts() == served.count)

        // Two vouchers that each cover the price over the channel but not one after the other (a stolen key's
        // trick, or two pages racing): judged one at a time, the second is refused before it is stored.
        let racing = try Shop()
        try await racing.serve { client in
            for round in 0..<5 {
                let held = try racing.channels().first
                let base = held?.cumulative ?? 0, sequence = held?.sequence ?? 0
                let pair = try [Shop.price, Shop.price * 3 / 2].enumerated().map { i, raise in
                    try racing.forge(cumulative: base + raise, sequence: sequence + UInt64(i) + 1, memo: Shop.segment(i + 1))
                }
                let codes = try await withThrowingTaskGroup(of: UInt.self) { group in
                    for (i, voucher) in pair.enumerated() {
                        group.addTask {
                            UInt(
                                try await client.get(Shop.segment(i + 1), payment: racing.header(voucher, memo: Shop.segment(i + 1))).status
                                    .code)
                        }
                    }
                    return try await group.reduce(into: []) { $0.append($1) }
                }
                #expect(codes.sorted() == [200, 402], "round \(round)")
            }
        }
        #expect(try racing.receipts() == 5, "a voucher was stored without its segment")

        // The same voucher eight times at once: one payment, seven replays, one voucher stored.
        let again = try Shop()
        let voucher = try again.pay(Shop.segment(1))
        let receipts = try await again.serve { client in
            try await withThrowingTaskGroup(of: JSONValue?.self) { group in
                for _ in 0..<8 {
                    group.addTask {
                        try await client.get(Shop.segment(1), payment: again.header(voucher, memo: Shop.segment(1))).decoded(
                            PaymentHeaders.response)
                    }
                }
                return try await group.reduce(into: []) { $0.append($1) }
            }
        }
        #expect(receipts.compactMap { $0?["extra"]?["duplicate"] }.sorted { $0 == .bool(false) && $1 == .bool(true) }.count == 8)
        #expect(receipts.filter { $0?["extra"]?["duplicate"] == .bool(false) }.count == 1)
        #expect(try again.channels().map(\.sequence) == [1])
    }
}
