/// One thing doctor found: a stable id for scripts, a severity, one line for humans and one line to fix it.
public struct Finding: Hashable, Sendable, Codable {
    public enum Severity: String, Hashable, Sendable, Codable, Comparable {
        case ok, info, warning, error

        public static func < (a: Severity, b: Severity) -> Bool { a.rank < b.rank }
        private var rank: Int {
            switch self {
            case .ok: 0;
            case .info: 1;
            case .warning: 2;
            case .error: 3
            }
        }
    }

    /// Stable across releases ("pcscd.notRunning"); the part before the first dot names the area.
    public let id: String
    public let severity: Severity
    public let summary: String
    /// Empty when there is nothing to do.
    public let fix: String

    public init(_ id: String, _ severity: Severity, _ summary: String, fix: String = "") {
        self.id = id
        self.severity = severity
        self.summary = summary
        self.fix = fix
    }

    public var area: String { String(id.prefix { $0 != "." }) }
}

/// The whole diagnosis: healthy unless some finding is an error.
public struct Report: Sendable, Codable {
    public let findings: [Finding]
    public let healthy: Bool

    public init(findings: [Finding]) {
        self.findings = findings
        healthy = !findings.contains { $0.severity == .error }
    }

    public func findings(_ id: String) -> [Finding] { findings.filter { $0.id == id } }
}
