import ForbcBench
import ForbcCore
import Foundation

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// The last signal that asked forbc to stop (0: none), and how many came; set by the handler, which does nothing
/// else.
nonisolated(unsafe) private var receivedSignal: sig_atomic_t = 0
nonisolated(unsafe) private var signalCount: sig_atomic_t = 0

/// SIGINT and SIGTERM during a campaign: the handler only records the signal; a watcher then stops the workload
/// processes (SIGTERM, SIGKILL 3 s later) and refuses to start new ones, so the campaign reaches its restore.
/// Another signal while the host is restored does not cut the restore short: the watcher says that the restore
/// goes on, and that a further signal within `abandonWindow` seconds abandons it; that one ends forbc at once with
/// what is left and how to finish it ('--resume'). Apply's steps are journalled, so even an abandoned restore
/// leaves the state dir right about what forbc made, and '--resume' restores the host again.
final class Interrupter: @unchecked Sendable {
    /// What the campaign is doing, for what a repeated signal means.
    enum Phase {
        case measuring, restoring, restored
    }

    let processes: CancellableProcesses
    private let stopped = Locked(false)
    let phase = Locked(Phase.measuring)
    /// Where the watcher says what it does (the command's console; a thread does not inherit it).
    private let console: Console
    /// The campaign file and its snapshot, for the message that abandons the restore.
    private let file: String
    private let snapshot: String
    /// How long after a repeated signal a further one abandons the restore.
    static let abandonWindow: Double = 5

    private init(console: Console, file: String, snapshot: String) {
        processes = CancellableProcesses()
        self.console = console
        self.file = file
        self.snapshot = snapshot
    }

    /// The calling thread's signal mask before `install`, put back by `uninstall`.
    private var savedMask = sigset_t()

    /// Installs the handlers (a handler, not SIG_IGN: an ignored signal stays ignored in the workloads started
    /// after it) and the watcher, the one thread that takes SIGINT and SIGTERM (`blockStopSignals`). Call
    /// `uninstall` on the same thread.
    static func install(file: String, snapshot: String) -> Interrupter {
        receivedSignal = 0
        signalCount = 0
        let interrupter = Interrupter(console: Console.current, file: file, snapshot: snapshot)
        interrupter.savedMask = blockStopSignals()
        for number in [SIGINT, SIGTERM] {
            signal(number) {
                receivedSignal = $0
                signalCount += 1
            }
        }
        let thread = Thread { [interrupter] in interrupter.watch() }
        thread.start()
        return interrupter
    }

    /// The default handlers again, the watcher ended, the calling thread's signal mask as before `install`.
    func uninstall() {
        stopped.update { $0 = true }
        Self.restoreDefaultStopSignals()
        Self.restoreMask(savedMask)
    }

    /// "SIGTERM" or "SIGINT" once one arrived.
    var received: String? { Self.name(ofSignal: receivedSignal) }

    /// SIGINT and SIGTERM at their default action again.
    static func restoreDefaultStopSignals() {
        signal(SIGINT, SIG_DFL)
        signal(SIGTERM, SIG_DFL)
    }

    /// "SIGINT", "SIGTERM" or "signal N" for a signal a handler recorded; nil for none (0).
    static func name(ofSignal number: sig_atomic_t) -> String? {
        switch number {
        case 0: nil
        case SIGINT: "SIGINT"
        case SIGTERM: "SIGTERM"
        default: "signal \(number)"
        }
    }

    private func watch() {
        Self.receiveSignalsHere()
        var handled: sig_atomic_t = 0
        var abandonBefore: Date?
        while !stopped.value {
            while handled < signalCount, !stopped.value {
                handled += 1
                let signal = received ?? "a signal"
                if handled == 1 && phase.value == .measuring {
                    console.err("campaign: \(signal) received; stopping the workloads, then restoring the host")
                    // On a thread of its own (it waits up to 3 s for the workloads): the watcher stays free to
                    // answer the next signal.
                    let thread = Thread { [processes] in
                        Self.blockStopSignals()
                        processes.cancel(because: "the campaign was interrupted by \(signal)")
                    }
                    thread.start()
                } else if let deadline = abandonBefore, Date() < deadline {
                    abandon(signal)
                } else {
                    abandonBefore = Date().addingTimeInterval(Self.abandonWindow)
                    let restored = phase.value == .restored
                    console.err(
                        "campaign: \(signal) received\(handled > 1 ? " again" : ""); "
                            + (restored
                                ? "the host is restored and the summary is being written"
                                : "the restore of the host goes on (stopping it half-way would leave the host "
                                    + "neither as measured nor as before)")
                            + ": send SIGINT or SIGTERM again within \(Int(Self.abandonWindow)) s to stop at once")
                }
            }
            usleep(50_000)
        }
    }

    /// Unblocks SIGINT and SIGTERM in the calling thread (the watcher). Every other thread blocks them: the
    /// command's own (`install` blocks them there: on the main thread a handler would break its poll, sleep or
    /// libvirt call with EINTR, and a SIGINT and a SIGTERM handled at once on two threads would each count as the
    /// first), and the threads started from it, which inherit its mask. Without one thread that takes them a
    /// signal would wait, pending, and a second one sent meanwhile merge with the first.
    static func receiveSignalsHere() {
        var set = stopSignals
        pthread_sigmask(SIG_UNBLOCK, &set, nil)
    }

    /// Blocks SIGINT and SIGTERM in the calling thread; its mask before. The processes forbc starts begin with
    /// an empty mask (`Spawn`), so they take them as usual.
    @discardableResult
    static func blockStopSignals() -> sigset_t {
        var set = stopSignals
        var before = sigset_t()
        pthread_sigmask(SIG_BLOCK, &set, &before)
        return before
    }

    /// Puts back the calling thread's signal mask that `blockStopSignals` returned.
    static func restoreMask(_ mask: sigset_t) {
        var mask = mask
        pthread_sigmask(SIG_SETMASK, &mask, nil)
    }

    static var stopSignals: sigset_t {
        var set = sigset_t()
        sigemptyset(&set)
        sigaddset(&set, SIGINT)
        sigaddset(&set, SIGTERM)
        return set
    }

    /// Ends forbc now (the exit status a shell gives a process ended by the signal), saying what is left. The
    /// workloads still running are killed first: each leads a process group of its own, which forbc's end would
    /// leave running.
    private func abandon(_ signal: String) -> Never {
        processes.killWorkloads()
        if phase.value == .restored {
            console.err(
                "error: \(file): stopped by \(signal) after the host was restored; the comparison and the report were "
                    + "not written")
        } else {
            console.err(
                "error: \(file): the restore was abandoned by \(signal): the host is NOT restored to its snapshot "
                    + "\(snapshot); 'forbc plan \(snapshot)' with this command's host options lists what is left; "
                    + "run the campaign again with '--resume' to restore it")
        }
        _exit(128 + receivedSignal)
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
        signalWorkloads(SIGTERM)
        for _ in 0..<30 where !Self.children().isEmpty { usleep(100_000) }
        signalWorkloads(SIGKILL)
    }

    /// SIGKILL to the workloads still running, none started from now on (a campaign's restore abandoned).
    func killWorkloads() {
        reason.update { $0 = $0 ?? "the campaign was stopped" }
        signalWorkloads(SIGKILL)
    }

    /// `signal` to each workload's process group (a workload leads one of its own: its workers stop with it);
    /// none while the suites are not running, when a child is a step of an apply (a GPU reset), left to finish.
    private func signalWorkloads(_ signal: Int32) {
        guard suitesRunning.value else { return }
        for child in Self.children() { ChildGroup.signal(child, signal) }
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
