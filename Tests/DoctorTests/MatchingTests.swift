import Doctor
import Foundation
import Testing
import TokenHub

/// Matching and diagnosis with recorded USB descriptors (as `lsusb -v` shows them).
struct MatchingTests {
    let table: TokenTable
    init() throws { table = try TokenTable.bundled() }

    static let yubiKey5NFC = USBDeviceDescriptor(
        vendorId: 0x1050, productId: 0x0407, bus: 1, address: 4, bcdDevice: 0x0543,
        manufacturer: "Yubico", product: "YubiKey OTP+FIDO+CCID")
    static let yubiKey4 = USBDeviceDescriptor(
        vendorId: 0x1050, productId: 0x0407, bus: 1, address: 5, bcdDevice: 0x0437,
        manufacturer: "Yubico", product: "Yubikey 4 OTP+U2F+CCID")
    static let nitrokey3 = USBDeviceDescriptor(vendorId: 0x20A0, productId: 0x42B2, bus: 3, address: 2, bcdDevice: 0x0108)
    static let nitrokeyStart = USBDeviceDescriptor(
        vendorId: 0x20A0, productId: 0x4211, bus: 2, address: 7, bcdDevice: 0x0200,
        manufacturer: "Nitrokey", product: "Nitrokey Start", serial: "FSIJ-1.2.15-87042524")
    static let logitechReceiver = USBDeviceDescriptor(vendorId: 0x046D, productId: 0xC52B, bus: 1, address: 2, bcdDevice: 0x1211)
    static let yubiKeyFIDOOnly = USBDeviceDescriptor(vendorId: 0x1050, productId: 0x0402, bus: 1, address: 6, bcdDevice: 0x0543)
    static let yubiKeyNEO = USBDeviceDescriptor(vendorId: 0x1050, productId: 0x0116, bus: 1, address: 8, bcdDevice: 0x0340)

    let readers = ["Yubico YubiKey OTP+FIDO+CCID 00 00", "Nitrokey Nitrokey 3 [CCID/ICCD Interface] 01 00"]
    let healthyHost = HostFacts(udevRules: [
        "/etc/udev/rules.d/70-paratii-tokens.rules":
            "SUBSYSTEM==\"usb\", ATTR{idVendor}==\"1050\", ATTR{idProduct}==\"0407\", TAG+=\"uaccess\""
    ])

    private func usb(_ devices: [USBDeviceDescriptor], readers: [String]? = nil, host: HostFacts? = nil) -> [Finding] {
        Diagnosis.usbFindings(.devices(devices), readers: readers ?? self.readers, host: host ?? healthyHost, table: table)
    }

    @Test func yubiKey5NFCIsRecognisedAndSeenByPCSC() throws {
        let match = try #require(table.matches([Self.yubiKey5NFC]).first)
        #expect(match.token.vendorId == "1050" && match.token.interface == .ccidPlusHID)
        #expect(match.firmwareHint == FirmwareVersion("5.4.3"))
        #expect(match.secp256k1Capable == true)
        let findings = usb([Self.yubiKey5NFC])
        #expect(findings.map(\.id) == ["usb.token"])
        #expect(findings[0].severity == .ok)
        #expect(findings[0].summary.contains("Yubico YubiKey OTP+FIDO+CCID 00 00"))
    }

    @Test func deviceNodeThisUserCannotOpen() throws {
        let locked = HostFacts(udevRules: healthyHost.udevRules, canOpen: { $0 != "/dev/bus/usb/001/004" })
        let findings = usb([Self.yubiKey5NFC], host: locked)
        #expect(findings.map(\.id) == ["usb.token", "usb.noAccess"])
        #expect(findings[1].severity == .info && findings[1].summary.contains("/dev/bus/usb/001/004"))
    }

    @Test func yubiKey4IsOpenPGPButTooOldForSecp256k1() throws {
        let match = try #require(table.matches([Self.yubiKey4]).first)
        #expect(match.token.openpgp)
        #expect(match.firmwareHint == FirmwareVersion("4.3.7"))
        #expect(match.secp256k1Capable == false)
        let old = try #require(usb([Self.yubiKey4]).first { $0.id == "usb.firmwareTooOld" })
        #expect(old.severity == .warning)
        #expect(old.summary.contains("4.3.7") && old.summary.contains("5.2.3"))
    }

