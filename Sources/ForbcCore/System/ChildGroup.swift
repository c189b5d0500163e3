import Foundation

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#endif

/// Every process forbc starts leads a process group of its own. A terminal's Ctrl-C goes to its foreground
/// process group: forbc's children must not get it (a `modprobe`, a GPU reset or an MPS daemon cut short
/// mid-step), forbc decides when they stop. And when forbc stops one (its timeout, a campaign's interrupt), the
/// signal goes to that group, so what the child started (a shell's commands, a workload's workers) stops with it.
/// Foundation's `Process` makes its child a group leader on Linux (POSIX_SPAWN_SETPGROUP; RealProcessesTests
/// checks it); forbc's own posix_spawn calls take `withSpawnAttributes`.
public enum ChildGroup {
    /// Sends `signal` to the process group `pid` leads: the child and its descendants (to `pid` alone when the
    /// group is gone).
    public static func signal(_ pid: pid_t, _ signal: Int32) {
        guard pid > 0 else { return }
        if kill(-pid, signal) != 0 { kill(pid, signal) }
    }

    /// posix_spawn attributes for a child of forbc: a process group of its own, no signal blocked (threads that
    /// Dispatch starts block most, and a child inherits its thread's mask), SIGINT, SIGTERM, SIGHUP and SIGPIPE at
    /// their default action.
    static func withSpawnAttributes<T>(_ body: (UnsafePointer<posix_spawnattr_t>) throws -> T) rethrows -> T {
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        posix_spawnattr_setpgroup(&attributes, 0)
        var none = sigset_t()
        sigemptyset(&none)
        posix_spawnattr_setsigmask(&attributes, &none)
        var defaults = sigset_t()
        sigemptyset(&defaults)
        for number in [SIGINT, SIGTERM, SIGHUP, SIGPIPE] { sigaddset(&defaults, number) }
        posix_spawnattr_setsigdefault(&attributes, &defaults)
        posix_spawnattr_setflags(
            &attributes, Int16(POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))
        return try body(&attributes)
    }
}
