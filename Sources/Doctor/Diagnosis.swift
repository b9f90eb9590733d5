import OpenPGPCard
import PCSC
import TokenHub

/// Turns probes into findings. Pure: every input is a plain value, so each rule has a unit test.
public enum Diagnosis {
    public static let installRulesFix =
        "sudo cp udev/70-paratii-tokens.rules /etc/udev/rules.d/ && sudo udevadm control --reload-rules && sudo udevadm trigger"
    static let scdaemonFix = "add disable-ccid to ~/.gnupg/scdaemon.conf, then gpgconf --kill scdaemon"
    public static let setSignaturePINOnceFix = "paratii card set-signature-pin once (asks the admin PIN; `paratii card init` sets it too)"
    static let ccidFix = "install the CCID driver: sudo apt install libccid (Fedora: pcsc-lite-ccid, Arch: ccid), then restart pcscd"

    public static func findings(pcsc: PCSCProbe, usb: USBProbe, host: HostFacts, table: TokenTable) -> [Finding] {
        var out = pcscFindings(pcsc)
        if case .readers(let readers) = pcsc {
            for reader in readers { if let card = reader.card { out += cardFindings(reader: reader.name, card) } }
        }
        let readerNames: [String]? = if case .readers(let r) = pcsc { r.map(\.name) } else { nil }
        out += usbFindings(usb, readers: readerNames, host: host, table: table)
        out += hostFindings(host, table: table, usb: usb)
        return out
    }

    // MARK: PC/SC

    public static func pcscFindings(_ probe: PCSCProbe) -> [Finding] {
        switch probe {
        case .unreachable(.noService):
            return [
                Finding(
                    "pcscd.notRunning", .error, "pcscd is not running",
                    fix: "sudo systemctl start pcscd.socket (or scripts/pcscd-up)")
            ]
        case .unreachable(let error):
            return [Finding("pcscd.error", .error, "pcscd: \(error)", fix: "sudo systemctl restart pcscd")]
        case .readers(let readers):
            var out = [Finding("pcscd.reachable", .ok, "pcscd is running: \(readers.count) reader\(readers.count == 1 ? "" : "s")")]
            if readers.isEmpty {
                out.append(
                    Finding(
                        "pcscd.noReaders", .warning, "pcscd lists no readers",
                        fix: "plug the token in; the USB findings say why pcscd does not see it"))
            }
            for reader in readers {
                out.append(Finding("pcscd.reader", .info, "reader '\(reader.name)': \(reader.card == nil ? "empty" : "card present")"))
            }
            return out
        }
    }

    // MARK: Cards

    public static func cardFindings(reader: String, _ probe: CardProbe) -> [Finding] {
        switch probe {
        case .skipped:
            return []
        case .unreadable(let why, let held):
            return [
                Finding(
                    "card.unreadable", .warning, "card in '\(reader)' cannot be read: \(why)",
                    fix: held
                        ? "another application holds it exclusively: gpgconf --kill scdaemon, or add pcsc-shared to ~/.gnupg/scdaemon.conf"
                        : "re-insert the card or token")
            ]
        case .notOpenPGP:
            return [
                Finding(
                    "card.notOpenPGP", .info, "card in '\(reader)' has no OpenPGP application (not usable by paratii)",
                    fix: "use an OpenPGP card or token (see udev/known-tokens.json)")
            ]
        case .openPGP(let card):
            var out = [
                Finding("card.openpgp", .ok, "'\(reader)': OpenPGP \(card.version) card, \(card.manufacturer) serial \(card.serial)")
            ]
            if card.signatureAlgorithm?.isSecp256k1 == true {
                out.append(Finding("card.algorithm", .ok, "'\(reader)': signature slot is ECDSA secp256k1"))
            } else {
                let name = card.signatureAlgorithm?.name ?? "not reported"
                out.append(
                    Finding(
                        "card.algorithm", .warning, "'\(reader)': signature slot is \(name), not secp256k1",
                        fix: "paratii card init (sets secp256k1 and generates the master key; fails if the card cannot)"))
            }
            if let address = card.address {
                out.append(Finding("card.key", .ok, "'\(reader)': master key present, address \(address)"))
            } else {
                out.append(Finding("card.key", .warning, "'\(reader)': no key in the signature slot", fix: "paratii card init"))
            }
            out.append(pinFinding(reader: reader, user: card.userPINTries, admin: card.adminPINTries))
            if card.signaturePINPolicy == .several {
                out.append(
                    Finding(
                        "card.signaturePINSeveral", .error,
                        "'\(reader)': the PIN stays valid for several signatures: after one signature any other program using the card can sign without the PIN (paratii refuses to sign with it)",
                        fix: setSignaturePINOnceFix))
            }
            if card.adminPINTries == 0 {
                out.append(
                    Finding(
                        "card.adminPinBlocked", .error, "'\(reader)': admin PIN blocked",
                        fix: "paratii card reset (factory reset: the master key is lost)"))
            }
            return out
        }
    }

