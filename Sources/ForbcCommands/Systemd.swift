import ArgumentParser
import ForbcCore
import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// `forbc systemd install`: the units that recreate the partitions at boot and check drift on a timer.
struct Systemd: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "systemd",
        abstract: "Install the systemd units that keep the partitions across reboots and check drift on a timer.",
        subcommands: [SystemdInstall.self])
}

struct SystemdInstall: ForbcSubcommand {
    static let configuration = CommandConfiguration(
        commandName: "install",
        abstract: "Write (or print) forbc's systemd units for a manifest, and enable them.",
        discussion: """
            Units: forbc-partitions.service (at boot: 'apply --partitions-only', after the kernel modules and \
            NVIDIA's vGPU services, before libvirtd or virqemud autostart domains), forbc-apply.service (the whole \
            manifest, attachments too, once libvirtd is up), forbc-drift.service and forbc-drift.timer ('drift \
            --metrics FILE'; exit 2, drift, counts as success). Afterwards: 'systemctl daemon-reload'.

            Examples:
              forbc systemd install --manifest /etc/forbc/host.yaml
              forbc systemd install --manifest /etc/forbc/host.yaml --print
              forbc systemd install --manifest host.yaml --unit-dir /srv/image/etc/systemd/system
            """)

    @Option(help: ArgumentHelp("The manifest the units apply and check.", valueName: "FILE"))
    var manifest: String

    @Option(
        name: .customLong("unit-dir"), help: ArgumentHelp("Where the units are written.", valueName: "DIR"))
    var unitDir = "/etc/systemd/system"

    @Flag(name: .customLong("print"), help: "Print the units instead of writing them.")
    var printUnits = false

    @Flag(name: .customLong("no-enable"), help: "Write the units without the links 'systemctl enable' makes.")
    var noEnable = false

    @Option(
        help: ArgumentHelp(
            "The Prometheus textfile the drift check writes (node_exporter's textfile collector folder).",
            valueName: "FILE"))
    var metrics = SystemdUnits.defaultMetrics

    @Option(
        name: .customLong("drift-delay"), help: ArgumentHelp("The first drift check after boot.", valueName: "SPAN"))
    var driftDelay = "2min"

    @Option(
        name: .customLong("drift-interval"), help: ArgumentHelp("Time between drift checks.", valueName: "SPAN"))
    var driftInterval = "15min"

    @Option(
        name: .customLong("state-dir"),
        help: ArgumentHelp("The state dir the units pass to forbc (default: forbc's).", valueName: "DIR"))
    var stateDir: String?

    @Option(
        name: .customLong("forbc"),
        help: ArgumentHelp("The forbc executable the units run (default: this one).", valueName: "PATH"))
    var executable: String?

    func execute() throws {
        let file = Self.absolute(manifest)
        // Located errors, and nothing written, for a manifest that is missing or invalid.
        do {
            _ = try loadManifest(file)
        } catch let error as DiagnosticsError {
            throw DiagnosticsError(
                error.diagnostics.map { diagnostic in
                    var located = diagnostic
                    if located.location == nil { located.location = SourceLocation(file: file, line: 1, column: 1) }
                    return located
                })
        }
        let units = try SystemdUnits(
            forbc: try executable.map(Self.absolute) ?? Self.runningExecutable(), manifest: file,
            stateDir: stateDir.map(Self.absolute), metrics: Self.absolute(metrics), driftDelay: driftDelay,
            driftInterval: driftInterval)
        let console = Console.current
        if printUnits {
            for (name, text) in units.files { console.out("# \(unitDir)/\(name)\n\(text)") }
            return
        }
        try UnitWriter(directory: unitDir).install(units.files, links: noEnable ? [] : units.enableLinks)
        for (name, _) in units.files { console.out("wrote \(unitDir)/\(name)") }
        if !noEnable {
            for link in units.enableLinks { console.out("enabled \(unitDir)/\(link.wants)/\(link.unit)") }
        }
        console.err(
            "note: run 'systemctl daemon-reload'; the partitions are applied at the next boot, and "
                + "'systemctl start \(SystemdUnits.timerUnit)' starts the drift checks now")
    }

    static func absolute(_ path: String) -> String {
        let url =
            path.hasPrefix("/")
            ? URL(fileURLWithPath: path)
            : URL(fileURLWithPath: FileManager.default.currentDirectoryPath).appendingPathComponent(path)
        return url.standardizedFileURL.path
    }

    /// This process's executable (`/proc/self/exe`).
    static func runningExecutable() throws -> String {
        guard let path = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe") else {
            throw ForbcError(.unsupported, "cannot tell where this forbc is (/proc/self/exe); pass '--forbc PATH'")
        }
        return path
    }
}

/// Writes unit files beside their final names and renames them once all are written, so a failure leaves no
/// unit behind; each failure names the path and the errno.
struct UnitWriter {
    var directory: String

    func install(_ files: [(name: String, text: String)], links: [(wants: String, unit: String)]) throws {
        var written: [(temporary: String, final: String)] = []
        do {
            for (name, text) in files {
                let final = "\(directory)/\(name)"
                let temporary = "\(directory)/.\(name).forbc-\(getpid())"
                written.append((temporary, final))
                try write(text, to: temporary, naming: final)
            }
        } catch {
            for file in written { unlink(file.temporary) }
            throw error
        }
        for file in written where rename(file.temporary, file.final) != 0 {
            let code = errno
            for file in written { unlink(file.temporary) }
            throw ForbcError.file("renaming \(file.temporary) to", file.final, errno: code)
        }
        for link in links { try enable(link) }
    }

    /// Errors name `final`, the file people asked for, rather than the temporary one beside it.
    func write(_ text: String, to path: String, naming final: String) throws {
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw ForbcError.file("writing", final, errno: errno) }
        defer { close(fd) }
        let bytes = Array(text.utf8)
        var offset = 0
        while offset < bytes.count {
            let count = bytes[offset...].withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
            guard count > 0 else { throw ForbcError.file("writing", final, errno: count < 0 ? errno : Errno.EIO) }
            offset += count
        }
        guard fsync(fd) == 0 else { throw ForbcError.file("writing", final, errno: errno) }
    }

    /// `systemctl enable`'s link: WANTS/UNIT → ../UNIT (relative, so the folder may be an image's).
    func enable(_ link: (wants: String, unit: String)) throws {
        let folder = "\(directory)/\(link.wants)"
        if mkdir(folder, 0o755) != 0 && errno != EEXIST { throw ForbcError.file("creating", folder, errno: errno) }
        let path = "\(folder)/\(link.unit)"
        unlink(path)
        guard symlink("../\(link.unit)", path) == 0 else { throw ForbcError.file("linking", path, errno: errno) }
    }
}

extension ForbcError {
    /// "writing /etc/systemd/system/x.service failed: permission denied (EACCES)".
    static func file(_ operation: String, _ path: String, errno code: Int32) -> ForbcError {
        ForbcError(.system, "\(operation) \(path) failed: \(Errno.describe(code))", path: path, errno: code)
    }
}
