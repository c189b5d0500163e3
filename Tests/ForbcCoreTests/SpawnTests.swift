import ForbcTestSupport
import Foundation
import Testing

@testable import ForbcCore

/// The runner every program of forbc's goes through: its result is the whole output and the child's own exit, or a
/// failure; a deadline stops the child's group, whatever it ignores or leaves behind.
@Suite("spawn: posix_spawn, poll and waitpid on the calling thread")
struct SpawnTests {
    /// `sh -c script` through the runner.
    static func shell(
        _ script: String, input: String? = nil, timeout: Double = 30, grace: Double = 1
    ) throws(Spawn.Failure) -> Spawn.Result {
        try Spawn.run(
            Spawn.Request(
                executable: "/bin/sh", arguments: ["-c", script], environment: ProcessInfo.processInfo.environment,
                input: input.map { Data($0.utf8) }, timeout: timeout, grace: grace))
    }

    /// Seconds `body` took, and what it threw (nil when it returned).
    static func timed(_ body: () throws(Spawn.Failure) -> Spawn.Result) -> (seconds: Double, failure: Spawn.Failure?) {
        let started = Date()
        do {
            _ = try body()
            return (Date().timeIntervalSince(started), nil)
        } catch {
            return (Date().timeIntervalSince(started), error)
        }
    }

