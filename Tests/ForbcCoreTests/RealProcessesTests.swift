import ForbcTestSupport
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

extension RealProcessesTests {
    /// Runs `script` with sh through the real channel (`timeout` seconds); its exit and what it printed.
    static func shell(_ script: String, timeout: Double = 30) throws -> (exit: ProcessExit?, output: String) {
        let log = FileManager.default.temporaryDirectory.appendingPathComponent("forbc-sh-\(UUID().uuidString).log")
        defer { try? FileManager.default.removeItem(at: log) }
        let exit = ExitBox()
        let done = DispatchSemaphore(value: 0)
        DispatchQueue.global().async {
            exit.value = RealProcesses().run(["sh", "-c", script], environment: [:], log: log, timeout: timeout)
            done.signal()
        }
        done.wait()
        return (exit.value, (try? String(contentsOf: log, encoding: .utf8)) ?? "")
    }

    @Test("a child leads a process group of its own: a Ctrl-C to forbc's group does not reach it")
    func childInItsOwnGroup() throws {
        // /proc/PID/stat: "PID (COMM) STATE PPID PGRP …"; sh's comm has no space.
        let run = try Self.shell("awk '{print $1, $5}' /proc/$$/stat")
        #expect(run.exit == .exited(0))
        let fields = run.output.split(whereSeparator: \.isWhitespace).compactMap { Int32($0) }
        #expect(fields.count == 2 && fields[0] == fields[1], "\(run.output)")
        #expect(fields.last != getpgrp(), "the child is in the test's (forbc's) process group")
    }

    @Test("a timeout stops the child's group: what it started ends with it")
    func timeoutStopsDescendants() throws {
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("forbc-gc-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: file) }
        let started = Date()
        let run = try Self.shell("sleep 60 & echo $! > \(file.path); wait", timeout: 0.5)
        #expect(run.exit == .timedOut)
        // Terminating the shell alone left 'sleep 60' holding on, and run returned only when it ended.
        #expect(Date().timeIntervalSince(started) < 10, "the timeout returned after the grandchild ended")
        let grandchild = try #require(Int(try String(contentsOf: file, encoding: .utf8).trimmed()))
        let deadline = Date().addingTimeInterval(3)
        while RealMPS.alive(grandchild) && Date() < deadline { usleep(50_000) }
        let alive = RealMPS.alive(grandchild)
        if alive { kill(pid_t(grandchild), SIGKILL) }
        #expect(!alive, "the shell's 'sleep 60' outlived the timeout")
    }
}

extension RealProcessesTests {
    /// Runs `arguments` through the real channel with `environment`; its exit and its log.
    static func run(_ arguments: [String], environment: [String: String] = [:]) -> (exit: ProcessExit, log: String) {
        let log = FileManager.default.temporaryDirectory.appendingPathComponent("forbc-run-\(UUID().uuidString).log")
        defer { try? FileManager.default.removeItem(at: log) }
        let exit = RealProcesses().run(arguments, environment: environment, log: log, timeout: 30)
        return (exit, (try? String(contentsOf: log, encoding: .utf8)) ?? "")
    }

    @Test("a workload's background processes end with it: a 'sleep 60 &' is gone when run returns")
    func leftoversEnd() throws {
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("forbc-bg-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: file) }
        let run = try Self.shell("sleep 60 & echo $! > \(file.path); exit 4")
        #expect(run.exit == .exited(4), "its own exit status is kept")
        let pid = try #require(Int(try String(contentsOf: file, encoding: .utf8).trimmed()))
        // SIGKILL was sent before run returned; the kernel may take a moment to finish the process.
        let deadline = Date().addingTimeInterval(3)
        while RealMPS.alive(pid) && Date() < deadline { usleep(20_000) }
        let alive = RealMPS.alive(pid)
        if alive { kill(pid_t(pid), SIGKILL) }
        #expect(!alive, "the workload's 'sleep 60 &' outlived it")
    }

    @Test("a program not in PATH is not started, and the message names it and the PATH searched")
    func missingProgram() {
        let run = Self.run(["forbc-no-such-program", "x"], environment: ["PATH": "/nonexistent-a:/nonexistent-b"])
        #expect(
            run.exit
                == .notStarted(
                    "could not start 'forbc-no-such-program': no such program in PATH /nonexistent-a:/nonexistent-b"))
    }

    @Test("a path with a slash is tried as it is: its own errno, not a PATH search")
    func pathWithSlash() throws {
        let folder = makeTemporaryDirectory("run-slash")
        let missing = folder.appendingPathComponent("missing").path
        #expect(Self.run([missing]).exit == .notStarted("could not start '\(missing)': No such file or directory"))
        let plain = folder.appendingPathComponent("plain").path
        try "echo hi\n".write(toFile: plain, atomically: true, encoding: .utf8)
        #expect(Self.run([plain]).exit == .notStarted("could not start '\(plain)': Permission denied"))
    }

    @Test("a script without a #! line is run by /bin/sh, as execvp does, with its arguments")
    func scriptWithoutShebang() throws {
        let folder = makeTemporaryDirectory("run-noexec")
        let script = folder.appendingPathComponent("tool").path
        try "echo \"ran $0 $1\"\nexit 3\n".write(toFile: script, atomically: true, encoding: .utf8)
        #expect(chmod(script, 0o755) == 0)
        let byPath = Self.run([script, "one"])
        #expect(byPath.exit == .exited(3))
        #expect(byPath.log == "ran \(script) one\n")
        let byName = Self.run(["tool", "two"], environment: ["PATH": folder.path])
        #expect(byName.exit == .exited(3))
        #expect(byName.log == "ran \(script) two\n")
    }
}

extension String {
    fileprivate func trimmed() -> String { trimmingCharacters(in: .whitespacesAndNewlines) }
}

/// One process's exit, handed from the thread that ran it to the test (ordered by a semaphore).
final class ExitBox: @unchecked Sendable {
    var value: ProcessExit?
}
