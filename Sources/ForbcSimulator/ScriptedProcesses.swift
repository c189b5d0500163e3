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
        /// With forbc's co-tenant release in its arguments: seconds until it says it is ready (after its imports
        /// and warm-ups); nil: it never does (see `rendezvous`).
        public var readyAfter: Double?

        public init(output: String = "", exit: ProcessExit = .exited(0), readyAfter: Double? = 0) {
            self.output = output
            self.exit = exit
            self.readyAfter = readyAfter
        }
    }

    /// One call, as the runner made it.
    public struct Call: Sendable, Equatable {
        public var arguments: [String]
        public var environment: [String: String]
        public var timeout: Double
    }

    private let scripts: [String: Script]
    private let tenants: [Int: Script]
    private let recorded = Mutex<[Call]>([])
    /// Runs in progress now, and the most there were at once.
    private let running = Mutex((now: 0, peak: 0))

    /// Programs not in `scripts` are not found, as `env` would say. A co-tenant of a release (`--tenant N` in its
    /// arguments) is played by `tenants[N]` where there is one.
    public init(_ scripts: [String: Script], tenants: [Int: Script] = [:]) {
        self.scripts = scripts
        self.tenants = tenants
    }

    public var calls: [Call] { recorded.withLock { $0 } }

    /// The most runs that were in progress at the same time.
    public var peakConcurrency: Int { running.withLock { $0.peak } }

    public func run(_ arguments: [String], environment: [String: String], log: URL, timeout: Double) -> ProcessExit {
        recorded.withLock { $0.append(Call(arguments: arguments, environment: environment, timeout: timeout)) }
        running.withLock {
            $0.now += 1
            $0.peak = max($0.peak, $0.now)
        }
        defer { running.withLock { $0.now -= 1 } }
        let program = arguments.first ?? ""
        let tenant = Script.tenant(in: arguments).flatMap { tenants[$0] }
        guard let script = tenant ?? scripts[program] else {
            return .notStarted("could not start '\(program)': no such program in the script")
        }
        let (released, ending) = script.rendezvous(arguments, timeout: timeout, files: HostRendezvousFiles())
        do {
            let handle = try FileHandle(forWritingTo: log)
            defer { try? handle.close() }
            _ = try handle.seekToEnd()
            try handle.write(contentsOf: Data((released + (ending == nil ? script.output : "")).utf8))
        } catch {
            return .notStarted("cannot write its log \(log.path)")
        }
        return ending ?? script.exit
    }
}
