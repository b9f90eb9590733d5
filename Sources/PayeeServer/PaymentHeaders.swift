import BigInt
import Delegation
import Ethereum
import Foundation
import Hummingbird
import LoopbackHTTP
import PlayerCore

/// The x402 v2 shapes of a paid segment, scheme `paratii-voucher` (DESIGN: "Paying over HTTP from a
/// web page"). Each header is base64 of compact JSON.
public enum PaymentHeaders {
    public static let required = HTTPFields.Element.Name("PAYMENT-REQUIRED")!
    public static let signature = HTTPFields.Element.Name("PAYMENT-SIGNATURE")!
    public static let response = HTTPFields.Element.Name("PAYMENT-RESPONSE")!
    public static let scheme = "paratii-voucher"
    /// A voucher envelope with its chain is a few kilobytes; anything far larger is not one.
    static let signatureLimit = 32 * 1024

    /// What the server asks for one resource. `memo` is the text the payer passes to its wallet (the
    /// voucher's memo is its keccak, `memoHash`); `channel` is what the server holds for this payer,
    /// when it knows who pays.
    public static func requirements(_ settings: PayeeSettings, memo: String, channel: ChannelState?) -> JSONValue {
        var extra: JSONObject = [
            "name": .string(Domain.name), "version": .string(Domain.version),
            "verifyingContract": .string(settings.chain.verifyingContract.checksummed),
            "memo": .string(memo), "memoHash": .string(PaymentRequest.memo(memo).hexString),
        ]
        if let channel {
            extra["channel"] = .object([
                "delegation": .string(channel.delegation.hexString), "cumulative": .string(String(channel.cumulative)),
                "sequence": .number(String(channel.sequence)),
            ])
        }
        return .object([
            "scheme": .string(scheme), "network": .string(settings.network), "amount": .string(String(settings.price)),
            "asset": .string(settings.token.checksummed), "payTo": .string(settings.payee.checksummed),
            "maxTimeoutSeconds": .number(String(settings.maxTimeoutSeconds)), "extra": .object(extra),
        ])
    }

    /// The PaymentRequired object: x402Version, an error when refusing a payment, the resource, what it accepts.
    public static func paymentRequired(
        _ settings: PayeeSettings, url: String, mimeType: String, memo: String, channel: ChannelState?, error: String?
    ) -> JSONValue {
        var object: JSONObject = ["x402Version": .number("2")]
        if let error { object["error"] = .string(error) }
        object["resource"] = .object(["url": .string(url), "mimeType": .string(mimeType)])
        object["accepts"] = .array([requirements(settings, memo: memo, channel: channel)])
        return .object(object)
    }

    /// The settlement answer: the voucher's id stands for the transaction (nothing is on chain yet), the
    /// payer is the spending key, `extra` the channel after this voucher.
    public static func paymentResponse(_ settings: PayeeSettings, paid: PaidSegment) -> JSONValue {
        .object([
            "success": .bool(true), "transaction": .string(paid.voucherId.hexString), "network": .string(settings.network),
            "payer": .string(paid.channel.spender.checksummed),
            "extra": .object([
                "cumulative": .string(String(paid.channel.cumulative)), "sequence": .number(String(paid.channel.sequence)),
                "increase": .string(String(paid.increase)), "duplicate": .bool(paid.duplicate),
            ]),
        ])
    }

    public static func encode(_ value: JSONValue) -> String { Data(value.compactText.utf8).base64EncodedString() }

    /// The PaymentPayload of a `PAYMENT-SIGNATURE` header: `{x402Version: 2, accepted, payload}` with the
    /// voucher envelope as payload. Anything else is a 400 that names what is wrong; nothing is stored.
    public static func decodeSignature(_ header: String, settings: PayeeSettings) throws -> Envelope {
        func malformed(_ why: String) -> APIError { APIError(400, "malformed_payment", "PAYMENT-SIGNATURE: \(why)") }
        guard header.utf8.count <= signatureLimit else { throw malformed("longer than \(signatureLimit) bytes") }
        guard let bytes = Data(base64Encoded: header.trimmingCharacters(in: .whitespaces)) else { throw malformed("not base64") }
        let value: JSONValue
        do { value = try JSONValue.parse(Array(bytes)) } catch { throw malformed("not JSON: \(error)") }
        guard case .object(let object) = value else { throw malformed("not a JSON object") }
        for key in object.keys where !["x402Version", "resource", "accepted", "payload", "extensions"].contains(key) {
            throw malformed("unknown member \"\(key)\"")
        }
        guard object["x402Version"] == .number("2") else { throw malformed("x402Version must be 2") }
        guard case .object(let accepted)? = object["accepted"] else { throw malformed("accepted must be an object") }
        guard accepted["scheme"] == .string(scheme) else { throw malformed("accepted.scheme must be \"\(scheme)\"") }
        guard accepted["network"] == .string(settings.network) else { throw malformed("accepted.network must be \(settings.network)") }
        guard let payload = object["payload"] else { throw malformed("payload (the voucher envelope) is missing") }
        do { return try Envelope(json: payload) } catch { throw malformed("payload is not an envelope: \(error)") }
    }
}