    /// Whether the pid written in `file` still runs (waits up to 3 s for it to go); kills it if so.
    static func outlived(_ file: URL) throws -> Bool {
        let pid = try #require(
            Int(try String(contentsOf: file, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)))
        let deadline = Date().addingTimeInterval(3)
        while RealMPS.alive(pid) && Date() < deadline { usleep(20_000) }
        let alive = RealMPS.alive(pid)
        if alive { kill(pid_t(pid), SIGKILL) }
        return alive
    }

    @Test("exit status, signal, input on a pipe, output and errors apart")
    func basics() throws {
        #expect(try Self.shell("exit 3").end == .exited(3))
        #expect(try Self.shell("kill -9 $$").end == .signalled(9))
        let echoed = try Self.shell("cat; echo err >&2", input: "hello\n")
        #expect(echoed.end == .exited(0))
        #expect(String(decoding: echoed.stdout, as: UTF8.self) == "hello\n")
        #expect(String(decoding: echoed.stderr, as: UTF8.self) == "err\n")
    }

    @Test("the child holds standard input, output and errors alone: every other descriptor of forbc's is closed")
    func descriptors() throws {
        // A descriptor without close-on-exec, as one from a careless library would be.
        let leaked = open("/dev/null", O_RDONLY)
        defer { close(leaked) }
        let listed = try Self.shell("ls /proc/self/fd")
        // 0, 1, 2 and the one `ls` opened on /proc/self/fd.
        #expect(String(decoding: listed.stdout, as: UTF8.self).split(separator: "\n").count == 4)
    }

    @Test("200 KiB on standard error and a line on standard output: both read whole, nothing stalls")
    func largeErrors() throws {
        let result = try Self.shell("head -c 204800 /dev/zero >&2; echo done", timeout: 20)
        #expect(result.end == .exited(0))
        #expect(result.stderr.count == 204_800)
        #expect(String(decoding: result.stdout, as: UTF8.self) == "done\n")
    }

    @Test("a child that ignores SIGTERM: killed with its group after the grace, and the run returns")
    func ignoresTerm() throws {
        let file = makeTemporaryDirectory("spawn-term").appendingPathComponent("pid")
        // `trap '' TERM`: the shell and the sleep it starts (an ignored signal stays ignored across exec).
        let run = Self.timed { () throws(Spawn.Failure) in
            try Self.shell("trap '' TERM; sleep 60 & echo $! > \(file.path); wait", timeout: 0.5, grace: 1)
        }
        #expect(run.failure == .timedOut)
        // 0.5 s deadline and 1 s grace; waiting for the sleep would take a minute.
        #expect(run.seconds < 10, "returned after \(run.seconds) s")
        #expect(try !Self.outlived(file), "the sleep that ignored SIGTERM outlived the deadline")
    }

    @Test("a child that ends while a process it started keeps its output open: an error, and that process stopped")
    func grandchildHoldsOutput() throws {
        let file = makeTemporaryDirectory("spawn-held").appendingPathComponent("pid")
        let run = Self.timed { () throws(Spawn.Failure) in
            try Self.shell("sleep 60 & echo $! > \(file.path); echo partial", timeout: 30, grace: 1)
        }
        #expect(run.failure == .outputNotEnded)
        #expect(run.seconds < 10, "returned after \(run.seconds) s")
        #expect(try !Self.outlived(file), "the sleep holding the pipe outlived the run")
    }

    @Test("output read before the deadline is no answer: the run fails")
    func partialOutput() throws {
        let run = Self.timed { () throws(Spawn.Failure) in
            try Self.shell("echo partial; exec sleep 60", timeout: 0.5, grace: 1)
        }
        #expect(run.failure == .timedOut)
        let git = #expect(throws: ForbcError.self) {
            try RealGit(timeout: 0.5).run(["-c", "alias.p=!echo partial; exec sleep 60", "p"])
        }
        #expect(
            git?.message == "'git -c alias.p=!echo partial; exec sleep 60 p' did not end within 0.5 s and was stopped")
    }

    @Test("a program is looked up in the PATH given: a directory of that name is not it, a slash names it")
    func lookUp() throws {
        let first = makeTemporaryDirectory("spawn-path-a")
        let second = makeTemporaryDirectory("spawn-path-b")
        try FileManager.default.createDirectory(
            at: first.appendingPathComponent("tool"), withIntermediateDirectories: true)
        let tool = second.appendingPathComponent("tool").path
        try "#!/bin/sh\n".write(toFile: tool, atomically: true, encoding: .utf8)
        #expect(Spawn.lookUp("tool", path: "\(first.path):\(second.path)") == nil)
        #expect(chmod(tool, 0o755) == 0)
        #expect(Spawn.lookUp("tool", path: "\(first.path):\(second.path)") == tool)
        #expect(Spawn.lookUp("/bin/sh", path: "") == "/bin/sh")
        #expect(Spawn.lookUp("sh", path: first.path) == nil)
    }

    // A new session has no controlling terminal (setsid(2)); the test runner usually has none either, so
    // checking for one here could not fail: the session is what is checked.
    @Test("git runs in a session of its own, which has no controlling terminal that ssh could wait on")
    func gitOwnSession() throws {
        // /proc/PID/stat: "PID (COMM) STATE PPID PGRP SESSION …"; the alias's shell is git's child.
        let output = try RealGit().run(["-c", "alias.s=!awk '{print $5, $6}' /proc/$PPID/stat", "s"])
        let fields = output.stdout.split(whereSeparator: \.isWhitespace).compactMap { Int32($0) }
        try #require(output.succeeded && fields.count == 2, "\(output)")
        #expect(fields[0] == fields[1], "git does not lead its session")
        #expect(fields[1] != getsid(0), "git runs in the test's session")
    }

    @Test("a group stopped by SIGSTOP that handles SIGTERM: continued at the deadline, so it ends without the grace")
    func stoppedGroup() throws {
        // The shell stops itself; a pending SIGTERM runs its trap only once the group is continued.
        let run = Self.timed { () throws(Spawn.Failure) in
            try Self.shell("trap 'exit 0' TERM; kill -STOP $$; sleep 60", timeout: 0.5, grace: 30)
        }
        #expect(run.failure == .timedOut)
        #expect(run.seconds < 15, "returned after \(run.seconds) s: the stopped group waited for the grace")
    }

    @Test("a child that does not end after SIGKILL (state D) is given up after the wait, named by its pid")
    func notEndedAfterKill() throws {
        let child = try Spawn.start(
            Spawn.Request(
                executable: "/bin/sh", arguments: ["-c", "trap '' TERM; echo ready; exec sleep 60"], environment: [:],
                output: .capture, timeout: 30))
        var readers = Spawn.Readers(child.outputs)
        defer { readers.closeAll() }
        // Once it has printed, SIGTERM is ignored (sent earlier, it would end the shell before its trap).
        let deadline = Date().addingTimeInterval(20)
        while readers.data[0].isEmpty && Date() < deadline { readers.pump(milliseconds: 20) }
        // SIGKILL cannot be resisted by a stand-in: the seam says the child is still there, as one in state D is.
        #expect(throws: Spawn.Failure.notEnded(child.pid)) {
            try Spawn.stop(child.pid, &readers, grace: 0.1, killWait: 0.2) { _ in false }
        }
        // It ignored SIGTERM, was sent SIGKILL and was left unreaped: reaping it now gives that signal.
        #expect(try Spawn.reap(child.pid) == .signalled(SIGKILL))
        #expect(
            Spawn.Failure.notEndedWords(child.pid).hasPrefix(
                "(pid \(child.pid)) was stopped but did not end within 5 s of SIGKILL: it is probably in "
                    + "uninterruptible sleep (state D"))
    }

    @Test("a failed GPU reset quotes what nvidia-smi printed on standard output and on standard error")
    func resetFailure() throws {
        var result = Spawn.Result(end: .exited(255))
        result.stdout = Data(
            "\nThe following GPUs could not be reset:\n  GPU 00000000:06:00.0: In use by another client\n".utf8)
        #expect(
            NVMLLibrary.resetFailure("nvidia-smi --gpu-reset -i 0", result)
                == "nvidia-smi --gpu-reset -i 0 failed (exit status 255): stdout: The following GPUs could not be "
                + "reset:\n  GPU 00000000:06:00.0: In use by another client")
        result.stderr = Data(String(repeating: "x", count: 3000).utf8)
        let both = NVMLLibrary.resetFailure("nvidia-smi --gpu-reset -i 0", result)
        #expect(both.hasSuffix("; stderr: " + String(repeating: "x", count: 2000) + "… (3000 characters)"))
        #expect(
            NVMLLibrary.resetFailure("nvidia-smi --gpu-reset -i 0", Spawn.Result(end: .signalled(9)))
                == "nvidia-smi --gpu-reset -i 0 failed (ended by signal 9); it printed nothing")
    }
}

