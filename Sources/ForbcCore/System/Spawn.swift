import Foundation

/// How forbc starts and waits for every program it runs (git, workloads, MPS control, nvidia-smi): posix_spawn,
/// then poll(2) on the child's pipes and waitid(2)/waitpid(2) on the calling thread, with the deadline enforced
/// in that same loop. Not through Foundation's `Process`: Foundation learns that a child ended through
/// CoreFoundation's socket manager, whose wake-up pair is two UDP sockets on 127.0.0.1; where the loopback
/// interface is down (the kernel lab's guest, a network namespace of its own) it cannot be made, no exit after the
/// first is ever noticed, and forbc waited for its deadlines. Nor through Dispatch's worker threads: on a 1-vCPU
/// guest they ran one after the other, and a child that filled one pipe while nobody read it stalled.
///
/// Each child leads a process group of its own (or a session, `ownSession`): a Ctrl-C at forbc's terminal does
/// not reach it, and at its deadline the whole group is sent SIGTERM (and SIGCONT), then SIGKILL after `grace`
/// seconds; a child that has not ended `killWait` seconds after SIGKILL is given up, unreaped, as `.notEnded`.
public enum Spawn {
    /// One program to run.
    struct Request {
        /// The program's path (see `lookUp` for a name found in `PATH`).
        var executable: String
        /// argv[1...].
        var arguments: [String]
        /// The whole environment of the child.
        var environment: [String: String]
        /// Standard input: nil is /dev/null; bytes are written to a pipe (at most `maximumInput` of them).
        var input: Data? = nil
        /// Where standard output and error go.
        var output: Output = .capture
        /// Seconds the run may take, its output included.
        var timeout: Double
        /// Seconds between SIGTERM and SIGKILL at the deadline, and that output may stay open after the exit.
        var grace: Double = 2
        /// A session of its own rather than a process group: no controlling terminal, so nothing it starts
        /// (ssh asking for a passphrase or a host key) can read the terminal or be stopped by SIGTTIN.
        var ownSession = false
        /// Once the child has exited, SIGKILL what is left of its group before reaping it (while the child is
        /// unreaped its pid, the group's id, is nobody else's): a workload's background processes, which may hold
        /// GPU contexts, end with it rather than live on into the next topology.
        var endGroupAtExit = false
    }

    enum Output {
        /// Two pipes, read to their ends into `Result.stdout` and `Result.stderr`.
        case capture
        /// Both onto this open descriptor (a log file), which stays the caller's.
        case descriptor(Int32)
    }

    /// How the child ended.
    enum End: Sendable, Equatable, CustomStringConvertible {
        case exited(Int32)
        case signalled(Int32)

        var description: String {
            switch self {
            case .exited(let code): "exit status \(code)"
            case .signalled(let signal): "ended by signal \(signal)"
            }
        }

        /// The shell's number: the exit status, or 128 + the signal.
        var status: Int32 {
            switch self {
            case .exited(let code): code
            case .signalled(let signal): 128 + signal
            }
        }
    }

    struct Result {
        var end: End
        var stdout = Data()
        var stderr = Data()
    }

    /// Why a run gave no result. The caller words it, naming what it ran.
    enum Failure: Error, Equatable {
        /// The program was not started: the reason, and the errno when there is one.
        case notStarted(String, errno: Int32?)
        /// The deadline passed; the child's group was stopped.
        case timedOut
        /// The child ended but its output did not (a process it started kept a pipe open past `grace`): what was
        /// read is not the whole answer. The child's group was stopped.
        case outputNotEnded
        /// The child's exit status could not be read (waitpid's errno: ECHILD when SIGCHLD is ignored).
        case waitFailed(Int32)
        /// The deadline (or `outputNotEnded`) stopped the child, and it had not ended `killWait` seconds after
        /// SIGKILL (uninterruptible sleep: a GPU reset hung in the driver): its pid. It is left unreaped.
        case notEnded(pid_t)

        /// `.notEnded(pid)` in words, after the program's name.
        static func notEndedWords(_ pid: pid_t) -> String {
            "(pid \(pid)) was stopped but did not end within \(Int(Spawn.killWait)) s of SIGKILL: it is probably in "
                + "uninterruptible sleep (state D, such as a GPU reset hung in the driver); it was left unreaped"
        }
    }

