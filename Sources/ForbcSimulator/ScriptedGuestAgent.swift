import ForbcCore
import Foundation
import Synchronization

/// The simulated side of the guest-agent seam: domains whose agent answers from a script. Its failures use the
/// words libvirt and the QEMU guest agent use for them (a domain that is not running, an agent that is not
/// connected, a program the guest cannot start), so code that records them is tested against those texts.
public final class ScriptedGuestAgent: GuestAgentChannel, Sendable {
    /// A domain as the agent channel sees it.
    public enum Guest: Sendable {
        /// Running with an agent that runs these programs (keyed by argv[0]).
        case running([String: ScriptedProcesses.Script])
        /// Running, but no agent answers (not installed, not started, no virtio-serial channel).
        case noAgent
        case shutOff
    }

    private let guests: [String: Guest]
    private let files = Mutex<[String: Data]>([:])

    public init(_ guests: [String: Guest]) { self.guests = guests }

    /// Files written into guests, by "DOMAIN:PATH".
    public var written: [String: Data] { files.withLock { $0 } }

    func guest(_ domain: String, _ command: String) throws -> [String: ScriptedProcesses.Script] {
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
        }
    }

    public func exec(domain: String, _ arguments: [String], environment: [String: String], timeout: Double) throws
        -> GuestExit
    {
        let programs = try guest(domain, "guest-exec")
        let program = arguments.first ?? ""
        guard let script = programs[program] else {
            throw ForbcError(
                .hypervisor,
                "libvirt: virDomainQemuAgentCommand('\(domain)', guest-exec) failed: internal error: unable to "
                    + "execute QEMU agent command 'guest-exec': Guest agent command failed, error was 'Failed to "
                    + "execute child process “\(program)” (No such file or directory)'")
        }
        switch script.exit {
        case .timedOut: return GuestExit(timedOut: true)
        case .signalled(let signal): return GuestExit(signal: signal, stdout: script.output)
        case .exited(let code): return GuestExit(exitCode: code, stdout: script.output)
        case .notStarted(let reason): throw ForbcError(.hypervisor, reason)
        }
    }

    public func writeFile(domain: String, path: String, contents: Data) throws {
        _ = try guest(domain, "guest-file-open")
        files.withLock { $0["\(domain):\(path)"] = contents }
    }
}
