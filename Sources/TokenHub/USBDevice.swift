/// A USB device as enumeration saw it: plain values, so matching logic and tests need no libusb.
public struct USBDeviceDescriptor: Hashable, Sendable {
    public let vendorId: UInt16
    public let productId: UInt16
    public let bus: UInt8
    public let address: UInt8
    /// bcdDevice: the device release, which some vendors set from the firmware version.
    public let bcdDevice: UInt16
    /// String descriptors, nil when the device could not be opened to read them.
    public let manufacturer: String?
    public let product: String?
    public let serial: String?
    /// Why the device could not be opened ("access denied" …), nil when it could or nobody tried.
    public let openError: String?

    public init(
        vendorId: UInt16, productId: UInt16, bus: UInt8, address: UInt8, bcdDevice: UInt16,
        manufacturer: String? = nil, product: String? = nil, serial: String? = nil, openError: String? = nil
    ) {
        self.vendorId = vendorId
        self.productId = productId
        self.bus = bus
        self.address = address
        self.bcdDevice = bcdDevice
        self.manufacturer = manufacturer
        self.product = product
        self.serial = serial
        self.openError = openError
    }

    /// "1050:0407"
    public var id: String { "\(TokenTable.hex4(vendorId)):\(TokenTable.hex4(productId))" }

    /// Where usbfs puts the node: /dev/bus/usb/BBB/DDD.
    public var devicePath: String { "/dev/bus/usb/\(Self.pad3(bus))/\(Self.pad3(address))" }

    /// Identity across enumerations (bus and address change on every re-plug).
    var key: String { "\(bus)-\(address)-\(id)" }

    private static func pad3(_ n: UInt8) -> String {
        let s = String(n)
        return String(repeating: "0", count: 3 - s.count) + s
    }
}

/// Enumerates USB devices. The libusb transport implements it; tests pass recorded descriptors.
public protocol USBEnumerator: Sendable {
    /// Every device on the bus; throws `TokenHubError.usbUnavailable` where there is no USB access at all.
    func devices() throws(TokenHubError) -> [USBDeviceDescriptor]
}

/// Recorded descriptors, for tests and for replaying a user's report.
public struct RecordedUSB: USBEnumerator {
    public let recorded: [USBDeviceDescriptor]
    public init(_ recorded: [USBDeviceDescriptor]) { self.recorded = recorded }
    public func devices() throws(TokenHubError) -> [USBDeviceDescriptor] { recorded }
}

/// A known token recognised on the bus.
public struct TokenMatch: Hashable, Sendable {
    public let device: USBDeviceDescriptor
    public let token: KnownToken

    /// The firmware version the USB descriptors reveal, where the vendor's scheme is known: Yubico puts it
    /// in bcdDevice as BCD (0x0523 = 5.2.3), Nitrokey 3 as major<<8|minor (no patch), Gnuk in the serial
    /// string "FSIJ-1.2.15-…". The card's own answers decide; this only hints before pcscd sees it.
    public var firmwareHint: FirmwareVersion? {
        let d = device
        switch (d.vendorId, d.productId) {
        case (0x1050, _):
            let v = d.bcdDevice
            return FirmwareVersion(parts: [Int(v >> 8), Int(v >> 4 & 0xF), Int(v & 0xF)])
        case (0x20A0, 0x42B2):
            return FirmwareVersion(parts: [Int(d.bcdDevice >> 8), Int(d.bcdDevice & 0xFF)])
        case (0x20A0, 0x4211), (0x234B, 0x0000), (0x1209, 0x2440):
            guard let serial = d.serial, serial.hasPrefix("FSIJ-") else { return nil }
            return FirmwareVersion(String(serial.dropFirst(5).prefix { $0 != "-" }))
        default:
            return nil
        }
    }

    /// Whether the firmware can hold a secp256k1 key: nil when it cannot be told from USB alone.
    public var secp256k1Capable: Bool? {
        guard token.secp256k1.supported else { return false }
        guard let since = token.secp256k1.sinceFirmware.flatMap(FirmwareVersion.init) else { return nil }
        return firmwareHint?.isAtLeast(since) ?? nil
    }

    /// Whether a PC/SC reader name plausibly belongs to this device. libccid names readers from the
    /// USB manufacturer and product strings ("Yubico YubiKey OTP+FIDO+CCID 00 00"), so use those when
    /// readable, else words of the vendor.
    public func matchesReader(_ reader: String) -> Bool {
        let name = reader.lowercased()
        if let product = device.product?.lowercased(), !product.isEmpty, name.contains(product) { return true }
        return Self.vendorWords[device.vendorId, default: []].contains { name.contains($0) }
    }

    static let vendorWords: [UInt16: [String]] = [
        0x1050: ["yubico", "yubikey"],
        0x20A0: ["nitrokey", "canokey"],
        0x234B: ["gnuk", "fsij", "free software initiative"],
        0x1209: ["gnuk", "fsij"],
        0x2E8A: ["pico"],
    ]
}

extension TokenTable {
    /// The known tokens among `devices`, in bus order.
    public func matches(_ devices: [USBDeviceDescriptor]) -> [TokenMatch] {
        devices.compactMap { d in token(vendorId: d.vendorId, productId: d.productId).map { TokenMatch(device: d, token: $0) } }
    }
}
