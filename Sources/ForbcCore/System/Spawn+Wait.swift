import Foundation

extension Spawn {
    /// Whether `pid` has ended, without reaping it (WNOWAIT): until it is reaped its pid, and so its process
    /// group's id, cannot be given to another process, and signalling the group cannot reach a stranger.
    static func hasExited(_ pid: pid_t) -> Bool {
        while true {
            var info = siginfo_t()
            if waitid(P_PID, id_t(pid), &info, WEXITED | WNOHANG | WNOWAIT) == 0 {
                return info._sifields._sigchld.si_pid != 0
            }
            // ECHILD: not forbc's child any more (reaped elsewhere); `reap` says so.
            if errno != EINTR { return true }
        }
    }

    /// Reaps `pid` (waitpid, again after an interrupting signal): how it ended.
    static func reap(_ pid: pid_t) throws(Failure) -> End {
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 {
            if errno != EINTR { throw .waitFailed(errno) }
        }
        return status & 0x7f == 0 ? .exited((status >> 8) & 0xff) : .signalled(status & 0x7f)
    }

    /// Stops the group `pid` leads (the child, unreaped, and what it started): SIGTERM, and SIGCONT (a group
    /// stopped by SIGSTOP, SIGTTIN or SIGTTOU would keep a handled SIGTERM pending to the end of the grace); then,
    /// once the child has ended and the pipes are at their end or `grace` seconds have passed, SIGKILL, always (a
    /// descendant that ignores SIGTERM would keep the pipes or a device open); then reaps the child. A child still
    /// there `killWait` seconds after SIGKILL (uninterruptible sleep) is left unreaped: `.notEnded`, never a hang.
    /// `hasExited` is a seam for tests (SIGKILL cannot be resisted by a stand-in).
    static func stop(
        _ pid: pid_t, _ readers: inout Readers, grace: Double, killWait: Double = Spawn.killWait,
        hasExited: (pid_t) -> Bool = Spawn.hasExited
    ) throws(Failure) {
        kill(-pid, SIGTERM)
        kill(-pid, SIGCONT)
        let until = DispatchTime.now().uptimeNanoseconds + Deadline.nanoseconds(grace)
        while DispatchTime.now().uptimeNanoseconds < until && !(readers.ended && hasExited(pid)) {
            readers.pump(milliseconds: 10)
        }
        kill(-pid, SIGKILL)
        let killed = DispatchTime.now().uptimeNanoseconds + Deadline.nanoseconds(killWait)
        while !hasExited(pid) {
            guard DispatchTime.now().uptimeNanoseconds < killed else { throw .notEnded(pid) }
            usleep(10_000)
        }
        _ = try? reap(pid)
    }

    /// The parent's ends of a child's output pipes, read as poll(2) finds them ready.
    struct Readers {
        private(set) var fds: [Int32]
        private(set) var data: [Data]
        /// A read failed (not at the end, not interrupted): what was read is not the whole output.
        private(set) var failed = false
        private var buffer = [UInt8](repeating: 0, count: 65536)

        init(_ fds: [Int32]) {
            self.fds = fds
            data = fds.map { _ in Data() }
        }

        /// Every pipe reached its end (or there was none).
        var ended: Bool { fds.allSatisfy { $0 < 0 } }

        /// Waits up to `milliseconds` for output (sleeps that long when no pipe is open) and reads what is ready.
        mutating func pump(milliseconds: Int32) {
            var polled = fds.filter { $0 >= 0 }.map { pollfd(fd: $0, events: Int16(POLLIN), revents: 0) }
            let ready = poll(&polled, nfds_t(polled.count), max(0, milliseconds))
            guard ready > 0 else { return }
            for entry in polled where entry.revents != 0 {
                guard let index = fds.firstIndex(of: entry.fd) else { continue }
                read(index)
            }
        }

        /// One read of pipe `index`: its bytes, or its end.
        private mutating func read(_ index: Int) {
            let fd = fds[index]
            let count = buffer.withUnsafeMutableBytes { Foundation.read(fd, $0.baseAddress, $0.count) }
            if count > 0 {
                data[index].append(contentsOf: buffer[0..<count])
            } else if count == 0 || (errno != EINTR && errno != EAGAIN) {
                if count < 0 { failed = true }
                close(fd)
                fds[index] = -1
            }
        }

        mutating func closeAll() {
            for index in fds.indices where fds[index] >= 0 {
                close(fds[index])
                fds[index] = -1
            }
        }
    }
}
