import Ethereum

/// The extended header list that imports an ECDSA key into the signature slot (OpenPGP card 3.4
/// §4.4.3.12, PUT DATA odd INS DB, P1P2 3FFF):
///
///     4D { B6 00,  7F48 { 92 20, 99 41 },  5F48 { d ‖ 04‖X‖Y } }
///
/// 7F48 lists each key part's tag and length without its value; 5F48 holds the values in that order.
/// 92 is the private scalar, 99 the public point (optional for the card; sent so that a card can check
/// the pair). The driver builds it, the software token parses it.
public enum KeyImport {
    /// Writes the list for `key` into `data`, after reserving its full size, so that no reallocation
    /// leaves a copy of the secret behind; the caller wipes `data` after use.
    public static func append(_ key: PrivateKey, to data: inout [UInt8]) {
        let publicKey = key.publicKey.uncompressed
        let template: [UInt8] = [KeyImportTag.ecPrivateKey, 32, KeyImportTag.ecPublicKey, UInt8(publicKey.count)]
        let keyData = 32 + publicKey.count
        let templateObject = 2 + TLV.encodeLength(template.count).count + template.count
        let keyDataObject = 2 + TLV.encodeLength(keyData).count + keyData
        let body = CardParameter.signatureKeyCRT.count + templateObject + keyDataObject
        data.reserveCapacity(data.count + 1 + TLV.encodeLength(body).count + body)
        data.append(UInt8(KeyImportTag.extendedHeaderList))
        data += TLV.encodeLength(body)
        data += CardParameter.signatureKeyCRT
        data += [0x7F, 0x48] + TLV.encodeLength(template.count) + template
        data += [0x5F, 0x48] + TLV.encodeLength(keyData)
        key.withUnsafeSecret { data.append(contentsOf: $0) }
        data += publicKey
    }

    /// What a list carries: the private scalar (the caller wipes it) and the public point if sent.
    public struct Parts {
        public var privateKey: [UInt8]
        public var publicKey: [UInt8]?
    }

    public enum Refusal: Error, Equatable {
        /// Not a well-formed list (status 6A80 on a card).
        case malformed(String)
        /// A well-formed list for another slot or another kind of key (6A80 as well; named for tests).
        case unsupported(String)
    }

    /// Parses a list for the signature slot with an EC private key (92, 32 bytes) and optionally its
    /// public point (99). Card input is untrusted: every length is checked against what it claims.
    public static func parse(_ data: [UInt8]) throws(Refusal) -> Parts {
        let top: [TLV]
        do { top = try TLV.parse(data) } catch { throw .malformed(error.description) }
        guard top.count == 1, top[0].tag == KeyImportTag.extendedHeaderList else { throw .malformed("not one extended header list (4D)") }
        let objects: [TLV]
        do { objects = try TLV.parse(top[0].value) } catch { throw .malformed(error.description) }
        guard objects.count == 3, objects[0].tag == 0xB6,
            objects[1].tag == KeyImportTag.privateKeyTemplate, objects[2].tag == KeyImportTag.concatenatedKeyData
        else { throw .malformed("expected a CRT, 7F48 and 5F48, in that order") }
        guard objects[0].value.isEmpty else { throw .unsupported("only the signature key (B6 00) is imported") }
        let parts = try headers(objects[1].value)
        let values = objects[2].value
        guard parts.reduce(0, { $0 + $1.length }) == values.count else { throw .malformed("5F48 length differs from the 7F48 template") }
        var result = Parts(privateKey: [], publicKey: nil)
        var offset = 0
        for part in parts {
            let value = Array(values[offset..<offset + part.length])
            offset += part.length
            switch part.tag {
            case KeyImportTag.ecPrivateKey where part.length == 32 && result.privateKey.isEmpty: result.privateKey = value
            case KeyImportTag.ecPublicKey where part.length == 65 && result.publicKey == nil: result.publicKey = value
            default: throw .unsupported("key part \(String(part.tag, radix: 16)) of \(part.length) bytes")
            }
        }
        guard result.privateKey.count == 32 else { throw .unsupported("no EC private key (92) of 32 bytes") }
        return result
    }

    /// 7F48's tag‖length pairs (one-byte tags 91…99; BER lengths).
    private static func headers(_ bytes: [UInt8]) throws(Refusal) -> [(tag: UInt8, length: Int)] {
        var out: [(tag: UInt8, length: Int)] = []
        var i = 0
        while i < bytes.count {
            let tag = bytes[i]
            guard i + 1 < bytes.count else { throw .malformed("7F48 ends inside a header") }
            var length = Int(bytes[i + 1])
            i += 2
            if length > 0x80 {
                let n = length & 0x7F
                guard n <= 2, i + n <= bytes.count else { throw .malformed("bad length in 7F48") }
                length = bytes[i..<i + n].reduce(0) { $0 << 8 | Int($1) }
                i += n
            } else if length == 0x80 {
                throw .malformed("indefinite length in 7F48")
            }
            out.append((tag, length))
        }
        return out
    }
}
