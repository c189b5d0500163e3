import ArgumentParser
import ForbcCore
import ForbcLibvirt
import ForbcSimulator
import Foundation

/// `forbc`: declarative GPU partitioning for Linux KVM hosts.
public struct ForbcCommand: ParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "forbc",
        abstract: "Partition GPUs on a Linux KVM host from a declarative manifest.",
        discussion: """
            Exit codes: 0 success; 1 error (nothing changed unless the report says so); \
            2 changes or drift present (plan --detailed-exitcode, drift).

            Environment: FORBC_ROOT, FORBC_STATE_DIR and FORBC_LIBVIRT_URI give '--root', '--state-dir' and \
            '--libvirt' when those are not passed.

            Examples:
              forbc plan Manifests/quickstart.yaml --simulate nvidia-t4
              FORBC_STATE_DIR=/srv/forbc forbc drift /etc/forbc/host.yaml --metrics /run/forbc.prom
            """,
        version: ForbcVersion.current,
        subcommands: [
            Validate.self, Discover.self, PlanCommand.self, Apply.self, Drift.self, Export.self, Destroy.self,
            Sync.self, Systemd.self, Bench.self, SysfsWrite.self,
        ])

    public init() {}

    /// When this forbc started (for the benchmark harness's own overhead).
    nonisolated(unsafe) static var started = Date()

    /// Runs forbc with `arguments` on `console`; returns the process exit code.
    public static func run(_ arguments: [String], console: Console = .standard) -> Int32 {
        // SIGCHLD inherited ignored would let the kernel reap forbc's children: no exit status to read.
        Spawn.restoreDefaultChildSignal()
        // The version needs no command tree: answered as ArgumentParser answers it, without reflecting on every
        // command's options first (about half of a launch's own work in the static binary).
        if arguments == ["--version"] {
            console.out(ForbcVersion.current)
            return 0
        }
        started = Date()
        return Console.$current.withValue(console) { () -> Int32 in
            do {
                var command = try parseCommand(arguments)
                try command.run()
                return 0
            } catch {
                let code = exitCode(for: error)
                if error is ExitCode { return code.rawValue }
                let message = fullMessage(for: error)
                if code == .success { console.out(message) } else if !message.isEmpty { console.err(message) }
                return code.rawValue
            }
        }
    }
}

extension ForbcCommand {
    /// The command `arguments` select, as `parseAsRoot` parses it. ArgumentParser looks for
    /// `--generate-completion-script` by building and running two more command parsers on every launch, about 1 ms
    /// of a 7 ms discovery (most of it the Swift runtime's first lookups of protocol conformances), for every root
    /// without a super-command. forbc parses with `ParsingRoot`, the same command tree under a root that has one, and
    /// keeps the answer only when it is one of forbc's commands; anything else (help, a completion script, the
    /// version, a group without its command, every error) is parsed again by `parseAsRoot`, which says it as always.
    public static func parseCommand(_ arguments: [String]) throws -> ParsableCommand {
        try quickParse(arguments) ?? parseAsRoot(arguments)
    }

    /// One of forbc's commands as `ParsingRoot` parses `arguments`, or nil for anything else.
    public static func quickParse(_ arguments: [String]) -> ParsableCommand? {
        guard let command = try? ParsingRoot.parseAsRoot(arguments), command is any ForbcSubcommand else { return nil }
        return command
    }
}

/// `ForbcCommand`'s configuration with a super-command name, which only help texts would show (they are never made
/// from this root) and which makes ArgumentParser skip its completion-script check.
struct ParsingRoot: ParsableCommand {
    static let configuration: CommandConfiguration = {
        var configuration = ForbcCommand.configuration
        configuration._superCommandName = ForbcCommand.configuration.commandName
        return configuration
    }()
}

public enum ForbcVersion {
    public static let current = "0.1.0"
}

/// Options every command takes. `--root`, `--state-dir` and `--libvirt` default to `FORBC_ROOT`,
/// `FORBC_STATE_DIR` and `FORBC_LIBVIRT_URI` when those are set, so a fleet sets them once.
struct GlobalOptions: ParsableArguments {
    @Option(
        help: ArgumentHelp(
            "The filesystem root under which /sys is read and written (env FORBC_ROOT; default /).",
            valueName: "DIR"))
    var root: String?

    @Option(
        help: ArgumentHelp(
            "The libvirt connection URI (env FORBC_LIBVIRT_URI; default qemu:///system; simulated hosts use "
                + "libvirt's test driver on a file in the state dir).",
            valueName: "URI"))
    var libvirt: String?