    @Test func nitrokey3MatchesByVendorWordsWithoutStrings() throws {
        let match = try #require(table.matches([Self.nitrokey3]).first)
        #expect(match.token.name.hasPrefix("Nitrokey 3"))
        // bcdDevice 0x0108 is 1.8: not enough to tell whether 1.8.2's secp256k1 is there.
        #expect(match.firmwareHint == FirmwareVersion("1.8"))
        #expect(match.secp256k1Capable == nil)
        #expect(match.matchesReader(readers[1]))
        #expect(!match.matchesReader("Virtual PCD 00 00"))
        #expect(usb([Self.nitrokey3]).map(\.id) == ["usb.token"])
        let older = USBDeviceDescriptor(vendorId: 0x20A0, productId: 0x42B2, bus: 3, address: 2, bcdDevice: 0x0107)
        #expect(usb([older]).contains { $0.id == "usb.firmwareTooOld" })
    }

    @Test func gnukVersionComesFromTheSerialString() throws {
        let match = try #require(table.matches([Self.nitrokeyStart]).first)
        #expect(match.firmwareHint == FirmwareVersion("1.2.15"))
        #expect(match.secp256k1Capable == true)
    }

    @Test func unknownDevicesAreNotTokens() {
        #expect(table.matches([Self.logitechReceiver]).isEmpty)
        let findings = usb([Self.logitechReceiver])
        #expect(findings.map(\.id) == ["usb.noKnownTokens"])
        #expect(findings[0].severity == .info)
    }

    @Test func hidOnlyYubiKeySaysCCIDIsDisabled() throws {
        let findings = usb([Self.yubiKeyFIDOOnly], readers: [])
        let hid = try #require(findings.first { $0.id == "usb.hidOnly" })
        #expect(hid.severity == .warning)
        #expect(hid.fix.contains("ykman config"))
        // Not an OpenPGP interface, so "missing from PC/SC" is not the diagnosis.
        #expect(!findings.contains { $0.id == "usb.notInPCSC" })
    }

    @Test func yubiKeyNEOCannotHoldSecp256k1() {
        #expect(usb([Self.yubiKeyNEO]).contains { $0.id == "usb.noSecp256k1" && $0.severity == .warning })
    }

    @Test func tokenMissingFromPCSCNamesTheCausesInOrder() throws {
        let bare = HostFacts(udevRules: [:], scdaemonRunning: true, scdaemonDisablesCCID: false, ccidDriver: nil, canOpen: { _ in false })
        let finding = try #require(usb([Self.yubiKey5NFC], readers: ["Virtual PCD 00 00"], host: bare).first { $0.id == "usb.notInPCSC" })
        #expect(finding.severity == .error)
        #expect(finding.fix == Diagnosis.installRulesFix)
        let s = finding.summary
        let order = ["udev rule", "/dev/bus/usb/001/004", "scdaemon", "CCID driver"].map { s.range(of: $0)?.lowerBound }
        #expect(order.allSatisfy { $0 != nil }, "\(s)")
        #expect(order.compactMap { $0 } == order.compactMap { $0 }.sorted())

        // Rules installed, node open: scdaemon is the one left, and its fix is given.
        let gpg = HostFacts(udevRules: healthyHost.udevRules, scdaemonRunning: true)
        let held = try #require(usb([Self.yubiKey5NFC], readers: [], host: gpg).first { $0.id == "usb.notInPCSC" })
        #expect(held.fix.contains("disable-ccid") && held.fix.contains("gpgconf --kill scdaemon"))

        let noDriver = HostFacts(udevRules: healthyHost.udevRules, ccidDriver: nil)
        let driver = try #require(usb([Self.yubiKey5NFC], readers: [], host: noDriver).first { $0.id == "usb.notInPCSC" })
        #expect(driver.fix.contains("libccid"))
    }

    @Test func anyRuleGrantingTheVendorCounts() {
        let scdaemonRules = HostFacts(udevRules: [
            "/lib/udev/rules.d/60-scdaemon.rules":
                #"ATTR{idVendor}=="1050", ATTR{idProduct}=="0407", ENV{ID_SMARTCARD_READER}="1", TAG+="uaccess""#
        ])
        #expect(scdaemonRules.ruleCovering(vendorId: "1050", productId: "0407") == "/lib/udev/rules.d/60-scdaemon.rules")
        #expect(scdaemonRules.ruleCovering(vendorId: "20a0", productId: "42b2") == nil)
    }

    @Test func noUSBIsInformationNotAnError() {
        let unavailable = Diagnosis.usbFindings(
            .unavailable(.usbUnavailable("libusb cannot start")), readers: [], host: healthyHost, table: table)
        #expect(unavailable.map(\.id) == ["usb.unavailable"])
        #expect(unavailable[0].severity == .info && unavailable[0].summary.contains("no USB access"))
        let empty = Diagnosis.usbFindings(.devices([]), readers: [], host: healthyHost, table: table)
        #expect(empty.map(\.id) == ["usb.noDevices"])
        #expect(empty[0].severity == .info)
    }
}
