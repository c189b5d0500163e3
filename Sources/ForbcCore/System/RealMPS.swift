import Foundation

/// NVIDIA's MPS for real: `nvidia-cuda-mps-control` run through `Spawn` (found in `PATH`), one
/// control daemon per GPU with `CUDA_MPS_PIPE_DIRECTORY` and `CUDA_MPS_LOG_DIRECTORY` under `directory/GPU-UUID`
/// and `CUDA_VISIBLE_DEVICES` set to the GPU's UUID, so the daemon (and its servers) see that GPU alone, as
/// device 0. Commands go to the daemon on the control program's standard input (`echo quit |
/// nvidia-cuda-mps-control`), as NVIDIA's "Tools and Interface Reference" describes
/// (https://docs.nvidia.com/deploy/mps/appendix-tools-and-interface-reference.html).
public struct RealMPS: MPSChannel {
    /// `STATE/mps`.
    public let directory: URL
    /// The control program (tests may name a stand-in).
    public let program: String
    /// How long one control command may take (NVIDIA documents that `quit` waits for the daemon's clients: one
    /// that hangs must not hang forbc).
    public let timeout: Double

    public init(directory: URL, program: String = "nvidia-cuda-mps-control", timeout: Double = 20) {
        self.directory = directory
        self.program = program
        self.timeout = timeout
    }

    public func pipeDirectory(gpu uuid: String) -> String {
        directory.appendingPathComponent(uuid).appendingPathComponent("pipe").path
    }

    func logDirectory(gpu uuid: String) -> String {
        directory.appendingPathComponent(uuid).appendingPathComponent("log").path
    }

    func environment(gpu uuid: String) -> [String: String] {
        [
            "CUDA_MPS_PIPE_DIRECTORY": pipeDirectory(gpu: uuid), "CUDA_MPS_LOG_DIRECTORY": logDirectory(gpu: uuid),
            "CUDA_VISIBLE_DEVICES": uuid,
        ]
    }

    /// The daemon writes `nvidia-cuda-mps-control.pid` and listens on `control` in its pipe directory; a
    /// socket whose process is gone is a daemon that died (nil), not one to ask.
    public func daemon(gpu uuid: String) throws -> MPSDaemon? {
        let pipe = pipeDirectory(gpu: uuid)
        guard FileManager.default.fileExists(atPath: pipe + "/control") else { return nil }
        let pid = Self.pid(in: pipe)
        if let pid, !Self.alive(pid) { return nil }
        let percentage: String
        do {
            percentage = try control(uuid, "get_default_active_thread_percentage")
        } catch let error as ForbcError where error.message.contains(Self.noDaemon) {
            // The control program's own words: no daemon answers (one that quit and was not reaped yet, say).
            return nil
        }
        let limit = try control(uuid, "get_default_device_pinned_mem_limit 0")
        guard let value = Double(percentage) else {
            throw ForbcError(
                .system, "\(program) answered get_default_active_thread_percentage with '\(percentage)', not a number")
        }
        let settings = MPSSettings(
            activeThreadPercentage: Int(value.rounded()),
            pinnedMemoryLimit: MPSSettings.bytes(limit).map { _ in limit })
        return MPSDaemon(gpuUUID: uuid, pid: pid, pipeDirectory: pipe, settings: settings)
    }