    static func pinFinding(reader: String, user: Int, admin: Int) -> Finding {
        let tries = "PIN tries: user \(user), admin \(admin)"
        switch user {
        case 0: return Finding("card.pinBlocked", .error, "'\(reader)': PIN blocked (\(tries))", fix: "paratii card unblock")
        case 1:
            return Finding(
                "card.pinLastTry", .warning, "'\(reader)': one user PIN try left (\(tries))",
                fix: "be sure of the PIN before signing, or reset the counter with paratii card unblock")
        default: return Finding("card.pin", .ok, "'\(reader)': \(tries)")
        }
    }

    // MARK: USB

    /// `readers` is nil when pcscd is unreachable (then nothing can be matched against it).
    public static func usbFindings(_ probe: USBProbe, readers: [String]?, host: HostFacts, table: TokenTable) -> [Finding] {
        let devices: [USBDeviceDescriptor]
        switch probe {
        case .unavailable(let error):
            return [
                Finding(
                    "usb.unavailable", .info, "\(error); USB tokens cannot be diagnosed here",
                    fix: "run doctor on the host, or pass the bus into the container (--device /dev/bus/usb)")
            ]
        case .devices(let list):
            devices = list
        }
        if devices.isEmpty {
            return [
                Finding(
                    "usb.noDevices", .info, "no USB access: libusb sees no devices (container without /dev/bus/usb?)",
                    fix: "run doctor on the host, or pass the bus into the container (--device /dev/bus/usb)")
            ]
        }
        let matches = table.matches(devices)
        if matches.isEmpty {
            return [
                Finding(
                    "usb.noKnownTokens", .info, "no known token on USB (\(devices.count) other devices)",
                    fix: "plug the token in; if it is an OpenPGP token not in udev/known-tokens.json, add it there")
            ]
        }
        return matches.flatMap { tokenFindings($0, readers: readers, host: host) }
    }

    public static func tokenFindings(_ match: TokenMatch, readers: [String]?, host: HostFacts) -> [Finding] {
        let token = match.token, device = match.device
        let what = "\(token.name) (\(device.id), bus \(device.bus) device \(device.address))"
        var out: [Finding] = []
        if token.interface == .hidOnly {
            let fix =
                device.vendorId == 0x1050
                ? "ykman config usb --enable OPENPGP (YubiKey 5) or ykman config mode OTP+FIDO+CCID (older keys), then re-plug"
                : "enable the token's CCID interface with its vendor tool, then re-plug"
            out.append(
                Finding("usb.hidOnly", .warning, "\(what): its OpenPGP (CCID) interface is disabled, so pcscd cannot see it", fix: fix))
        }
        let since = token.secp256k1.sinceFirmware.map { " from firmware \($0)" } ?? ""
        if !token.secp256k1.supported {
            out.append(
                Finding(
                    "usb.noSecp256k1", .warning, "\(what): this model cannot hold a secp256k1 key",
                    fix:
                        "use a token with secp256k1 (YubiKey 5 from 5.2.3, Nitrokey 3 from 1.8.2, Nitrokey Start): see udev/known-tokens.json"
                ))
        } else if match.secp256k1Capable == false, let hint = match.firmwareHint {
            out.append(
                Finding(
                    "usb.firmwareTooOld", .warning, "\(what): OpenPGP, but no secp256k1: firmware \(hint) reported, secp256k1\(since)",
                    fix: "use a token whose firmware has secp256k1 (see udev/known-tokens.json)"))
        }
        guard token.openpgp, let readers else { return out + [Finding("usb.token", .info, "\(what) on USB")] }
        if let reader = readers.first(where: match.matchesReader) {
            out.append(Finding("usb.token", .ok, "\(what) on USB, seen by pcscd as '\(reader)'"))
            // pcscd has it; only vendor tools and GnuPG's own CCID driver need the node itself.
            if device.openError == "access denied" || !host.canOpen(device.devicePath) {
                out.append(
                    Finding(
                        "usb.noAccess", .info,
                        "this user cannot open \(device.devicePath) (ykman, nitropy and gpg's CCID driver need it; paratii does not)",
                        fix: "install the udev rules (\(installRulesFix)), or sudo usermod -aG plugdev $USER and log in again"))
            }
            return out
        }
        let causes = unseenCauses(match, host: host)
        let fix = causes.first?.fix ?? "re-plug the token, or restart pcscd (sudo systemctl restart pcscd)"
        let likely = causes.isEmpty ? "cause unknown" : "likely: " + causes.map(\.cause).joined(separator: "; ")
        out.append(Finding("usb.notInPCSC", .error, "\(what) is on USB but pcscd has no reader for it (\(likely))", fix: fix))
        return out
    }