/// The runner where the loopback interface is down, as in the kernel lab's guest: there Foundation's `Process`
/// never noticed a child's exit after the first (CoreFoundation wakes itself through two UDP sockets on
/// 127.0.0.1), and forbc waited for its deadlines.
@Suite("spawn without a loopback interface")
struct SpawnNoLoopbackTests {
    static let inNamespace = ProcessInfo.processInfo.environment["FORBC_SPAWN_NO_LOOPBACK"] == "1"

    /// Whether a UDP socket can be connected to 127.0.0.1 (what CoreFoundation's wake-up pair needs; with the
    /// loopback interface down, connect(2) fails with ENETUNREACH).
    static func loopbackUp() -> Bool {
        let fd = socket(AF_INET, Int32(SOCK_DGRAM.rawValue), 0)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = UInt32(0x7f00_0001).bigEndian
        address.sin_port = UInt16(9).bigEndian
        return withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0
            }
        }
    }

    @Test(
        "this test binary in a network namespace of its own (unshare -n) runs the test below, which passes",
        .enabled(
            if: !inNamespace && FileManager.default.isExecutableFile(atPath: "/usr/bin/unshare")
                && (try? Spawn.run(
                    Spawn.Request(
                        executable: "/usr/bin/unshare", arguments: ["-n", "true"], environment: [:], timeout: 10)
                ).end) == .exited(0),
            "needs 'unshare -n' (root, util-linux) to run without a loopback interface"))
    func noLoopback() throws {
        let environment = ProcessInfo.processInfo.environment.merging(["FORBC_SPAWN_NO_LOOPBACK": "1"]) { $1 }
        let tests = try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")
        let result = try Spawn.run(
            Spawn.Request(
                executable: "/usr/bin/unshare",
                arguments: [
                    "-n", tests, "--testing-library", "swift-testing", "--filter",
                    "SpawnNoLoopbackTests.*inside",
                ], environment: environment, timeout: 120))
        let output = String(decoding: result.stdout + result.stderr, as: UTF8.self)
        #expect(result.end == .exited(0), "\(output)")
        // Ran, not skipped (a skipped test passes its run too).
        #expect(output.contains("Test \"inside: children in a row") && output.contains("\" passed after "), "\(output)")
    }

    @Test(
        "inside: children in a row through the workload, git and MPS sides, each ending well before its deadline",
        .enabled(if: inNamespace, "runs only inside the namespace that the test above makes"))
    func inside() throws {
        #expect(!Self.loopbackUp(), "127.0.0.1 can be bound: the loopback interface is up")
        let log = makeTemporaryDirectory("spawn-netns").appendingPathComponent("run.log")
        for _ in 0..<3 {
            #expect(RealProcesses().run(["true"], environment: [:], log: log, timeout: 20) == .exited(0))
        }
        for _ in 0..<3 {
            #expect(try RealGit(timeout: 20).run(["--version"]).succeeded)
        }
        // The MPS side against its stand-in: '-d', two commands, then 'quit'.
        let uuid = "GPU-0ac371be-ac08-bc04-b91a-57647d64c496"
        let mps = RealMPS(
            directory: makeTemporaryDirectory("spawn-netns-mps"),
            program: RepositoryPaths.fixture("mps/nvidia-cuda-mps-control"), timeout: 20)
        try mps.start(gpu: uuid)
        #expect(try mps.daemon(gpu: uuid)?.settings == MPSSettings(activeThreadPercentage: 100))
        try mps.quit(gpu: uuid)
    }
}
