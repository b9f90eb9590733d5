#if canImport(Glibc)
import Glibc
#endif

/// What a process that handles PINs or keys does first.
enum ProcessHardening {
    /// No core file: a crash must not write a PIN or a token to disk. (PR_SET_DUMPABLE would also keep
    /// ptrace away, but prctl is variadic and out of Swift's reach; the limit covers the dump itself.)
    static func disableCoreDumps() {
        var limit = rlimit(rlim_cur: 0, rlim_max: 0)
        _ = setrlimit(__rlimit_resource_t(RLIMIT_CORE.rawValue), &limit)
    }
}
