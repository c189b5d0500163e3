import Foundation

/// The seam between forbc and the processes it starts (benchmark workloads). A command is an argument vector,
/// never a shell string. The real side is `RealProcesses`; `ForbcSimulator`'s `ScriptedProcesses` answers from
/// a script and can fail on demand.
public protocol ProcessChannel: Sendable {
    /// Runs `arguments` (the first is looked up in `PATH` unless it holds a slash) with `environment` over forbc's
    /// own, standard output and error appended to `log`, standard input empty; after `timeout` seconds it is stopped
    /// (SIGTERM to its process group, then SIGKILL 5 s later).
    func run(_ arguments: [String], environment: [String: String], log: URL, timeout: Double) -> ProcessExit
}

/// How a process ended.
public enum ProcessExit: Sendable, Equatable {
    case exited(Int32)
    case signalled(Int32)
    case timedOut
    /// It never ran: the reason (no such program, an unwritable log).
    case notStarted(String)
}
