import ForbcCore
import Foundation
import Synchronization

/// The simulated side of the guest-agent seam: domains whose agent answers from a script. Its failures use the
/// words libvirt and the QEMU guest agent use for them (a domain that is not running, an agent that is not
/// connected, a program the guest cannot start), so code that records them is tested against those texts. Each
/// guest has a small file system: `mkdir -p` and `rm -rf` are built in (unless scripted), a file can be written
/// only into a folder that exists (`/tmp` does), and co-tenants' release files live there too.
public final class ScriptedGuestAgent: GuestAgentChannel, Sendable {
    /// A domain as the agent channel sees it.
    public enum Guest: Sendable {
        /// Running with an agent that runs these programs (keyed by argv[0]).
        case running([String: ScriptedProcesses.Script])
        /// Running, but no agent answers (not installed, not started, no virtio-serial channel).
        case noAgent
        /// Running with an agent that runs these programs until the program `once` (argv[0]) has started: from
        /// then on it answers nothing, and every command (that program's `guest-exec-status` first) fails as
        /// libvirt's timeout does. The wait is not slept: `commands` counts the calls, marked "(no answer)".
        case stopsAnswering(once: String, [String: ScriptedProcesses.Script])
        case shutOff
    }

    private let guests: [String: Guest]
    private let files = Mutex<[String: Data]>([:])
    private let folders = Mutex<Set<String>>([])
    private let recorded = Mutex<[String]>([])
    /// The domains whose agent has stopped answering (`Guest.stopsAnswering`).
    private let stopped = Mutex<Set<String>>([])
    private let health = AgentHealth()

    public init(_ guests: [String: Guest]) { self.guests = guests }

    /// Files in the guests now (written through the agent, or by scripted tenants), by "DOMAIN:PATH".
    public var written: [String: Data] { files.withLock { $0 } }

    /// Every agent command, as "DOMAIN: COMMAND ARGUMENT" (the program and its arguments for guest-exec, the path
    /// for the file commands), in order.
    public var commands: [String] { recorded.withLock { $0 } }

    func record(_ domain: String, _ command: String) { recorded.withLock { $0.append("\(domain): \(command)") } }

    func hasFolder(_ domain: String, _ path: String) -> Bool {
        let folder = (path as NSString).deletingLastPathComponent
        return ["/", "/tmp"].contains(folder) || folders.withLock { $0.contains("\(domain):\(folder)") }
    }

    public func notAnswering(domain: String) -> String? { health.notAnswering(domain) }

    /// The failure of an agent that did not answer `command` in time, as libvirt words its timeout.
    func noAnswer(_ domain: String, _ command: String) -> ForbcError {
        record(domain, "\(command) (no answer)")
        let error = ForbcError(
            .hypervisor,
            "libvirt: virDomainQemuAgentCommand('\(domain)', \(command.split(separator: " ")[0])) failed: Guest "
                + "agent is not responding: Guest agent not available for now")
        health.failed(domain, error.message)
        return error
    }

    /// The programs of a guest whose agent answers `command`, or libvirt's failure.
    func guest(_ domain: String, _ command: String) throws -> [String: ScriptedProcesses.Script] {
        do {
            let programs = try answering(domain, command)
            health.answered(domain)
            return programs
        } catch let error as ForbcError {
            health.failed(domain, error.message)
            throw error
        }
    }

    func answering(_ domain: String, _ command: String) throws -> [String: ScriptedProcesses.Script] {
        let call = "libvirt: virDomainQemuAgentCommand('\(domain)', \(command)) failed"
        switch guests[domain] {
        case nil:
            throw ForbcError(
                .hypervisor,
                "libvirt: virDomainLookupByName('\(domain)') failed: Domain not found: no domain with "
                    + "matching name '\(domain)'")
        case .shutOff:
            throw ForbcError(.hypervisor, "\(call): Requested operation is not valid: domain is not running")
        case .noAgent:
            throw ForbcError(
                .hypervisor, "\(call): Guest agent is not responding: QEMU guest agent is not connected")
        case .running(let programs):
            return programs
        case .stopsAnswering(_, let programs):
            guard !stopped.withLock({ $0.contains(domain) }) else { throw noAnswer(domain, command) }
            return programs
        }
    }

