import CLibvirt
import ForbcCore
import Foundation

/// The QEMU guest agent of a domain, through libvirt-qemu's `virDomainQemuAgentCommand` (JSON in, JSON out); what
/// forbc does with its commands is `GuestAgentSession`'s.
extension LibvirtConnection: GuestAgentChannel {
    /// The agent commands over this connection, with what it knows of each domain's agent.
    var agentSession: GuestAgentSession {
        GuestAgentSession(send: { try self.agent($0, $1, $2, timeout: $3) }, health: agentHealth)
    }

    /// One agent command: `execute` with `arguments`, libvirt waiting `timeout` seconds at most for the answer;
    /// returns the reply's `return` value.
    func agent(_ domainName: String, _ execute: String, _ arguments: [String: Any], timeout: Int32) throws -> Any {
        guard let domain = api.virDomainLookupByName(connection, domainName) else {
            throw Self.error("virDomainLookupByName('\(domainName)')")
        }
        defer { _ = api.virDomainFree(domain) }
        let command = try JSONSerialization.data(withJSONObject: ["execute": execute, "arguments": arguments])
        guard let reply = api.virDomainQemuAgentCommand(domain, String(decoding: command, as: UTF8.self), timeout, 0)
        else {
            throw Self.error("virDomainQemuAgentCommand('\(domainName)', \(execute))")
        }
        defer { free(reply) }
        let text = String(cString: reply)
        guard let object = try? JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any],
            let value = object["return"]
        else {
            throw ForbcError(.hypervisor, "the guest agent of '\(domainName)' answered \(execute) with '\(text)'")
        }
        return value
    }

    public func exec(domain: String, _ arguments: [String], environment: [String: String], timeout: Double) throws
        -> GuestExit
    {
        try agentSession.exec(domain: domain, arguments, environment: environment, timeout: timeout)
    }

    public func writeFile(domain: String, path: String, contents: Data) throws {
        let session = agentSession
        try session.locating(path) { try session.writeFile(domain: domain, path: path, contents: contents) }
    }

    public func readFile(domain: String, path: String) throws -> Data? {
        let session = agentSession
        return try session.locating(path) { try session.readFile(domain: domain, path: path) }
    }

    public func notAnswering(domain: String) -> String? { agentHealth.notAnswering(domain) }

    /// `guest-exec`'s arguments. The agent gives a child its `env` *instead of* its own environment (no `PATH`,
    /// no `HOME`: a Python found by the agent's `PATH` then cannot even find its own library), so the variables
    /// are added over the agent's environment as they are over forbc's on the host: none sends no `env`, some run
    /// the program through `env -- NAME=VALUE…` (a program it cannot find is then env's exit 127 and its words, not
    /// the agent's error).
    static func execArguments(_ arguments: [String], environment: [String: String]) -> [String: Any] {
        let assignments = environment.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }
        let argv = assignments.isEmpty ? arguments : ["env", "--"] + assignments + arguments
        return ["path": argv[0], "arg": Array(argv.dropFirst()), "capture-output": true]
    }

    /// A finished `guest-exec-status` reply as forbc's.
    static func exit(_ status: [String: Any]) -> GuestExit {
        func text(_ key: String) -> String {
            (status[key] as? String).flatMap { Data(base64Encoded: $0) }.map { String(decoding: $0, as: UTF8.self) }
                ?? ""
        }
        return GuestExit(
            exitCode: (status["exitcode"] as? Int).map(Int32.init), signal: (status["signal"] as? Int).map(Int32.init),
            stdout: text("out-data"), stderr: text("err-data"))
    }

    /// The most `readFile` reads (forbc reads small files: the co-tenants' ready lines).
    static let readLimit = 16 << 20
}

