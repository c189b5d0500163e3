import Foundation

/// The real side of the git seam: the `git` program found in `PATH`, started directly (no shell) with
/// `LC_ALL=C` (so its messages are git's English words, which forbc quotes and recognizes),
/// `GIT_TERMINAL_PROMPT=0` (a timer has nobody to type a password: git fails instead of waiting) and
/// `GIT_OPTIONAL_LOCKS=0` (reading status takes no lock a person's git would trip over). A run that passes its
/// deadline is stopped with everything it started (git's process group: an ssh, a hook's shell).
public struct RealGit: GitChannel {
    /// Seconds a run may take (a fetch over a network included) before it is stopped.
    public var timeout: Double
    /// The `PATH` git is looked up in.
    public var searchPath: String
    /// Variables added to git's environment (the tests trace git with `GIT_TRACE2_EVENT`).
    public var extraEnvironment: [String: String] = [:]

    public init(timeout: Double = 300, searchPath: String? = nil) {
        self.timeout = timeout
        self.searchPath = searchPath ?? ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"
    }

    /// The git executable, or nil when no directory of `searchPath` holds one.
    public var executable: String? {
        searchPath.split(separator: ":").map { "\($0.isEmpty ? "." : String($0))/git" }.first {
            FileManager.default.isExecutableFile(atPath: $0)
        }
    }

    public func limited(to seconds: Double) -> any GitChannel {
        var limited = self
        limited.timeout = min(timeout, seconds)
        return limited
    }

    /// forbc's environment for git: the repository is always named by `-C`, so variables that would point git
    /// at another one (a git hook's GIT_DIR, GIT_WORK_TREE…) are dropped.
    static func environment(_ inherited: [String: String]) -> [String: String] {
        let pointing: Set = [
            "GIT_DIR", "GIT_WORK_TREE", "GIT_INDEX_FILE", "GIT_OBJECT_DIRECTORY", "GIT_COMMON_DIR", "GIT_PREFIX",
            "GIT_NAMESPACE",
        ]
        return inherited.filter { !pointing.contains($0.key) }.merging(
            ["LC_ALL": "C", "GIT_TERMINAL_PROMPT": "0", "GIT_OPTIONAL_LOCKS": "0"]
        ) { $1 }
    }

    public func run(_ arguments: [String]) throws -> GitOutput {
        guard let executable else {
            throw ForbcError(
                .unsupported, "git is not installed (no 'git' in PATH \(searchPath)); install it (apt-get install git)")
        }
        Self.reportChildExits()
        let environment = Self.environment(ProcessInfo.processInfo.environment).merging(extraEnvironment) { $1 }
        let child = try GitChild.spawn(executable, arguments, environment: environment)
        // Both pipes are read to their ends and the exit is waited for concurrently, so a full pipe never
        // blocks git; the exit is git's own (waitpid), whatever else git left holding the pipes.
        let captured = Captured()
        let reading = DispatchGroup()
        DispatchQueue.global().async(group: reading) { captured.set(out: GitChild.readToEnd(child.output)) }
        DispatchQueue.global().async(group: reading) { captured.set(err: GitChild.readToEnd(child.errors)) }
        let exited = DispatchSemaphore(value: 0)
        let status = Captured.Status()
        DispatchQueue.global().async {
            status.set(GitChild.wait(child.pid))
            exited.signal()
        }
        if exited.wait(timeout: .now() + timeout) == .timedOut {
            Self.stop(group: child.pid, exited: exited)
            throw ForbcError.gitTimedOut(arguments, after: timeout)
        }
        // A child git left behind (ssh) may hold the pipes open: what was read by then is the answer.
        _ = reading.wait(timeout: .now() + 5)
        guard let code = status.get() else {
            throw ForbcError(.system, "the exit status of 'git \(arguments.joined(separator: " "))' could not be read")
        }
        let (out, err) = captured.get()
        return GitOutput(
            status: code, stdout: String(decoding: out, as: UTF8.self), stderr: String(decoding: err, as: UTF8.self))
    }

    /// Stops a run past its deadline: git and what it started share a process group of their own (git's pid),
    /// which is sent SIGTERM, then SIGKILL when git has not ended a second later.
    static func stop(group: pid_t, exited: DispatchSemaphore) {
        kill(-group, SIGTERM)
        if exited.wait(timeout: .now() + 1) == .timedOut {
            kill(-group, SIGKILL)
            _ = exited.wait(timeout: .now() + 5)
        }
    }

