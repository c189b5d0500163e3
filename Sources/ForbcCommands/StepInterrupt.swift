import ForbcBench
import ForbcCore
import Foundation

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// The signal that asked an apply to stop (0: none); set by the handler.
nonisolated(unsafe) private var stepSignal: sig_atomic_t = 0

/// SIGINT and SIGTERM during an apply or a destroy: the step under way is finished, then apply stops and says what
/// was done and what was not attempted (a rerun continues). The programs a step runs (a GPU reset, an MPS control
/// command) lead process groups of their own (`ChildGroup`), so a Ctrl-C at the terminal reaches forbc alone and
/// they finish their work. A second signal ends forbc at once, by the signal's default action: what the state
/// journal recorded before the step still holds, and a rerun converges.
final class StepInterrupt: @unchecked Sendable {
    private let stopped = Locked(false)
    private let console: Console
    private let verb: String
    /// The calling thread's signal mask before `install`, put back by `uninstall`.
    private var savedMask = sigset_t()

    private init(console: Console, verb: String) {
        self.console = console
        self.verb = verb
    }

    /// Installs the handlers and a watcher that says what happens when a signal comes, the one thread that takes
    /// SIGINT and SIGTERM: the calling thread blocks them until `uninstall`, which must run on it too.
    static func install(verb: String) -> StepInterrupt {
        stepSignal = 0
        let interrupt = StepInterrupt(console: Console.current, verb: verb)
        interrupt.savedMask = Interrupter.blockStopSignals()
        for number in [SIGINT, SIGTERM] {
            signal(number) { number in
                if stepSignal != 0 {
                    // The second: the default action, now (signal and raise are async-signal-safe).
                    signal(number, SIG_DFL)
                    raise(number)
                }
                stepSignal = number
            }
        }
        let thread = Thread { [interrupt] in interrupt.watch() }
        thread.start()
        return interrupt
    }

    /// The default handlers again, the watcher ended, the calling thread's signal mask as before `install`.
    func uninstall() {
        stopped.update { $0 = true }
        Interrupter.restoreDefaultStopSignals()
        Interrupter.restoreMask(savedMask)
    }

    /// "SIGINT" or "SIGTERM" once one arrived.
    var received: String? { Interrupter.name(ofSignal: stepSignal) }

    /// The status a shell gives a process the signal ended (130 for SIGINT).
    var exitStatus: Int32 { 128 + (stepSignal == 0 ? SIGINT : stepSignal) }

    /// A signal that came while the last step ran, once the apply ended with every step done: the watcher said
    /// that the apply stops, and nothing was left to stop. Says so; the status to exit with (128 + the signal),
    /// so that a caller (a terminal, cron, a systemd unit) learns that a signal came. Nil when none came or the
    /// report says the apply stopped or failed (those say it themselves).
    func stopAfterLastStep(_ report: Applier.Report, steps: Int) -> Int32? {
        guard let signal = received, report.stopped == nil, report.failed == nil else { return nil }
        let when =
            steps == 0
            ? "while '\(verb)' recorded the host (no step was needed)"
            : "during the last step of '\(verb)', which finished: all \(steps) step\(steps == 1 ? "" : "s") done"
        console.err("forbc: \(signal) came \(when); nothing was left to stop; exit status \(exitStatus)")
        return exitStatus
    }

    /// Says once that a signal came; stays until uninstalled, the one thread that takes the signals (`install`
    /// blocks them in the command's thread, and the threads started from it inherit that), so that a second one
    /// acts at once.
    private func watch() {
        Interrupter.receiveSignalsHere()
        var said = false
        while !stopped.value {
            if !said, let signal = received {
                said = true
                console.err(
                    "forbc: \(signal) received; the step under way finishes (the programs it runs are not "
                        + "interrupted), then '\(verb)' stops; send it again to stop at once")
            }
            usleep(50_000)
        }
    }
}
