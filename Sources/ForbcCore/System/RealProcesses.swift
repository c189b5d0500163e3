import Foundation

/// Real processes through Foundation's `Process`, started by `/usr/bin/env` so the program is found in `PATH`;
/// each leads a process group of its own (`ChildGroup`): a Ctrl-C at forbc's terminal does not reach it, and its
/// timeout stops it and what it started.
public struct RealProcesses: ProcessChannel {
    public init() {}

    public func run(_ arguments: [String], environment: [String: String], log: URL, timeout: Double) -> ProcessExit {
        try? FileManager.default.createDirectory(at: log.deletingLastPathComponent(), withIntermediateDirectories: true)
        if !FileManager.default.fileExists(atPath: log.path) {
            FileManager.default.createFile(atPath: log.path, contents: nil)
        }
        guard let handle = try? FileHandle(forWritingTo: log) else {
            return .notStarted("cannot write its log \(log.path)")
        }
        defer { try? handle.close() }
        _ = try? handle.seekToEnd()
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = arguments
        process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        process.standardOutput = handle
        process.standardError = handle
        process.standardInput = FileHandle.nullDevice
        let finished = DispatchSemaphore(value: 0)
        process.terminationHandler = { _ in finished.signal() }
        do {
            try Self.withNoSignalsBlocked { try process.run() }
        } catch {
            return .notStarted("could not start '\(arguments.first ?? "")': \(error.localizedDescription)")
        }
        if finished.wait(timeout: .now() + timeout) == .timedOut {
            // The child's group: what it started (a shell's commands, a workload's workers) stops with it.
            ChildGroup.signal(process.processIdentifier, SIGTERM)
            if finished.wait(timeout: .now() + 5) == .timedOut {
                ChildGroup.signal(process.processIdentifier, SIGKILL)
                finished.wait()
            }
            return .timedOut
        }
        return process.terminationReason == .exit
            ? .exited(process.terminationStatus) : .signalled(process.terminationStatus)
    }

    /// Runs `body` (which starts a process) with no signal blocked in this thread: a child inherits its parent
    /// thread's mask, and threads that Dispatch or the runner start block most signals, SIGTERM included, so a
    /// workload started from one could not be terminated at its timeout (nor stop its own children).
    static func withNoSignalsBlocked<T>(_ body: () throws -> T) rethrows -> T {
        var none = sigset_t()
        var saved = sigset_t()
        sigemptyset(&none)
        pthread_sigmask(SIG_SETMASK, &none, &saved)
        defer { pthread_sigmask(SIG_SETMASK, &saved, nil) }
        return try body()
    }
}
