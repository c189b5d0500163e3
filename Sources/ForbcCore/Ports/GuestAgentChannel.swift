import Foundation

/// The seam to the agent inside a guest (the QEMU guest agent, reached through libvirt's
/// `virDomainQemuAgentCommand`): run a program in a domain and read what it printed, bring a file in. The real
/// side is `ForbcLibvirt`'s `LibvirtConnection`; `ForbcSimulator`'s `ScriptedGuestAgent` answers from a script.
/// Failures (no agent, a domain that is not running, a command the agent refuses) are `ForbcError`s carrying the
/// agent's or libvirt's own words.
public protocol GuestAgentChannel: Sendable {
    /// `guest-exec` of `arguments` (the first is the program) with `environment`, output captured, then
    /// `guest-exec-status` until it exits; after `timeout` seconds the wait ends with `timedOut` (the real side
    /// then kills the program in the guest).
    func exec(domain: String, _ arguments: [String], environment: [String: String], timeout: Double) throws
        -> GuestExit
    /// `guest-file-open`, `guest-file-write` and `guest-file-close`: `contents` as the file at `path` in the guest.
    func writeFile(domain: String, path: String, contents: Data) throws
    /// `guest-file-open` (read), `guest-file-read` to its end and `guest-file-close`: the file at `path` in the
    /// guest, or nil when there is none (the agent's "No such file or directory").
    func readFile(domain: String, path: String) throws -> Data?
}

/// How a program run in a guest ended, with what it printed.
public struct GuestExit: Sendable, Equatable {
    public var exitCode: Int32?
    public var signal: Int32?
    public var timedOut: Bool
    public var stdout: String
    public var stderr: String

    public init(
        exitCode: Int32? = nil, signal: Int32? = nil, timedOut: Bool = false, stdout: String = "", stderr: String = ""
    ) {
        self.exitCode = exitCode
        self.signal = signal
        self.timedOut = timedOut
        self.stdout = stdout
        self.stderr = stderr
    }
}

extension GuestAgentChannel {
    /// `mkdir -p` of `path` in the guest (the agent has no command of its own for it).
    public func makeDirectory(domain: String, path: String) throws {
        let exit = try exec(domain: domain, ["mkdir", "-p", "--", path], environment: [:], timeout: 30)
        guard exit.exitCode == 0 else {
            let words = (exit.stderr + exit.stdout).trimmingCharacters(in: .whitespacesAndNewlines)
            throw ForbcError(
                .hypervisor,
                "mkdir -p '\(path)' in '\(domain)' failed"
                    + (exit.timedOut ? " (timed out)" : words.isEmpty ? "" : ": \(words)"))
        }
    }
}

/// Runs workload processes inside a domain through its guest agent, behind the process seam the runner uses:
/// the output goes to the log on the host, and an agent that cannot run it is "not started" with its words.
public struct GuestProcesses: ProcessChannel {
    public let agent: any GuestAgentChannel
    public let domain: String

    public init(agent: any GuestAgentChannel, domain: String) {
        self.agent = agent
        self.domain = domain
    }

    public func run(_ arguments: [String], environment: [String: String], log: URL, timeout: Double) -> ProcessExit {
        let exit: GuestExit
        do {
            exit = try agent.exec(domain: domain, arguments, environment: environment, timeout: timeout)
        } catch let error as ForbcError {
            return .notStarted("in domain '\(domain)': \(error.message)")
        } catch {
            return .notStarted("in domain '\(domain)': \(error)")
        }
        let text = exit.stdout + (exit.stderr.isEmpty ? "" : exit.stderr)
        try? StateDirFile.append(Data(text.utf8), to: log)
        if exit.timedOut { return .timedOut }
        if let signal = exit.signal { return .signalled(signal) }
        return .exited(exit.exitCode ?? -1)
    }
}
