import ForbcBench
import ForbcCore
import Foundation

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// The signal that asked forbc to stop (0: none); set by the handler, which does nothing else.
nonisolated(unsafe) private var receivedSignal: sig_atomic_t = 0

/// SIGINT and SIGTERM during a campaign: the handler only records the signal; a watcher then stops the workload
/// processes (SIGTERM, SIGKILL 3 s later) and refuses to start new ones, so the campaign reaches its restore.
final class Interrupter: @unchecked Sendable {
    let processes: CancellableProcesses
    private let stopped = Locked(false)
    /// Where the watcher says what it does (the command's console; a thread does not inherit it).
    private let console: Console

    private init(console: Console) {
        processes = CancellableProcesses()
        self.console = console
    }

    /// Installs the handlers (a handler, not SIG_IGN: an ignored signal stays ignored in the workloads started
    /// after it) and the watcher.
    static func install() -> Interrupter {
        receivedSignal = 0
        let interrupter = Interrupter(console: Console.current)
        for number in [SIGINT, SIGTERM] {
            signal(number) { receivedSignal = $0 }
        }
        let thread = Thread { [interrupter] in interrupter.watch() }
        thread.start()
        return interrupter
    }

    /// The default handlers again, the watcher ended.
    func uninstall() {
        stopped.update { $0 = true }
        signal(SIGINT, SIG_DFL)
        signal(SIGTERM, SIG_DFL)
    }

    /// "SIGTERM" or "SIGINT" once one arrived.
    var received: String? {
        switch receivedSignal {
        case 0: return nil
        case SIGINT: return "SIGINT"
        case SIGTERM: return "SIGTERM"
        default: return "signal \(receivedSignal)"
        }
    }

    private func watch() {
        while !stopped.value {
            if let signal = received {
                console.err("campaign: \(signal) received; stopping the workloads, then restoring the host")
                processes.cancel(because: "the campaign was interrupted by \(signal)")
                return
            }
            usleep(50_000)
        }
    }
}

/// Workload processes that a campaign can stop: real processes, none started once cancelled, and the running
/// ones (forbc's children while the suites run) terminated on cancel.
struct CancellableProcesses: ProcessChannel {
    let inner = RealProcesses()
    let reason = Locked<String?>(nil)
    /// Whether the suites are running: forbc's children are then the workloads. Otherwise a child may be a step
    /// of an apply (a GPU reset), which is left to finish.
    let suitesRunning = Locked(false)

    func run(_ arguments: [String], environment: [String: String], log: URL, timeout: Double) -> ProcessExit {
        if let reason = reason.value { return .notStarted(reason) }
        return inner.run(arguments, environment: environment, log: log, timeout: timeout)
    }

    /// Runs `body` (the suites) with the children counted as workloads.
    func measuring<T>(_ body: () throws -> T) rethrows -> T {
        suitesRunning.update { $0 = true }
        defer { suitesRunning.update { $0 = false } }
        return try body()
    }

    func cancel(because why: String) {
        reason.update { $0 = why }
        guard suitesRunning.value else { return }
        for child in Self.children() { kill(child, SIGTERM) }
        for _ in 0..<30 where !Self.children().isEmpty { usleep(100_000) }
        for child in Self.children() { kill(child, SIGKILL) }
    }

    /// This process's children, from /proc (the workloads: forbc starts no other process).
    static func children() -> [pid_t] {
        let me = getpid()
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
        return entries.compactMap { entry -> pid_t? in
            guard let pid = pid_t(entry),
                let stat = try? String(contentsOfFile: "/proc/\(entry)/stat", encoding: .utf8),
                let close = stat.lastIndex(of: ")")
            else { return nil }
            // "PID (COMM) STATE PPID …": the command may hold spaces and parentheses; the fields after it do not.
            let fields = stat[stat.index(after: close)...].split(separator: " ")
            return fields.count > 1 && pid_t(fields[1]) == me ? pid : nil
        }
    }
}