    public func exec(domain: String, _ arguments: [String], environment: [String: String], timeout: Double) throws
        -> GuestExit
    {
        let programs = try guest(domain, "guest-exec")
        record(domain, "guest-exec " + arguments.joined(separator: " "))
        let program = arguments.first ?? ""
        if programs[program] == nil, let builtIn = builtIn(domain, arguments) { return builtIn }
        if case .stopsAnswering(let once, _) = guests[domain], program == once {
            stopped.withLock { _ = $0.insert(domain) }
            throw noAnswer(domain, "guest-exec-status \(program)")
        }
        guard let script = programs[program] else {
            throw ForbcError(
                .hypervisor,
                "libvirt: virDomainQemuAgentCommand('\(domain)', guest-exec) failed: internal error: unable to "
                    + "execute QEMU agent command 'guest-exec': Guest agent command failed, error was 'Failed to "
                    + "execute child process “\(program)” (No such file or directory)'")
        }
        let (released, ending) = script.rendezvous(
            arguments, timeout: timeout, files: GuestRendezvousFiles(agent: self, domain: domain))
        let output = released + (ending == nil ? script.output : "")
        switch ending ?? script.exit {
        case .timedOut: return GuestExit(timedOut: true)
        case .signalled(let signal): return GuestExit(signal: signal, stdout: output)
        case .exited(let code): return GuestExit(exitCode: code, stdout: output)
        case .notStarted(let reason): throw ForbcError(.hypervisor, reason)
        }
    }

    /// `mkdir -p FOLDER…` and `rm -rf PATH…` on the guest's files.
    func builtIn(_ domain: String, _ arguments: [String]) -> GuestExit? {
        let paths = arguments.dropFirst().filter { !$0.hasPrefix("-") }
        switch arguments.first {
        case "mkdir":
            folders.withLock {
                for path in paths {
                    var folder = path
                    while folder.count > 1 {
                        $0.insert("\(domain):\(folder)")
                        folder = (folder as NSString).deletingLastPathComponent
                    }
                }
            }
        case "rm":
            let prefixes = paths.map { "\(domain):\($0)" }
            let gone = { (key: String) in prefixes.contains { key == $0 || key.hasPrefix($0 + "/") } }
            files.withLock { $0 = $0.filter { !gone($0.key) } }
            folders.withLock { $0 = $0.filter { !gone($0) } }
        default: return nil
        }
        return GuestExit(exitCode: 0)
    }

    public func writeFile(domain: String, path: String, contents: Data) throws {
        _ = try guest(domain, "guest-file-open")
        record(domain, "guest-file-write \(path)")
        guard hasFolder(domain, path) else { throw Self.noSuchFile(domain, path, mode: "w") }
        files.withLock { $0["\(domain):\(path)"] = contents }
    }

    public func readFile(domain: String, path: String) throws -> Data? {
        _ = try guest(domain, "guest-file-open")
        record(domain, "guest-file-read \(path)")
        return files.withLock { $0["\(domain):\(path)"] }
    }

    /// qemu-ga's refusal to open a file in a folder that does not exist, as libvirt passes it on.
    static func noSuchFile(_ domain: String, _ path: String, mode: String) -> ForbcError {
        ForbcError(
            .hypervisor,
            "libvirt: virDomainQemuAgentCommand('\(domain)', guest-file-open) failed: internal error: unable to "
                + "execute QEMU agent command 'guest-file-open': failed to open file '\(path)' (mode: '\(mode)'): No "
                + "such file or directory")
    }

    /// A scripted tenant's release files in this guest.
    struct GuestRendezvousFiles: RendezvousFiles {
        let agent: ScriptedGuestAgent
        let domain: String

        func append(_ path: String, _ text: String) {
            _ = agent.builtIn(domain, ["mkdir", "-p", (path as NSString).deletingLastPathComponent])
            agent.files.withLock { $0["\(domain):\(path)", default: Data()] += Data(text.utf8) }
        }

        func exists(_ path: String) -> Bool { agent.files.withLock { $0["\(domain):\(path)"] != nil } }
    }
}
