import Foundation
import Testing

@testable import ForbcCore

/// The real process channel: a child starts with no signal blocked, whichever thread starts it, so a workload's
/// timeout can terminate it (threads started by Dispatch block SIGTERM, and a child inherits its thread's mask).
@Suite struct RealProcessesTests {
    /// `SigBlk` of a child started from a thread that blocks SIGTERM, as `/proc/PID/status` shows it.
    static func childMask() throws -> String {
        let log = FileManager.default.temporaryDirectory.appendingPathComponent("forbc-mask-\(UUID().uuidString).log")
        defer { try? FileManager.default.removeItem(at: log) }
        let done = DispatchSemaphore(value: 0)
        let exit = ExitBox()
        let thread = Thread {
            var term = sigset_t()
            sigemptyset(&term)
            sigaddset(&term, SIGTERM)
            pthread_sigmask(SIG_BLOCK, &term, nil)
            exit.value =
                (RealProcesses().run(["grep", "SigBlk", "/proc/self/status"], environment: [:], log: log, timeout: 30))
            done.signal()
        }
        thread.start()
        done.wait()
        #expect(exit.value == .exited(0))
        return try String(contentsOf: log, encoding: .utf8)
    }

    @Test func childStartsWithNoSignalBlocked() throws {
        let line = try Self.childMask().trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(line == "SigBlk:\t0000000000000000")
    }

    @Test func aTimedOutChildIsTerminatedBySIGTERM() throws {
        let log = FileManager.default.temporaryDirectory.appendingPathComponent("forbc-term-\(UUID().uuidString).log")
        defer { try? FileManager.default.removeItem(at: log) }
        let exit = ExitBox()
        let done = DispatchSemaphore(value: 0)
        DispatchQueue.global().async {
            exit.value = (RealProcesses().run(["sleep", "60"], environment: [:], log: log, timeout: 0.5))
            done.signal()
        }
        let started = Date()
        done.wait()
        #expect(exit.value == .timedOut)
        // SIGTERM ends `sleep` at once; a blocked SIGTERM would leave it to the SIGKILL 5 s later.
        #expect(Date().timeIntervalSince(started) < 4)
    }
}

/// One process's exit, handed from the thread that ran it to the test (ordered by a semaphore).
final class ExitBox: @unchecked Sendable {
    var value: ProcessExit?
}