    @Option(
        help: ArgumentHelp(
            "Use a built-in simulated host: \(SimulatedProfiles.names.joined(separator: ", ")).",
            valueName: "PROFILE"))
    var simulate: String?

    @Option(
        name: .customLong("state-dir"),
        help: ArgumentHelp(
            "Where forbc keeps what it created, and a simulated host's state (env FORBC_STATE_DIR; default "
                + "/var/lib/forbc, or ~/.local/state/forbc/simulate/PROFILE).",
            valueName: "DIR"))
    var stateDir: String?

    @Option(help: "Output format: text or json.")
    var output: OutputFormat = .text

    @Flag(name: .shortAndLong, help: "Show the sysfs writes, the causes of errors and more detail.")
    var verbose = false

    enum OutputFormat: String, ExpressibleByArgument, Sendable {
        case text, json
    }

    var json: Bool { output == .json }

    /// An option's value: the flag, else its environment variable when set and not empty.
    static func resolve(_ flag: String?, _ variable: String, _ environment: [String: String]) -> String? {
        flag ?? environment[variable].flatMap { $0.isEmpty ? nil : $0 }
    }

    /// Opens the host, telling people plainly when it is simulated.
    func openHost(environment: [String: String] = ProcessInfo.processInfo.environment) throws -> HostSession {
        let root = Self.resolve(self.root, "FORBC_ROOT", environment) ?? "/"
        let stateDir = Self.resolve(self.stateDir, "FORBC_STATE_DIR", environment)
        let libvirt = Self.resolve(self.libvirt, "FORBC_LIBVIRT_URI", environment) ?? HostSession.defaultLibvirtURI
        let connect: HostSession.HypervisorFactory = { try LibvirtConnection(uri: $0) }
        guard let simulate else {
            return HostSession.open(root: root, stateDir: stateDir, libvirt: libvirt, hypervisor: connect)
        }
        guard root == "/" else {
            throw ForbcError(
                .invalidInput, "'--root' and '--simulate' exclude each other; a simulated host has no root directory")
        }
        let session = try SimulatedHost.open(
            profile: simulate, stateDir: stateDir, libvirt: libvirt, hypervisor: connect, environment: environment)
        Console.current.err("note: \(session.banner)")
        return session
    }
}

/// The manifest a command works on, and how far it may go with partitions in use.
struct ManifestArguments: ParsableArguments {
    @Argument(help: ArgumentHelp("The manifest.", valueName: "FILE"))
    var file: String

    @Flag(help: "Detach partitions from running domains (live) so that they can be destroyed.")
    var force = false

    /// Reads the manifest and plans it on the host.
    func plan(on host: HostSession, destroy: Bool = false) throws -> (Manifest, Plan) {
        let manifest = destroy ? try loadManifest(file) : try loadTrackedManifest(file)
        return (manifest, try plan(manifest, on: host, destroy: destroy))
    }

    /// Plans an already loaded manifest on the host.
    func plan(_ manifest: Manifest, on host: HostSession, destroy: Bool = false) throws -> Plan {
        destroy ? try host.destroyPlan(manifest, force: force) : try host.plan(manifest, force: force)
    }
}

/// Shared error handling: forbc's errors are printed once, in forbc's voice, with exit code 1.
protocol ForbcSubcommand: ParsableCommand {
    func execute() throws
}

/// A command that opens the host, with the options every such command takes.
protocol HostCommand: ForbcSubcommand {
    var global: GlobalOptions { get }
}

extension ForbcSubcommand {
    func run() throws {
        do {
            try execute()
        } catch let error as DiagnosticsError {
            for diagnostic in error.diagnostics { Console.current.err(diagnostic.description) }
            throw ExitCode.failure
        } catch let error as ForbcError {
            Console.current.err("error: \(error.message)")
            if (self as? any HostCommand)?.global.verbose == true, let cause = error.causeDescription {
                Console.current.err("  cause: \(cause)")
            }
            throw ExitCode.failure
        }
    }
}

/// Reads a manifest named on the command line (a pipe or `/dev/stdin` too), turning problems into diagnostics.
func loadManifest(_ path: String) throws -> Manifest {
    try ManifestParser.parse(contentsOf: path, streams: .read)
}

/// Reads a manifest with its git provenance when it sits in a git work tree. Provenance git cannot give (git
/// missing, a repository owned by another user) is a warning, not a reason to stop a plan or an apply.
func loadTrackedManifest(_ path: String, git: any GitChannel = RealGit()) throws -> Manifest {
    var manifest = try loadManifest(path)
    do {
        manifest.source = try ManifestSource.lookup(manifest: path, git: git)
    } catch let error as ForbcError {
        Console.current.err("warning: provenance not recorded: \(error.message)")
    }
    return manifest
}