/// forbc's guest-agent commands over one function that sends a command with a timeout (libvirt's
/// `virDomainQemuAgentCommand`; a fake in tests). Each command waits libvirt's timeout at most (30 s; libvirt may add
/// its own wait for another command's job, up to 30 s, and a `guest-sync` of up to 5 s), so once a domain's agent
/// has not answered (`AgentHealth`) nothing more waits that long for it: every later command to it gets 5 s
/// until it answers again, housekeeping (close, kill) always gets 5 s, a close that waited is not tried again, and
/// a program whose `guest-exec-status` polls go unanswered fails after two more short polls (its own deadline
/// stays what it was).
struct GuestAgentSession {
    typealias Send = (_ domain: String, _ execute: String, _ arguments: [String: Any], _ timeout: Int32) throws -> Any

    let send: Send
    let health: AgentHealth
    var sleep: (Double) -> Void = { Thread.sleep(forTimeInterval: $0) }
    var now: () -> Date = { Date() }

    /// Seconds libvirt waits for an answer to a command.
    static let commandTimeout: Int32 = 30
    /// Seconds for housekeeping, and for every command to a domain whose agent has not answered.
    static let shortTimeout: Int32 = 5
    /// Polls of a running program tried after one went unanswered, before it counts as lost.
    static let unansweredPolls = 2

    /// One command, with `limit` seconds at most (`shortTimeout` for a domain whose agent has not answered). A
    /// failure that says the agent did not answer says how long it waited, and is kept (`health`) when a command
    /// with the whole `commandTimeout` waited all of it; a refusal at once is not (it cost nothing, and may be
    /// qemu-ga restarting).
    func call(_ domain: String, _ execute: String, _ arguments: [String: Any], limit: Int32 = commandTimeout)
        throws -> Any
    {
        let timeout = health.notAnswering(domain) == nil ? limit : min(limit, Self.shortTimeout)
        let start = now()
        do {
            let value = try send(domain, execute, arguments, timeout)
            health.answered(domain)
            return value
        } catch let error as ForbcError {
            guard AgentHealth.saysNotAnswering(error.message) else {
                // qemu-ga's own error ("unable to execute QEMU agent command '…': …") is an answer.
                if error.message.contains("unable to execute QEMU agent command") { health.answered(domain) }
                throw error
            }
            let waited = now().timeIntervalSince(start)
            var failure = error
            if waited >= 1 { failure.message += String(format: " (after %.1f s; timeout %d s)", waited, timeout) }
            // Kept only when a whole command's limit went unanswered: a refusal at once (qemu-ga restarting) or a
            // guest-sync that gave up after 5 s cost little, and a short housekeeping command that ran out (a close
            // on a guest merely slow) must not shorten the real work's commands.
            if timeout >= Self.commandTimeout && waited >= Double(timeout) - 1 {
                health.failed(domain, failure.message)
            }
            throw failure
        }
    }

    /// The per-command limit of a program that may run `timeout` seconds: 5 to 30 s.
    static func limit(for timeout: Double) -> Int32 {
        Int32(min(Double(commandTimeout), max(Double(shortTimeout), timeout.rounded(.up))))
    }

    func exec(domain: String, _ arguments: [String], environment: [String: String], timeout: Double) throws
        -> GuestExit
    {
        guard let program = arguments.first else { throw ForbcError(.invalidInput, "nothing to run in '\(domain)'") }
        let limit = Self.limit(for: timeout)
        let execArguments = LibvirtConnection.execArguments(arguments, environment: environment)
        let started = try call(domain, "guest-exec", execArguments, limit: limit)
        guard let pid = (started as? [String: Any])?["pid"] as? Int else {
            throw ForbcError(.hypervisor, "the guest agent of '\(domain)' started '\(program)' without a pid")
        }
        let start = now()
        let deadline = start.addingTimeInterval(timeout)
        var unanswered = 0
        while now() < deadline {
            do {
                let status = try call(domain, "guest-exec-status", ["pid": pid], limit: limit) as? [String: Any] ?? [:]
                unanswered = 0
                if status["exited"] as? Bool == true { return LibvirtConnection.exit(status) }
            } catch let error as ForbcError where AgentHealth.saysNotAnswering(error.message) {
                unanswered += 1
                guard unanswered <= Self.unansweredPolls else {
                    throw ForbcError(
                        .hypervisor,
                        "the guest agent of '\(domain)' stopped answering while '\(program)' (pid \(pid)) ran: "
                            + String(format: "%d polls unanswered, %.1f s after it started", unanswered, waited(start))
                            + "; it may still run there; the last: \(error.message)")
                }
            }
            sleep(0.2)
        }
        // The agent has no command to end what it started: a `kill` of its own, best effort and short, so that a
        // hung workload does not go on loading the guest.
        _ = try? call(domain, "guest-exec", ["path": "kill", "arg": ["-KILL", String(pid)]], limit: Self.shortTimeout)
        return GuestExit(timedOut: true)
    }

