import ForbcTestSupport
import Foundation

/// The built `forbc` executable, run as a separate process (for what only a real process shows: the
/// environment, signals, two commands at once).
struct ForbcBinary {
    struct Outcome {
        var code: Int32
        /// True when the process was ended by a signal (`code` is then the signal).
        var signalled: Bool
        var stdout: String
        var stderr: String
    }

    static let path: String = {
        let beside = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
            .appendingPathComponent("forbc").path
        return FileManager.default.fileExists(atPath: beside)
            ? beside : RepositoryPaths.root.appendingPathComponent(".build/debug/forbc").path
    }()

    /// Starts forbc (or `program`: forbc behind a shell, `unshare`, `timeout`…) with `arguments`, `environment`
    /// added to this process's; `wait` it for the outcome.
    static func start(
        _ arguments: [String], environment: [String: String] = [:], program: String = path
    ) throws -> Running {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: program)
        process.arguments = arguments
        let output = Pipe()
        let errors = Pipe()
        process.standardOutput = output
        process.standardError = errors
        process.standardInput = FileHandle.nullDevice
        // No test changes this process's environment (ProcessEnvironmentTests checks it), so reading it here
        // while other suites' threads spawn needs no lock.
        process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        try process.run()
        return Running(process: process, output: output, errors: errors)
    }

    /// Runs forbc to its end.
    static func run(_ arguments: [String], environment: [String: String] = [:]) throws -> Outcome {
        try start(arguments, environment: environment).wait()
    }

    final class Running: @unchecked Sendable {
        let process: Process
        let output: Pipe
        let errors: Pipe

        init(process: Process, output: Pipe, errors: Pipe) {
            self.process = process
            self.output = output
            self.errors = errors
        }

        func wait() -> Outcome {
            // Read both pipes to their ends concurrently, so a full pipe never blocks the child.
            nonisolated(unsafe) var out = Data()
            let group = DispatchGroup()
            DispatchQueue.global().async(group: group) { out = self.output.fileHandleForReading.readDataToEndOfFile() }
            let err = errors.fileHandleForReading.readDataToEndOfFile()
            group.wait()
            process.waitUntilExit()
            return Outcome(
                code: process.terminationStatus, signalled: process.terminationReason == .uncaughtSignal,
                stdout: String(decoding: out, as: UTF8.self), stderr: String(decoding: err, as: UTF8.self))
        }
    }
}
