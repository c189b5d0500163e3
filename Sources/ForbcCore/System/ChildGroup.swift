import Foundation

/// Every process forbc starts leads a process group of its own (`Spawn` starts it so). A terminal's Ctrl-C goes to
/// its foreground process group: forbc's children must not get it (a `modprobe`, a GPU reset or an MPS daemon cut
/// short mid-step), forbc decides when they stop. And when forbc stops one (its timeout, a campaign's interrupt),
/// the signal goes to that group, so what the child started (a shell's commands, a workload's workers) stops with
/// it.
public enum ChildGroup {
    /// Sends `signal` to the process group `pid` leads: the child and its descendants (to `pid` alone when the
    /// group is gone).
    public static func signal(_ pid: pid_t, _ signal: Int32) {
        guard pid > 0 else { return }
        if kill(-pid, signal) != 0 { kill(pid, signal) }
    }
}
