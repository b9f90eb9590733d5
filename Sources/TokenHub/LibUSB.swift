import CLibUSB

/// USB enumeration over libusb-1.0. Each call opens its own libusb context, so nothing lingers between
/// calls. Devices are opened only to read their string descriptors (and to learn whether this user can).
public struct LibUSBEnumerator: USBEnumerator {
    /// Opening devices reads strings (product, Gnuk's version in the serial) but touches every device;
    /// doctor opens only known tokens.
    public let openIf: @Sendable (UInt16, UInt16) -> Bool

    public init(openIf: @escaping @Sendable (UInt16, UInt16) -> Bool = { _, _ in false }) {
        self.openIf = openIf
    }

    public func devices() throws(TokenHubError) -> [USBDeviceDescriptor] {
        let context = try LibUSBContext()
        return try context.devices(openIf: openIf)
    }
}

/// One libusb context, released on deinit.
final class LibUSBContext: @unchecked Sendable {
    let raw: OpaquePointer

    init() throws(TokenHubError) {
        var ctx: OpaquePointer?
        let rc = libusb_init(&ctx)
        // In a container without /dev/bus/usb (or sysfs), libusb_init fails: that is "no USB", not a bug.
        guard rc == 0, let ctx else { throw .usbUnavailable("libusb cannot start (\(Self.name(rc))): no USB bus here (container or CI?)") }
        raw = ctx
    }

    deinit { libusb_exit(raw) }

    var hasHotplug: Bool { libusb_has_capability(UInt32(LIBUSB_CAP_HAS_HOTPLUG.rawValue)) != 0 }

    func devices(openIf: (UInt16, UInt16) -> Bool) throws(TokenHubError) -> [USBDeviceDescriptor] {
        var list: UnsafeMutablePointer<OpaquePointer?>?
        let count = libusb_get_device_list(raw, &list)
        guard count >= 0, let list else { throw .usbUnavailable("libusb cannot list devices (\(Self.name(Int32(count))))") }
        defer { libusb_free_device_list(list, 1) }
        var out: [USBDeviceDescriptor] = []
        for i in 0..<Int(count) {
            guard let device = list[i] else { continue }
            var desc = libusb_device_descriptor()
            guard libusb_get_device_descriptor(device, &desc) == 0 else { continue }
            out.append(Self.describe(device, desc, open: openIf(desc.idVendor, desc.idProduct)))
        }
        return out
    }

    static func describe(_ device: OpaquePointer, _ desc: libusb_device_descriptor, open: Bool) -> USBDeviceDescriptor {
        var strings: [String?] = [nil, nil, nil]
        var openError: String?
        if open {
            var handle: OpaquePointer?
            let rc = libusb_open(device, &handle)
            if rc == 0, let handle {
                strings = [desc.iManufacturer, desc.iProduct, desc.iSerialNumber].map { readString(handle, $0) }
                libusb_close(handle)
            } else {
                openError = rc == LIBUSB_ERROR_ACCESS.rawValue ? "access denied" : name(rc)
            }
        }
        return USBDeviceDescriptor(
            vendorId: desc.idVendor, productId: desc.idProduct,
            bus: libusb_get_bus_number(device), address: libusb_get_device_address(device),
            bcdDevice: desc.bcdDevice, manufacturer: strings[0], product: strings[1], serial: strings[2],
            openError: openError)
    }

    private static func readString(_ handle: OpaquePointer, _ index: UInt8) -> String? {
        guard index != 0 else { return nil }
        var buffer = [UInt8](repeating: 0, count: 256)
        let n = libusb_get_string_descriptor_ascii(handle, index, &buffer, Int32(buffer.count))
        guard n > 0 else { return nil }
        return String(decoding: buffer.prefix(Int(n)), as: UTF8.self)
    }

    static func name(_ code: Int32) -> String {
        guard let c = libusb_error_name(code) else { return "error \(code)" }
        return String(cString: c)
    }
}
