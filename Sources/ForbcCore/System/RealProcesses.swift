import Foundation

/// Real processes through `Spawn`: the program is looked up in the `PATH` of the child's environment (forbc's,
/// with the workload's variables over it); each leads a process group of its own: a Ctrl-C at forbc's terminal
/// does not reach it, and its timeout stops it and what it started.
public struct RealProcesses: ProcessChannel {
    /// Seconds between SIGTERM and SIGKILL at a timeout.
    public static let grace = 5.0

    public init() {}

    public func run(_ arguments: [String], environment: [String: String], log: URL, timeout: Double) -> ProcessExit {
        try? FileManager.default.createDirectory(at: log.deletingLastPathComponent(), withIntermediateDirectories: true)
        let fd = open(log.path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o644)
        guard fd >= 0 else {
            return .notStarted("cannot write its log \(log.path): \(String(cString: strerror(errno)))")
        }
        defer { close(fd) }
        let name = arguments.first ?? ""
        let merged = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        let path = merged["PATH"] ?? "/usr/bin:/bin"
        guard !name.isEmpty, let executable = Spawn.lookUp(name, path: path) else {
            return .notStarted("could not start '\(name)': no such program in PATH \(path)")
        }
        let request = Spawn.Request(
            executable: executable, arguments: Array(arguments.dropFirst()), environment: merged,
            output: .descriptor(fd), timeout: timeout, grace: Self.grace)
        let end: Spawn.End
        do {
            end = try Spawn.run(request).end
        } catch .timedOut {
            return .timedOut
        } catch .notStarted(let reason, _) {
            return .notStarted("could not start '\(name)': \(reason)")
        } catch .waitFailed(let code) {
            return .notStarted("the exit status of '\(name)' could not be read: \(String(cString: strerror(code)))")
        } catch {
            // `.outputNotEnded` cannot come: the output goes to the log, not to pipes.
            return .notStarted("'\(name)': \(error)")
        }
        switch end {
        case .exited(let code): return .exited(code)
        case .signalled(let signal): return .signalled(signal)
        }
    }
}
