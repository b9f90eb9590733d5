import Ethereum
import Foundation
import OpenPGPCard
import PCSC

/// Runs every probe against the real system and diagnoses the result. Probes never throw: whatever
/// fails (no pcscd, no USB bus, an unreadable card) becomes a finding.
public struct Doctor: Sendable {
    public let usb: (any USBEnumerator)?
    public let host: @Sendable () -> HostFacts
    /// Which readers' cards to examine (all by default); other readers are only listed.
    public let examine: @Sendable (String) -> Bool

    /// `usb` nil means libusb, opening known tokens only.
    public init(usb: (any USBEnumerator)? = nil, host: @escaping @Sendable () -> HostFacts = { HostFacts.gather() },
                examine: @escaping @Sendable (String) -> Bool = { _ in true }) {
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
        findings += Diagnosis.findings(pcsc: Self.probePCSC(examine: examine), usb: usbProbe, host: host(), table: table)
        return Report(findings: findings)
    }

    public static func probePCSC(examine: (String) -> Bool = { _ in true }) -> PCSCProbe {
        let context: PCSCContext
        let states: [ReaderState]
        do {
            context = try PCSCContext()
            states = try context.readerStates()
        } catch {
            return .unreachable(error)
        }
        return .readers(states.map { state in
            guard state.cardPresent else { return ReaderProbe(name: state.name, card: nil) }
            return ReaderProbe(name: state.name, card: examine(state.name) ? probeCard(context, reader: state.name) : .skipped)
        })
    }

    /// Reads without a PIN: application data, PW status, the signature key.
    public static func probeCard(_ context: PCSCContext, reader: String) -> CardProbe {
        do {
            let channel = try context.connect(reader: reader)
            defer { channel.disconnect() }
            let card = OpenPGPCard(channel: channel)
            let app = try card.applicationData()
            let pins = try card.pinStatus()
            let key = try card.publicKey()
            return .openPGP(CardFacts(version: app.aid.version, manufacturer: app.aid.manufacturerName, serial: app.aid.serialHex,
                                      signatureAlgorithm: app.signatureAlgorithm, address: key.map { $0.address.checksummed },
                                      userPINTries: pins.pw1TriesLeft, adminPINTries: pins.pw3TriesLeft, signaturePINPolicy: pins.signaturePINPolicy))
        } catch OpenPGPCardError.notOpenPGP {
            return .notOpenPGP
        } catch let error as PCSCError {
            return .unreadable(error.description, held: error == .sharingViolation)
        } catch {
            return .unreadable("\(error)", held: false)
        }
    }
}