    /// Puts SIGCHLD back to its default where this process inherited it ignored (a disposition that survives
    /// exec: a parent that ran `trap '' CHLD`, some init scripts). Ignored, the kernel reaps each child at once,
    /// Foundation's `waitpid` fails, and every child's exit reads as status 0: a failed git (no such remote, a
    /// signature that does not verify) would pass for a successful one. True when it was ignored.
    @discardableResult
    public static func reportChildExits() -> Bool {
        var current = sigaction()
        guard sigaction(SIGCHLD, nil, &current) == 0 else { return false }
        let handler = unsafeBitCast(current.__sigaction_handler.sa_handler, to: Int.self)
        guard handler == unsafeBitCast(SIG_IGN, to: Int.self) else { return false }
        var standard = sigaction()
        standard.__sigaction_handler.sa_handler = SIG_DFL
        sigemptyset(&standard.sa_mask)
        return sigaction(SIGCHLD, &standard, nil) == 0
    }
}

/// What git printed, filled by the two readers, and how it ended, filled by the waiter.
private final class Captured: @unchecked Sendable {
    private let lock = NSLock()
    private var out = Data()
    private var err = Data()

    func set(out data: Data) { lock.withLock { out = data } }
    func set(err data: Data) { lock.withLock { err = data } }
    func get() -> (Data, Data) { lock.withLock { (out, err) } }

    /// git's exit status (128 + the signal that ended it), or nil when it could not be read.
    final class Status: @unchecked Sendable {
        private let lock = NSLock()
        private var code: Int32?

        func set(_ value: Int32?) { lock.withLock { code = value } }
        func get() -> Int32? { lock.withLock { code } }
    }
}

/// One run of git started with posix_spawn and waited for with waitpid, not through Foundation's `Process`:
/// Foundation learns that a child ended through CoreFoundation's socket manager, whose wake-up pair is two UDP
/// sockets on 127.0.0.1; where the loopback interface is down (the kernel lab's guest, a network namespace of
/// its own) it cannot be made, no exit after the first is ever noticed, and forbc waited for its deadline.
private struct GitChild {
    let pid: pid_t
    let output: Int32
    let errors: Int32

    /// Starts `executable` with `arguments` and `environment`: standard input /dev/null, output and errors into
    /// two pipes, no other descriptor of forbc's, no signal blocked, SIGPIPE as by default, and a process group
    /// of its own (so that a run past its deadline is stopped with what it started).
    static func spawn(_ executable: String, _ arguments: [String], environment: [String: String]) throws -> GitChild {
        var output: [Int32] = [-1, -1]
        var errors: [Int32] = [-1, -1]
        guard pipe(&output) == 0 else { throw failure("a pipe", errno) }
        guard pipe(&errors) == 0 else {
            let code = errno
            for fd in output { close(fd) }
            throw failure("a pipe", code)
        }
        for fd in output + errors { _ = fcntl(fd, F_SETFD, FD_CLOEXEC) }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_adddup2(&actions, output[1], 1)
        posix_spawn_file_actions_adddup2(&actions, errors[1], 2)
        let open = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd")) ?? []
        for fd in open.compactMap(Int32.init) where fd > 2 { posix_spawn_file_actions_addclose(&actions, fd) }
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var none = sigset_t()
        var standard = sigset_t()
        sigemptyset(&none)
        sigemptyset(&standard)
        sigaddset(&standard, SIGPIPE)
        posix_spawnattr_setsigmask(&attributes, &none)
        posix_spawnattr_setsigdefault(&attributes, &standard)
        posix_spawnattr_setpgroup(&attributes, 0)
        posix_spawnattr_setflags(
            &attributes, Int16(POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))
        let argv: [UnsafeMutablePointer<CChar>?] = ([executable] + arguments).map { strdup($0) } + [nil]
        let envp: [UnsafeMutablePointer<CChar>?] = environment.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer { for pointer in argv + envp { free(pointer) } }
        var pid = pid_t()
        let spawned = posix_spawn(&pid, executable, &actions, &attributes, argv, envp)
        close(output[1])
        close(errors[1])
        guard spawned == 0 else {
            close(output[0])
            close(errors[0])
            throw failure(executable, spawned)
        }
        return GitChild(pid: pid, output: output[0], errors: errors[0])
    }

    static func failure(_ what: String, _ code: Int32) -> ForbcError {
        ForbcError(.system, "could not start \(what): \(String(cString: strerror(code)))", errno: code)
    }

    /// Everything `fd` gives until its end; closes it.
    static func readToEnd(_ fd: Int32) -> Data {
        defer { close(fd) }
        var data = Data()
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            let count = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if count > 0 {
                data.append(contentsOf: buffer[0..<count])
            } else if count == 0 || errno != EINTR {
                return data
            }
        }
    }

    /// Waits for `pid` to end: its exit status, 128 + the signal that ended it, or nil when it cannot be read
    /// (SIGCHLD ignored by another thread since the check: the kernel reaped it).
    static func wait(_ pid: pid_t) -> Int32? {
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 {
            if errno != EINTR { return nil }
        }
        return status & 0x7f == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f)
    }
}