    /// Seconds to wait for a child's exit after SIGKILL before giving it up as `.notEnded`.
    static let killWait = 5.0

    /// The most bytes `Request.input` may hold: written before the child starts, they must fit the pipe at once.
    static let maximumInput = 4096

    /// Runs `request` to its end: the child's exit and the end of its output, or the deadline.
    static func run(_ request: Request) throws(Failure) -> Result {
        let child = try start(request)
        var readers = Readers(child.outputs)
        defer { readers.closeAll() }
        let deadline = Deadline(timeout: request.timeout)
        var exitedAt: UInt64?
        var tick: Int32 = 1
        while !(readers.ended && exitedAt != nil) {
            if deadline.expired {
                try stop(child.pid, &readers, grace: request.grace)
                throw .timedOut
            }
            if let exitedAt, deadline.now - exitedAt > Deadline.nanoseconds(request.grace) {
                try stop(child.pid, &readers, grace: request.grace)
                throw .outputNotEnded
            }
            // Ticks grow from 1 ms to 50 ms: the exit usually follows the end of output at once, and a child
            // that writes nothing (a workload into its log) is looked at twenty times a second.
            readers.pump(milliseconds: min(tick, deadline.remainingMilliseconds))
            tick = min(tick * 2, 50)
            if exitedAt == nil && hasExited(child.pid) { exitedAt = deadline.now }
        }
        if request.endGroupAtExit { kill(-child.pid, SIGKILL) }
        let end = try reap(child.pid)
        guard !readers.failed else { throw .outputNotEnded }
        return Result(end: end, stdout: readers.data[0], stderr: readers.data[1])
    }

    /// The path `name` runs in `path` (a `PATH` value; an empty entry is the current directory): `name` itself
    /// when it holds a slash; nil when no directory holds an executable regular file of that name.
    static func lookUp(_ name: String, path: String) -> String? {
        let candidates =
            name.contains("/")
            ? [name]
            : path.split(separator: ":", omittingEmptySubsequences: false).map { "\($0.isEmpty ? "." : $0)/\(name)" }
        return candidates.first { candidate in
            var info = stat()
            return stat(candidate, &info) == 0 && info.st_mode & S_IFMT == S_IFREG && access(candidate, X_OK) == 0
        }
    }

    /// Puts SIGCHLD back to its default where this process inherited it ignored (a disposition that survives
    /// exec: a parent that ran `trap '' CHLD`, some init scripts). Ignored, the kernel reaps each child at once:
    /// no exit status could be read (a failed git would have no status to fail with), and a child's process group
    /// could be signalled after its pid was reused. True when it was ignored. Call once, at startup.
    @discardableResult
    public static func restoreDefaultChildSignal() -> Bool {
        var current = sigaction()
        guard sigaction(SIGCHLD, nil, &current) == 0 else { return false }
        let handler = unsafeBitCast(current.__sigaction_handler.sa_handler, to: Int.self)
        guard handler == unsafeBitCast(SIG_IGN, to: Int.self) else { return false }
        var standard = sigaction()
        standard.__sigaction_handler.sa_handler = SIG_DFL
        sigemptyset(&standard.sa_mask)
        return sigaction(SIGCHLD, &standard, nil) == 0
    }
}

extension Spawn {
    /// Monotonic time since a run began, and its deadline.
    struct Deadline {
        /// When it passes (uptime, in nanoseconds).
        let end: UInt64

        init(timeout: Double) {
            end = DispatchTime.now().uptimeNanoseconds + Self.nanoseconds(timeout)
        }

        /// `seconds` in nanoseconds, from 0 (negative or not a number) to about 31 years.
        static func nanoseconds(_ seconds: Double) -> UInt64 {
            seconds > 0 ? UInt64(min(seconds, 1e9) * 1e9) : 0
        }

        var now: UInt64 { DispatchTime.now().uptimeNanoseconds }
        var expired: Bool { now >= end }
        var remainingMilliseconds: Int32 {
            let left = end > now ? end - now : 0
            return Int32(min(left / 1_000_000 + 1, 60_000))
        }
    }
}
