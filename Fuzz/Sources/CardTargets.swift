@testable import OpenPGPCard

/// BER-TLV: what parses re-encodes to objects that parse the same; search is bounded.
func fuzzTLV(_ input: [UInt8]) {
    guard let objects = try? TLV.parse(input) else { return }
    let encoded = objects.flatMap(\.encoded)
    require((try? TLV.parse(encoded)) == objects, "TLV re-encoding does not parse back to the same objects")
    for object in objects where object.isConstructed { _ = try? object.children() }
    _ = TLV.find(0x86, in: objects)
    _ = TLV.find(0x5F52, in: objects)
}

/// Command and response APDUs from the wire: parse → encode → parse is stable.
func fuzzAPDU(_ input: [UInt8]) {
    if let response = ResponseAPDU(bytes: input) {
        require(response.bytes == input, "response bytes differ from the input")
    }
    if let command = CommandAPDU(bytes: input) {
        for extended in [false, true] {
            let wire = command.encoded(extended: extended)
            require(CommandAPDU(bytes: wire) == command, "command APDU round trip (extended: \(extended)) changed it")
        }
        _ = APDUDescription.describe(command)
        // A trace never holds a PIN: PIN-bearing commands show every data byte as ** and keep the rest.
        let redacted = APDUDescription.redactedHex(command).split(separator: " ")
        let wire = command.encoded()
        require(redacted.count == wire.count, "redacted trace has \(redacted.count) bytes, the wire \(wire.count)")
        if [0x20, 0x24, 0x2C].contains(command.ins) || (command.ins == 0xDA && command.p1p2 == 0x00D3) {
            require(APDUDescription.carriesSecret(command) || command.data.isEmpty, "a PIN-bearing command not recognised as secret")
        }
        if APDUDescription.carriesSecret(command) {
            require(redacted.filter { $0 == "**" }.count == command.data.count, "PIN bytes left in a trace")
        }
    }
}

/// What the driver reads from a card: application related data, PW status, public key, signatures.
func fuzzCardData(_ input: [UInt8]) {
    if let data = try? ApplicationData(bytes: input) {
        _ = data.aid.manufacturerName
        _ = data.aid.serialHex
        _ = data.signatureAlgorithm?.name
        require(data.aid.bytes.count == 16, "AID of \(data.aid.bytes.count) bytes accepted")
    }
    _ = try? PINStatus(bytes: input)
    if let key = try? OpenPGPCard.parsePublicKey(input) {
        require(key.uncompressed.count == 65, "public key of \(key.uncompressed.count) bytes")
    }
    if let signature = try? OpenPGPCard.rawSignature(input) {
        require(signature.count == 64, "raw signature of \(signature.count) bytes")
    }
}
