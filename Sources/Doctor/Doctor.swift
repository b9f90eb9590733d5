import Ethereum
import Foundation
import OpenPGPCard
import PCSC
import TokenHub

/// Runs every probe against the real system and diagnoses the result. Probes never throw: whatever
/// fails (no pcscd, no USB bus, an unreadable card) becomes a finding.
public struct Doctor: Sendable {
    public let usb: (any USBEnumerator)?
    public let host: @Sendable () -> HostFacts
    /// Which readers' cards to examine (all by default); other readers are only listed.
    public let examine: @Sendable (String) -> Bool

    /// `usb` nil means libusb, opening known tokens only.
    public init(
        usb: (any USBEnumerator)? = nil, host: @escaping @Sendable () -> HostFacts = { HostFacts.gather() },
        examine: @escaping @Sendable (String) -> Bool = { _ in true }
    ) {
        self.usb = usb
        self.host = host
        self.examine = examine
    }

    public func run() -> Report {
        var findings: [Finding] = []
        let table: TokenTable
        do { table = try TokenTable.bundled() } catch {
            findings.append(Finding("doctor.tokenTable", .error, "\(error)", fix: "reinstall paratii with its resource bundle"))
            table = TokenTable(tokens: [])
        }
        let enumerator = usb ?? LibUSBEnumerator(openIf: { table.token(vendorId: $0, productId: $1) != nil })
        let usbProbe: USBProbe
        do { usbProbe = .devices(try enumerator.devices()) } catch { usbProbe = .unavailable(error) }
        findings += Diagnosis.findings(pcsc: TokenHub.readers(examine: examine), usb: usbProbe, host: host(), table: table)
        return Report(findings: findings)
    }
}