    public func start(gpu uuid: String) throws {
        // In the state dir: a link on the way would put the daemon's pipes and logs, and forbc's, elsewhere.
        let gpu = directory.appendingPathComponent(uuid).path
        for path in [directory.path, gpu, pipeDirectory(gpu: uuid), logDirectory(gpu: uuid)]
        where StateDirFile.isLink(path) {
            throw StateDirFile.linkError(path)
        }
        for path in [pipeDirectory(gpu: uuid), logDirectory(gpu: uuid)] {
            try FileManager.default.createDirectory(
                atPath: path, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        }
        // What a daemon that died left (its socket, its pid file) would pass for the new one being up.
        if try daemon(gpu: uuid) == nil {
            for name in ["control", "nvidia-cuda-mps-control.pid"] {
                try? FileManager.default.removeItem(atPath: pipeDirectory(gpu: uuid) + "/" + name)
            }
        }
        // `-d` forks the daemon and returns; it listens on `control` once it is up.
        try spawnDaemon(uuid)
        let deadline = Date().addingTimeInterval(timeout)
        while !FileManager.default.fileExists(atPath: pipeDirectory(gpu: uuid) + "/control") {
            guard Date() < deadline else {
                throw ForbcError(
                    .system,
                    "\(program) -d for \(uuid) did not open \(pipeDirectory(gpu: uuid))/control within "
                        + "\(Int(timeout)) s; see \(logDirectory(gpu: uuid))/control.log")
            }
            Thread.sleep(forTimeInterval: 0.1)
        }
    }

    /// `set_default_active_thread_percentage N` and `set_default_device_pinned_mem_limit 0 VALUE` (device 0: the
    /// daemon sees its GPU alone). Both affect MPS servers started afterwards, not one already running.
    public func configure(gpu uuid: String, _ settings: MPSSettings) throws {
        _ = try control(uuid, "set_default_active_thread_percentage \(settings.activeThreadPercentage)")
        if let limit = settings.pinnedMemoryLimit {
            _ = try control(uuid, "set_default_device_pinned_mem_limit 0 \(limit)")
        }
    }

    /// The control daemon's pid as its pid file in `pipe` (in the state dir) says; nil without one. The file is read
    /// by `BoundedFile`: a FIFO or a huge file there is no pid, never a hang.
    static func pid(in pipe: String) -> Int? {
        let data = try? BoundedFile.read(pipe + "/nvidia-cuda-mps-control.pid", limit: 4096, what: "a pid file")
        return data.flatMap { Int(String(decoding: $0, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)) }
    }

    /// `quit`, then waits for the daemon's process to end.
    public func quit(gpu uuid: String) throws {
        let pid = Self.pid(in: pipeDirectory(gpu: uuid))
        _ = try control(uuid, "quit")
        guard let pid else { return }
        let deadline = Date().addingTimeInterval(timeout)
        while Self.alive(pid) && Date() < deadline { Thread.sleep(forTimeInterval: 0.1) }
    }

    /// What `nvidia-cuda-mps-control` prints when no control daemon runs for its pipe directory.
    static let noDaemon = "Cannot find MPS control daemon process"

    /// Whether process `pid` runs: it exists and is not a zombie (a daemon that quit stays one until its parent,
    /// init after `-d` forked it, reaps it; seen on the H100 machine, whose PID 1 does not).
    static func alive(_ pid: Int) -> Bool {
        guard kill(pid_t(pid), 0) == 0 || errno == EPERM else { return false }
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
            let close = stat.lastIndex(of: ")")
        else { return true }
        return stat[stat.index(after: close)...].trimmingCharacters(in: .whitespaces).first != "Z"
    }

    /// `PROGRAM -d`, waited for (it forks the daemon and returns). The daemon outlives the program and inherits
    /// no descriptor of forbc's (the host lock among them): standard input is /dev/null and its output goes to
    /// the log directory.
    func spawnDaemon(_ uuid: String) throws {
        let output = logDirectory(gpu: uuid) + "/forbc-start.log"
        let fd = open(output, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOFOLLOW, 0o600)
        guard fd >= 0 else {
            throw ForbcError(
                .system, "cannot write \(output): \(String(cString: strerror(errno)))", path: output, errno: errno)
        }
        defer { close(fd) }
        let end = try spawn(["-d"], input: nil, output: .descriptor(fd), uuid).end
        let said = ((try? String(contentsOfFile: output, encoding: .utf8)) ?? "").trimmed
        guard end == .exited(0) else {
            throw ForbcError(
                .system, "'\(program) -d' for \(uuid) failed (\(end))" + (said.isEmpty ? "" : ": \(said)"))
        }
    }

    /// One command to the daemon of `uuid`; its answer, trimmed.
    func control(_ uuid: String, _ command: String) throws -> String {
        try run([], input: command + "\n", uuid)
    }

    /// Runs the control program with the daemon's environment; its standard output, trimmed, or an error with
    /// what it printed.
    func run(_ arguments: [String], input: String?, _ uuid: String) throws -> String {
        let result = try spawn(arguments, input: input, output: .capture, uuid)
        let text = (String(decoding: result.stdout, as: UTF8.self) + String(decoding: result.stderr, as: UTF8.self))
            .trimmed
        guard result.end == .exited(0) else {
            throw ForbcError(
                .system,
                "'\(shown(arguments, input))' for \(uuid) failed (\(result.end))" + (text.isEmpty ? "" : ": \(text)"))
        }
        return text
    }

    /// The control program in `PATH`, run with `arguments` and the daemon's environment, at most `timeout`
    /// seconds; past that it is stopped (with what it started) and the command is an error that says so.
    func spawn(_ arguments: [String], input: String?, output: Spawn.Output, _ uuid: String) throws -> Spawn.Result {
        let merged = ProcessInfo.processInfo.environment.merging(environment(gpu: uuid)) { $1 }
        guard let executable = Spawn.lookUp(program, path: merged["PATH"] ?? "/usr/bin:/bin") else {
            throw ForbcError(
                .unsupported, "cannot run '\(program)' (NVIDIA's MPS control program): it is not in PATH", errno: ENOENT
            )
        }
        let request = Spawn.Request(
            executable: executable, arguments: arguments, environment: merged, input: input.map { Data($0.utf8) },
            output: output, timeout: timeout)
        do {
            return try Spawn.run(request)
        } catch .timedOut {
            throw ForbcError(
                .system,
                "'\(shown(arguments, input))' for \(uuid) did not answer within \(Int(timeout)) s (the daemon may be "
                    + "waiting for a client that hangs); it was stopped")
        } catch .notStarted(let reason, let code) {
            throw ForbcError(
                .unsupported, "cannot run '\(program)' (NVIDIA's MPS control program): \(reason)", errno: code)
        } catch .outputNotEnded {
            throw ForbcError(
                .system, "'\(shown(arguments, input))' for \(uuid) ended but its output did not; it was stopped")
        } catch .waitFailed(let code) {
            throw ForbcError(
                .system,
                "the exit status of '\(shown(arguments, input))' could not be read: \(String(cString: strerror(code)))",
                errno: code)
        } catch .notEnded(let pid) {
            throw ForbcError(
                .system,
                "'\(shown(arguments, input))' \(Spawn.Failure.notEndedWords(pid))")
        }
    }

    /// The command as forbc names it in messages: `PROGRAM ARGS <<< INPUT`.
    func shown(_ arguments: [String], _ input: String?) -> String {
        ([program] + arguments).joined(separator: " ") + (input.map { " <<< \($0.trimmed)" } ?? "")
    }
}

extension String {
    fileprivate var trimmed: String { trimmingCharacters(in: .whitespacesAndNewlines) }
}