    /// Why pcscd might not see a token that is on the bus, most likely first.
    static func unseenCauses(_ match: TokenMatch, host: HostFacts) -> [(cause: String, fix: String)] {
        var causes: [(String, String)] = []
        let device = match.device
        if host.ruleCovering(vendorId: match.token.vendorId, productId: TokenTable.hex4(device.productId)) == nil {
            causes.append(("no udev rule grants access to it", installRulesFix))
        }
        if device.openError == "access denied" || !host.canOpen(device.devicePath) {
            causes.append(
                (
                    "this user cannot open \(device.devicePath)",
                    "install the udev rules (\(installRulesFix)), or sudo usermod -aG plugdev $USER and log in again"
                ))
        }
        if host.scdaemonRunning && !host.scdaemonDisablesCCID {
            causes.append(("scdaemon is running and may hold the device", scdaemonFix))
        }
        if host.ccidDriver == nil {
            causes.append(("pcscd's CCID driver is not installed", ccidFix))
        }
        return causes
    }

    // MARK: Host

    public static func hostFindings(_ host: HostFacts, table: TokenTable, usb: USBProbe) -> [Finding] {
        var out: [Finding] = []
        let tokensOnUSB: Bool = if case .devices(let d) = usb { !table.matches(d).filter { $0.token.openpgp }.isEmpty } else { false }
        if let driver = host.ccidDriver {
            out.append(Finding("pcscd.ccidDriver", .ok, "CCID driver installed (\(driver))"))
        } else {
            out.append(
                Finding(
                    "pcscd.ccidDriver", tokensOnUSB ? .error : .warning,
                    "pcscd's CCID driver (libccid) is not installed: USB tokens stay invisible", fix: ccidFix))
        }
        if let rules = host.installedRules {
            let missing = table.tokens.filter(\.openpgp).flatMap { t in t.productIds.map { (t.vendorId, $0) } }
                .filter { !rules.text.contains("ATTR{idVendor}==\"\($0.0)\", ATTR{idProduct}==\"\($0.1)\"") }
            if missing.isEmpty {
                out.append(Finding("udev.rules", .ok, "project udev rules installed (\(rules.path))"))
            } else {
                out.append(
                    Finding(
                        "udev.rulesStale", .warning,
                        "\(rules.path) lacks \(missing.count) known token id\(missing.count == 1 ? "" : "s") (\(missing.map { "\($0.0):\($0.1)" }.joined(separator: ", ")))",
                        fix: installRulesFix))
            }
        } else {
            out.append(
                Finding(
                    "udev.rulesMissing", tokensOnUSB ? .warning : .info,
                    "project udev rules (\(HostFacts.rulesFileName)) are not installed", fix: installRulesFix))
        }
        if host.scdaemonRunning {
            out.append(
                host.scdaemonDisablesCCID
                    ? Finding("gnupg.scdaemon", .ok, "scdaemon is running with disable-ccid (it shares pcscd)")
                    : Finding(
                        "gnupg.scdaemon", .warning, "scdaemon is running with its own CCID driver: it can take USB tokens away from pcscd",
                        fix: scdaemonFix))
        }
        return out
    }
}
