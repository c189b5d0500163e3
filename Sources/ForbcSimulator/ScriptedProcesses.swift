import ForbcCore
import Foundation
import Synchronization

/// The simulated side of the process seam: each run is answered by a script keyed on the program's name (what
/// it prints into the log and how it ends) instead of starting anything, and every call is recorded. It stands
/// in where a real process cannot be had or must fail on demand (a signal, a hang, a program that is missing).
public final class ScriptedProcesses: ProcessChannel, Sendable {
    /// What one scripted program does.
    public struct Script: Sendable {
        public var output: String
        public var exit: ProcessExit

        public init(output: String = "", exit: ProcessExit = .exited(0)) {
            self.output = output
            self.exit = exit
        }
    }

    /// One call, as the runner made it.
    public struct Call: Sendable, Equatable {
        public var arguments: [String]
        public var environment: [String: String]
        public var timeout: Double
    }

    private let scripts: [String: Script]
    private let recorded = Mutex<[Call]>([])

    /// Programs not in `scripts` are not found, as `env` would say.
    public init(_ scripts: [String: Script]) { self.scripts = scripts }

    public var calls: [Call] { recorded.withLock { $0 } }

    public func run(_ arguments: [String], environment: [String: String], log: URL, timeout: Double) -> ProcessExit {
        recorded.withLock { $0.append(Call(arguments: arguments, environment: environment, timeout: timeout)) }
        let program = arguments.first ?? ""
        guard let script = scripts[program] else {
            return .notStarted("could not start '\(program)': no such program in the script")
        }
        do {
            let handle = try FileHandle(forWritingTo: log)
            defer { try? handle.close() }
            _ = try handle.seekToEnd()
            try handle.write(contentsOf: Data(script.output.utf8))
        } catch {
            return .notStarted("cannot write its log \(log.path)")
        }
        return script.exit
    }
}
