import Delegation
import Ethereum

/// One enrolled card as the roster keeps it: the attestation the institution signed for it and,
/// once revoked, the signed revocation.
public struct CardRecord: Sendable, Equatable {
    public var serial: String
    public var holder: String
    public var master: Address
    public var ceiling: [Allowance]
    public var validUntil: UInt64
    public var enrolledAt: UInt64
    public var attestation: Envelope
    public var revokedAt: UInt64?
    public var revocation: Envelope?

    public var attestationId: [UInt8] { attestation.id }
    public var isRevoked: Bool { revocation != nil }

    public var json: JSONValue {
        .object([
            "serial": .string(serial), "holder": .string(holder), "master": .string(master.checksummed),
            "ceiling": .array(ceiling.map(\.json)), "validUntil": .number(String(validUntil)),
            "enrolledAt": .number(String(enrolledAt)), "attestation": .string(attestationId.hexString),
            "revokedAt": revokedAt.map { .number(String($0)) } ?? .null,
        ])
    }

    static let csvHeader = "serial,holder,master,enrolledAt,validUntil,revokedAt,attestation"

    var csvLine: String {
        [
            serial, holder, master.checksummed, String(enrolledAt), String(validUntil), revokedAt.map(String.init) ?? "",
            attestationId.hexString,
        ]
        .map(Self.csvField).joined(separator: ",")
    }

    /// RFC 4180 quoting, and a leading quote mark on anything a spreadsheet would run as a formula.
    static func csvField(_ text: String) -> String {
        var field = text
        if let first = field.first, "=+-@\t\r".contains(first) { field = "'" + field }
        guard field.contains(where: { ",\"\r\n".contains($0) }) else { return field }
        return "\"" + field.replacingOccurrences(of: "\"", with: "\"\"") + "\""
    }

    /// The roster as CSV, one card a line, header first.
    public static func csv(_ records: [CardRecord]) -> String {
        ([csvHeader] + records.map(\.csvLine)).joined(separator: "\n") + "\n"
    }
}
