import Delegation
import Ethereum
import Foundation
import PayeeServer

/// The payee server's `PAYMENT-SIGNATURE` header, decoded as the route decodes it: the input as the
/// header text, and base64-wrapped so the fuzzer reaches the JSON inside. Nothing may trap; what is
/// accepted is a bounded header holding an envelope that reads back to the same id.
func fuzzPaymentSignature(_ input: [UInt8]) {
    let settings = PayeeSettings(chain: Configuration(), payee: .zero, token: .zero, price: 1)
    for header in [String(decoding: input, as: UTF8.self), Data(input).base64EncodedString()] {
        guard let envelope = try? PaymentHeaders.decodeSignature(header, settings: settings) else { continue }
        require(header.utf8.count <= 32 * 1024, "a PAYMENT-SIGNATURE of \(header.utf8.count) bytes accepted")
        require((try? Envelope(json: envelope.json))?.id == envelope.id, "an accepted payload does not read back to its id")
    }
}
