import Foundation
import Synchronization

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
    /// Why `domain`'s agent is taken as not answering: the words of its first failure of that kind (a timeout,
    /// "not responding", "not connected", a state change lock not acquired) since it last answered, or nil. A run
    /// launches nothing more there once it is set (`AgentHealth`).
    func notAnswering(domain: String) -> String?
}

extension GuestAgentChannel {
    public func notAnswering(domain: String) -> String? { nil }
}

/// What a guest-agent channel knows of each domain's agent: the first failure that said it did not answer, kept
/// until it answers again. Both sides of the seam keep one, so the runner can stop spending libvirt's timeout on a
/// guest that has stopped answering.
public final class AgentHealth: Sendable {
    private let silent = Mutex<[String: String]>([:])

    public init() {}

    /// libvirt's words when an agent did not answer, rather than answered with an error: its timeout ("Guest
    /// agent is not responding: Guest agent not available for now", VIR_ERR_AGENT_UNRESPONSIVE, also what a
    /// guest-sync that timed out says), an agent that is gone ("… is not connected", "… disappeared …", "… not
    /// available due to an error"), and another command's job held past libvirt's wait ("Timed out during
    /// operation: cannot acquire state change lock", VIR_ERR_OPERATION_TIMEOUT).
    public static let notAnsweringWords = [
        "Guest agent is not responding", "Guest agent not available for now", "guest agent is not connected",
        "Guest agent disappeared", "guest agent is not available due to an error", "cannot acquire state change lock",
    ]

    /// Whether `words` (an error's message) say the agent did not answer.
    public static func saysNotAnswering(_ words: String) -> Bool {
        notAnsweringWords.contains { words.range(of: $0, options: .caseInsensitive) != nil }
    }

    /// The agent of `domain` answered a command (with a value or with an error of its own).
    public func answered(_ domain: String) { silent.withLock { _ = $0.removeValue(forKey: domain) } }

    /// A command to `domain` failed with `words`; returns whether they say its agent did not answer (then kept,
    /// unless an earlier such failure is).
    @discardableResult
    public func failed(_ domain: String, _ words: String) -> Bool {
        guard Self.saysNotAnswering(words) else { return false }
        silent.withLock { $0[domain] = $0[domain] ?? words }
        return true
    }

    /// The first failure that said `domain`'s agent did not answer, since it last answered.
    public func notAnswering(_ domain: String) -> String? { silent.withLock { $0[domain] } }
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
