import Foundation

/// Where state lives: the XDG base directories, read in one place, and path pieces that work for
/// the bare relative names a newcomer types (`--roster roster.sqlite`).
public enum Paths {
    /// `$XDG_DATA_HOME/paratii` (default `~/.local/share/paratii`).
    public static var data: String { base("XDG_DATA_HOME", fallback: home + "/.local/share") + "/paratii" }
    /// `$XDG_CONFIG_HOME/paratii` (default `~/.config/paratii`).
    public static var config: String { base("XDG_CONFIG_HOME", fallback: home + "/.config") + "/paratii" }
    /// `$XDG_RUNTIME_DIR/paratii`, or `/tmp/paratii-UID/paratii` without one; the caller makes both
    /// levels private (`runtimeDirectories`), since anyone may create names in /tmp.
    public static var runtime: String { runtimeDirectories.last! }

    /// The runtime directory and, for the /tmp fallback, its per-user parent: each must be private.
    public static var runtimeDirectories: [String] {
        if let dir = environment("XDG_RUNTIME_DIR"), dir.hasPrefix("/") { return [dir + "/paratii"] }
        let parent = "/tmp/paratii-\(getuid())"
        return [parent, parent + "/paratii"]
    }

    /// The directory part of `path`: "." for a bare file name, "/" for a file at the root.
    public static func directory(of path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return "." }
        return slash == path.startIndex ? "/" : String(path[..<slash])
    }

    /// The last component of `path`.
    public static func basename(of path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return path }
        return String(path[path.index(after: slash)...])
    }

    static var home: String { environment("HOME") ?? NSHomeDirectory() }

    static func base(_ variable: String, fallback: String) -> String {
        // The XDG spec: a relative value is invalid and ignored.
        guard let value = environment(variable), value.hasPrefix("/") else { return fallback }
        return value
    }

    static func environment(_ name: String) -> String? {
        guard let value = ProcessInfo.processInfo.environment[name], !value.isEmpty else { return nil }
        return value
    }
}
