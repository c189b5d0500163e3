import Foundation

/// Real processes through `Spawn`: the program is looked up in the `PATH` of the child's environment (forbc's,
/// with the workload's variables over it; a name with a slash is taken as it is), and a file without a `#!` line
/// is run by /bin/sh. Each leads a process group of its own: a Ctrl-C at forbc's terminal does not reach it, its
/// timeout stops it and what it started, and when it exits, what it left running in its group is killed.
public struct RealProcesses: ProcessChannel {
    /// Seconds between SIGTERM and SIGKILL at a timeout.
    public static let grace = 5.0

    public init() {}

    public func run(_ arguments: [String], environment: [String: String], log: URL, timeout: Double) -> ProcessExit {
        try? FileManager.default.createDirectory(at: log.deletingLastPathComponent(), withIntermediateDirectories: true)
        // Without blocking (a FIFO planted there is refused, not waited on), and a regular file only.
        let fd = open(log.path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK, 0o644)
        guard fd >= 0 else {
            return .notStarted("cannot write its log \(log.path): \(String(cString: strerror(errno)))")
        }
        defer { close(fd) }
        var status = stat()
        guard fstat(fd, &status) == 0, status.st_mode & S_IFMT == S_IFREG else {
            return .notStarted("cannot write its log \(log.path): it is not a regular file")
        }
        let name = arguments.first ?? ""
        let merged = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        let path = merged["PATH"] ?? "/usr/bin:/bin"
        // A name with a slash is tried as it is, and fails with its own errno (as execvp does).
        guard !name.isEmpty, let executable = name.contains("/") ? name : Spawn.lookUp(name, path: path) else {
            return .notStarted("could not start '\(name)': no such program in PATH \(path)")
        }
        var request = Spawn.Request(
            executable: executable, arguments: Array(arguments.dropFirst()), environment: merged,
            output: .descriptor(fd), timeout: timeout, grace: Self.grace)
        request.endGroupAtExit = true
        let end: Spawn.End
        do {
            end = try Self.spawn(request)
        } catch .timedOut {
            return .timedOut
        } catch .notStarted(let reason, _) {
            return .notStarted("could not start '\(name)': \(reason)")
        } catch .waitFailed(let code) {
            return .notStarted("the exit status of '\(name)' could not be read: \(String(cString: strerror(code)))")
        } catch .notEnded(let pid) {
            return .notStarted("'\(name)' timed out after \(timeout) s, and \(Spawn.Failure.notEndedWords(pid))")
        } catch {
            // `.outputNotEnded` cannot come: the output goes to the log, not to pipes.
            return .notStarted("'\(name)': \(error)")
        }
        switch end {
        case .exited(let code): return .exited(code)
        case .signalled(let signal): return .signalled(signal)
        }
    }

    /// Runs `request`; a file that exec refuses as no known format (ENOEXEC: a script without a `#!` line) is run
    /// again by /bin/sh, as execvp and the shells do.
    static func spawn(_ request: Spawn.Request) throws(Spawn.Failure) -> Spawn.End {
        do {
            return try Spawn.run(request).end
        } catch .notStarted(_, let code) where code == ENOEXEC {
            var shell = request
            shell.executable = "/bin/sh"
            shell.arguments = [request.executable] + request.arguments
            return try Spawn.run(shell).end
        }
    }
}
