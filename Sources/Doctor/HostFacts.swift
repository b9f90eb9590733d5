import Foundation
import TokenHub

/// What doctor learns from the host outside PC/SC and USB: udev rules, scdaemon, the CCID driver,
/// device-node permissions. Plain values, so the diagnosis is testable; `gather()` reads the real system.
public struct HostFacts: Sendable {
    /// Contents of every udev rules file found, by path.
    public var udevRules: [String: String]
    /// Whether an scdaemon process is running.
    public var scdaemonRunning: Bool
    /// Whether ~/.gnupg/scdaemon.conf says disable-ccid (scdaemon then goes through pcscd).
    public var scdaemonDisablesCCID: Bool
    /// The CCID driver bundle pcscd loads for USB tokens, nil when none was found.
    public var ccidDriver: String?
    /// Whether this user may read and write a device node.
    public var canOpen: @Sendable (String) -> Bool

    public init(
        udevRules: [String: String] = [:], scdaemonRunning: Bool = false, scdaemonDisablesCCID: Bool = false,
        ccidDriver: String? = "/usr/lib/pcsc/drivers/ifd-ccid.bundle", canOpen: @escaping @Sendable (String) -> Bool = { _ in true }
    ) {
        self.udevRules = udevRules
        self.scdaemonRunning = scdaemonRunning
        self.scdaemonDisablesCCID = scdaemonDisablesCCID
        self.ccidDriver = ccidDriver
        self.canOpen = canOpen
    }

    public static let rulesFileName = "70-paratii-tokens.rules"
    static let rulesDirectories = ["/etc/udev/rules.d", "/run/udev/rules.d", "/lib/udev/rules.d", "/usr/lib/udev/rules.d"]
    static let ccidBundles = [
        "/usr/lib/pcsc/drivers/ifd-ccid.bundle", "/usr/lib64/pcsc/drivers/ifd-ccid.bundle",
        "/usr/local/lib/pcsc/drivers/ifd-ccid.bundle", "/usr/libexec/SmartCardServices/drivers/ifd-ccid.bundle",
    ]

    public static func gather() -> HostFacts {
        let fm = FileManager.default
        var rules: [String: String] = [:]
        for dir in rulesDirectories {
            for name in (try? fm.contentsOfDirectory(atPath: dir)) ?? [] where name.hasSuffix(".rules") {
                let path = dir + "/" + name
                if rules[path] == nil, let text = try? String(contentsOfFile: path, encoding: .utf8) { rules[path] = text }
            }
        }
        return HostFacts(
            udevRules: rules, scdaemonRunning: processRunning("scdaemon"), scdaemonDisablesCCID: scdaemonConfDisablesCCID(),
            ccidDriver: ccidBundles.first { fm.fileExists(atPath: $0) },
            canOpen: { access($0, R_OK | W_OK) == 0 })
    }

    /// The project's rules file, wherever udev reads it from (/etc wins over /lib, as in udev).
    public var installedRules: (path: String, text: String)? {
        for dir in Self.rulesDirectories {
            let path = dir + "/" + Self.rulesFileName
            if let text = udevRules[path] { return (path, text) }
        }
        return nil
    }

    /// A rules file that names this vendor id, or ours: the device then probably gets an ACL or group.
    public func ruleCovering(vendorId: String, productId: String) -> String? {
        if let ours = installedRules, ours.text.contains("ATTR{idVendor}==\"\(vendorId)\", ATTR{idProduct}==\"\(productId)\"") {
            return ours.path
        }
        return udevRules.keys.sorted().first { path in
            let text = udevRules[path]!.lowercased()
            return text.contains("idvendor}==\"\(vendorId)\"")
                && (text.contains("uaccess") || text.contains("mode=") || text.contains("group="))
        }
    }

    static func processRunning(_ name: String) -> Bool {
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
        return entries.contains { pid in
            guard pid.allSatisfy(\.isNumber), let comm = try? String(contentsOfFile: "/proc/\(pid)/comm", encoding: .utf8) else {
                return false
            }
            return comm.trimmingCharacters(in: .whitespacesAndNewlines) == name
        }
    }

    static func scdaemonConfDisablesCCID() -> Bool {
        let env = ProcessInfo.processInfo.environment
        let home = env["GNUPGHOME"] ?? ((env["HOME"] ?? NSHomeDirectory()) + "/.gnupg")
        guard let text = try? String(contentsOfFile: home + "/scdaemon.conf", encoding: .utf8) else { return false }
        return text.split(whereSeparator: \.isNewline).contains { $0.trimmingCharacters(in: .whitespaces) == "disable-ccid" }
    }
}
