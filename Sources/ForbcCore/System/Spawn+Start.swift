import CLinux
import Foundation

extension Spawn {
    /// A started child: its pid and the reading ends of its output pipes (-1 where output goes to a descriptor).
    struct Child {
        let pid: pid_t
        let outputs: [Int32]
    }

    /// Starts `request`: standard input /dev/null or a pipe already holding the input, output into two pipes or
    /// onto the caller's descriptor, every other descriptor closed, no signal blocked (a child inherits its
    /// thread's mask, and threads that Dispatch starts block most), SIGINT, SIGTERM, SIGHUP and SIGPIPE at their
    /// default action, and a process group (or session) of its own.
    static func start(_ request: Request) throws(Failure) -> Child {
        var pipes = Pipes()
        defer { pipes.closeChildEnds() }
        do {
            try pipes.make(request)
            var actions = posix_spawn_file_actions_t()
            try check(posix_spawn_file_actions_init(&actions), "posix_spawn_file_actions_init")
            defer { posix_spawn_file_actions_destroy(&actions) }
            try pipes.addActions(&actions, request.output)
            var attributes = posix_spawnattr_t()
            try check(posix_spawnattr_init(&attributes), "posix_spawnattr_init")
            defer { posix_spawnattr_destroy(&attributes) }
            try setAttributes(&attributes, ownSession: request.ownSession)
            let argv = ([request.executable] + request.arguments).map { strdup($0) } + [nil]
            let envp = request.environment.map { strdup("\($0.key)=\($0.value)") } + [nil]
            defer { for pointer in argv + envp { free(pointer) } }
            var pid = pid_t()
            let spawned = posix_spawn(&pid, request.executable, &actions, &attributes, argv, envp)
            guard spawned == 0 else { throw Failure.notStarted(String(cString: strerror(spawned)), errno: spawned) }
            return Child(pid: pid, outputs: [pipes.output[0], pipes.errors[0]])
        } catch let failure as Failure {
            pipes.closeParentEnds()
            throw failure
        } catch {
            pipes.closeParentEnds()
            throw .notStarted("\(error)", errno: nil)
        }
    }

    /// A posix_spawn_* call's return code (an errno value, 0 for success) as a failure naming the call.
    static func check(_ code: Int32, _ call: String) throws(Failure) {
        guard code != 0 else { return }
        throw .notStarted("\(call) failed: \(String(cString: strerror(code)))", errno: code)
    }

    static func setAttributes(_ attributes: inout posix_spawnattr_t, ownSession: Bool) throws(Failure) {
        var none = sigset_t()
        sigemptyset(&none)
        try check(posix_spawnattr_setsigmask(&attributes, &none), "posix_spawnattr_setsigmask")
        var defaults = sigset_t()
        sigemptyset(&defaults)
        for number in [SIGINT, SIGTERM, SIGHUP, SIGPIPE] { sigaddset(&defaults, number) }
        try check(posix_spawnattr_setsigdefault(&attributes, &defaults), "posix_spawnattr_setsigdefault")
        var flags = Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF)
        if ownSession {
            // setsid makes the child lead a new process group too (setpgid would then fail with EPERM).
            flags |= forbc_spawn_setsid
        } else {
            try check(posix_spawnattr_setpgroup(&attributes, 0), "posix_spawnattr_setpgroup")
            flags |= Int16(POSIX_SPAWN_SETPGROUP)
        }
        try check(posix_spawnattr_setflags(&attributes, flags), "posix_spawnattr_setflags")
    }
}

/// The pipes of one start: the parent's ends (kept on success) and the child's (always closed in the parent).
private struct Pipes {
    var output: [Int32] = [-1, -1]
    var errors: [Int32] = [-1, -1]
    var input: [Int32] = [-1, -1]

    mutating func make(_ request: Spawn.Request) throws(Spawn.Failure) {
        if case .capture = request.output {
            try Self.make(&output)
            try Self.make(&errors)
        }
        guard let bytes = request.input else { return }
        guard bytes.count <= Spawn.maximumInput else {
            throw .notStarted("its input is \(bytes.count) bytes, more than \(Spawn.maximumInput)", errno: nil)
        }
        try Self.make(&input)
        // The pipe is empty and its reading end is ours: the bytes fit at once and no SIGPIPE can come.
        let written = bytes.withUnsafeBytes { write(input[1], $0.baseAddress, $0.count) }
        guard written == bytes.count else {
            throw .notStarted("writing its input failed: \(String(cString: strerror(errno)))", errno: errno)
        }
        close(input[1])
        input[1] = -1
    }

    static func make(_ fds: inout [Int32]) throws(Spawn.Failure) {
        guard forbc_pipe_cloexec(&fds) == 0 else {
            throw .notStarted("pipe2 failed: \(String(cString: strerror(errno)))", errno: errno)
        }
    }

    func addActions(_ actions: inout posix_spawn_file_actions_t, _ destination: Spawn.Output) throws(Spawn.Failure) {
        if input[0] >= 0 {
            try Spawn.check(posix_spawn_file_actions_adddup2(&actions, input[0], 0), "posix_spawn_file_actions_adddup2")
        } else {
            try Spawn.check(
                posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0),
                "posix_spawn_file_actions_addopen")
        }
        let (out, err) =
            switch destination {
            case .capture: (output[1], errors[1])
            case .descriptor(let fd): (fd, fd)
            }
        try Spawn.check(posix_spawn_file_actions_adddup2(&actions, out, 1), "posix_spawn_file_actions_adddup2")
        try Spawn.check(posix_spawn_file_actions_adddup2(&actions, err, 2), "posix_spawn_file_actions_adddup2")
        try Spawn.check(forbc_spawn_close_from(&actions, 3), "posix_spawn_file_actions_addclosefrom_np")
    }

    mutating func closeChildEnds() {
        for fd in [output[1], errors[1], input[0], input[1]] where fd >= 0 { close(fd) }
    }

    mutating func closeParentEnds() {
        for fd in [output[0], errors[0]] where fd >= 0 { close(fd) }
    }
}