    func waited(_ start: Date) -> Double { now().timeIntervalSince(start) }

    /// `body`'s failure, when it says the agent did not answer, with the file it was for.
    func locating<T>(_ path: String, _ body: () throws -> T) throws -> T {
        do {
            return try body()
        } catch let error as ForbcError where AgentHealth.saysNotAnswering(error.message) {
            var located = error
            located.message += " (file '\(path)')"
            throw located
        }
    }

    func writeFile(domain: String, path: String, contents: Data) throws {
        guard let handle = try call(domain, "guest-file-open", ["path": path, "mode": "w"]) as? Int else {
            throw ForbcError(.hypervisor, "the guest agent of '\(domain)' did not open '\(path)'")
        }
        defer { closeFile(domain, handle) }
        // guest-file-write takes base64; keep each call well under the agent's message limit.
        var offset = 0
        repeat {
            let chunk = contents[offset..<min(contents.count, offset + 48 * 1024)]
            _ = try call(domain, "guest-file-write", ["handle": handle, "buf-b64": chunk.base64EncodedString()])
            offset += chunk.count
        } while offset < contents.count
    }

    /// `guest-file-close` (housekeeping: 5 s at most), tried again twice (0.1 s apart) only when it was refused
    /// at once: a handle the agent never closes stays open in qemu-ga, but one that did not answer in time is not
    /// answering (libvirt words a timeout "Guest agent not available for now" too, so the time it took decides).
    func closeFile(_ domain: String, _ handle: Int) {
        for attempt in 0..<3 {
            if attempt > 0 { sleep(0.1) }
            let start = now()
            if (try? call(domain, "guest-file-close", ["handle": handle], limit: Self.shortTimeout)) != nil { return }
            if waited(start) >= 1 { return }
        }
    }

    func readFile(domain: String, path: String) throws -> Data? {
        let opened: Any
        do {
            opened = try call(domain, "guest-file-open", ["path": path, "mode": "r"])
        } catch let error as ForbcError where error.message.contains("No such file or directory") {
            // qemu-ga: "failed to open file '…' (mode: 'r'): No such file or directory" (strerror, C locale).
            return nil
        }
        guard let handle = opened as? Int else {
            throw ForbcError(.hypervisor, "the guest agent of '\(domain)' did not open '\(path)'")
        }
        defer { closeFile(domain, handle) }
        var contents = Data()
        while true {
            let reply = try call(domain, "guest-file-read", ["handle": handle, "count": 48 * 1024])
            let chunk = reply as? [String: Any] ?? [:]
            let data = (chunk["buf-b64"] as? String).flatMap { Data(base64Encoded: $0) } ?? Data()
            contents += data
            if chunk["eof"] as? Bool == true || data.isEmpty { return contents }
            let limit = LibvirtConnection.readLimit
            guard contents.count <= limit else {
                throw ForbcError(
                    .hypervisor, "'\(path)' in '\(domain)' is over \(limit >> 20) MiB; forbc reads no more")
            }
        }
    }
}
