/// Anything that can sign a 32-byte digest as a known address: a software key, or a hardware
/// token behind a driver. Callers never learn which; a token that needs a PIN throws a typed error.
public protocol DigestSigner {
    var address: Address { get }
    func sign(digest: [UInt8]) throws -> Signature
}

extension PrivateKey: DigestSigner {}
