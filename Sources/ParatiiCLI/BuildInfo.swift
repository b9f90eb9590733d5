// What `paratii --version` prints. This committed copy is the default of a plain `swift build`;
// scripts/buildinfo writes the version (from VERSION) and the commit here before a package or install
// build, and puts this default back afterwards.
enum BuildInfo {
    static let version = "unknown"
    static let commit = "unknown commit"
}
