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
            NVIDIA's vGPU services, before libvirtd or virtqemud autostart domains), forbc-apply.service (the whole \
            manifest, attachments too, once libvirtd is up), forbc-drift.service and forbc-drift.timer ('drift \
            --metrics FILE'; exit 2, drift, counts as success). Afterwards: 'systemctl daemon-reload'. A unit file \
            or '.wants' entry of the same name that forbc did not write is not replaced without '--force'. \
            FORBC_STATE_DIR and FORBC_LIBVIRT_URI give '--state-dir' and '--libvirt' (the units' environment); \
            FORBC_ROOT other than '/' is refused: boot units act on this host's /sys.

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
        help: ArgumentHelp(
            "The state dir the units pass to forbc (env FORBC_STATE_DIR; default: forbc's).", valueName: "DIR"))
    var stateDir: String?

    @Option(
        help: ArgumentHelp(
            "The libvirt URI the units pass to forbc (env FORBC_LIBVIRT_URI; default: forbc's).", valueName: "URI"))
    var libvirt: String?

    @Flag(help: "Replace unit files and '.wants' entries of the same names that forbc did not write.")
    var force = false

    @Option(
        name: .customLong("forbc"),
        help: ArgumentHelp("The forbc executable the units run (default: this one).", valueName: "PATH"))
    var executable: String?

    func execute() throws {
        try execute(environment: ProcessInfo.processInfo.environment)
    }

    func execute(environment: [String: String]) throws {
        if let root = environment["FORBC_ROOT"], !root.isEmpty, Self.absolute(root) != "/" {
            throw ForbcError(
                .invalidInput,
                "FORBC_ROOT is '\(root)', but boot units act on this host's /sys, not under a root; unset it to "
                    + "install them")
        }
        let stateDir = GlobalOptions.resolve(stateDir, "FORBC_STATE_DIR", environment)
        let libvirt = GlobalOptions.resolve(libvirt, "FORBC_LIBVIRT_URI", environment)
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
            stateDir: stateDir.map(Self.absolute), libvirt: libvirt, metrics: Self.absolute(metrics),
            driftDelay: driftDelay, driftInterval: driftInterval)
        let console = Console.current
        if printUnits {
            for (name, text) in units.files { console.out("# \(unitDir)/\(name)\n\(text)") }
            return
        }
        try UnitWriter(directory: unitDir, force: force).install(
            units.files, links: noEnable ? [] : units.enableLinks)
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
/// unit behind; each failure names the path and the errno. Without `force`, a file of the same name that forbc did
/// not write (one not beginning with its header, a link or other file, e.g. a mask) is refused before anything is
/// written, and so is a `.wants` entry that is not a link to the unit.
struct UnitWriter {
    var directory: String
    var force = false

    func install(_ files: [(name: String, text: String)], links: [(wants: String, unit: String)]) throws {
        try refuseUnreplaceable(files.map(\.name), links: links)
        if !force { try refuseForeign(files.map(\.name), links: links) }
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

    /// What even `--force` does not replace, found before anything is written (the units are renamed into place
    /// before the links are made: a link that cannot be made must not leave them behind): a directory where a unit
    /// file or a `.wants` link goes, and a `.wants` folder that is not a directory.
    func refuseUnreplaceable(_ names: [String], links: [(wants: String, unit: String)]) throws {
        var blocked: [(path: String, what: String)] = []
        for path in names.map({ "\(directory)/\($0)" }) + links.map({ "\(directory)/\($0.wants)/\($0.unit)" }) {
            var info = stat()
            if lstat(path, &info) == 0 && info.st_mode & S_IFMT == S_IFDIR { blocked.append((path, "is a directory")) }
        }
        for folder in Set(links.map(\.wants)).sorted().map({ "\(directory)/\($0)" }) {
            var info = stat()
            guard lstat(folder, &info) == 0 else { continue }
            if stat(folder, &info) != 0 {
                blocked.append((folder, "is a link to nothing, not a directory"))
            } else if info.st_mode & S_IFMT != S_IFDIR {
                blocked.append((folder, "is a file, not a directory"))
            }
        }
        guard let first = blocked.first else { return }
        throw ForbcError(
            .invalidInput,
            blocked.map { "\($0.path) \($0.what)" }.joined(separator: ", ") + "; forbc replaces unit files and "
                + "links there, never a directory or a file in the place of a '.wants' folder, even with '--force'; "
                + "nothing was written: move \(blocked.count == 1 ? "it" : "them") aside",
            path: first.path)
    }

    /// Every unit file and `.wants` entry of these names that forbc would replace but did not write.
    func refuseForeign(_ names: [String], links: [(wants: String, unit: String)]) throws {
        var foreign: [String] = []
        for name in names {
            let path = "\(directory)/\(name)"
            if let existing = try Self.existing(at: path), existing != .forbcUnit { foreign.append(path) }
        }
        for link in links {
            let path = "\(directory)/\(link.wants)/\(link.unit)"
            // systemctl enable's link is absolute, forbc's relative: either names the unit.
            guard let existing = try Self.existing(at: path) else { continue }
            if case .link(let target) = existing, target.split(separator: "/").last.map(String.init) == link.unit {
                continue
            }
            foreign.append(path)
        }
        guard let first = foreign.first else { return }
        throw ForbcError(
            .invalidInput,
            "\(foreign.joined(separator: ", ")) \(foreign.count == 1 ? "was" : "were") not written by forbc (a unit "
                + "file must begin with \"\(SystemdUnits.headerPrefix)\", a .wants entry be a link to the unit); "
                + "nothing was written: move \(foreign.count == 1 ? "it" : "them") aside, or pass '--force' to "
                + "replace \(foreign.count == 1 ? "it" : "them")",
            path: first)
    }

    /// What a path holds: a file that begins with forbc's header, a symbolic link (to its target), or else.
    enum Existing: Equatable {
        case forbcUnit
        case link(String)
        case other
    }

    /// What is at `path` (nil: nothing).
    static func existing(at path: String) throws -> Existing? {
        var info = stat()
        guard lstat(path, &info) == 0 else {
            if errno == ENOENT || errno == ENOTDIR { return nil }
            throw ForbcError.file("inspecting", path, errno: errno)
        }
        switch info.st_mode & S_IFMT {
        case S_IFLNK:
            return .link((try? FileManager.default.destinationOfSymbolicLink(atPath: path)) ?? "")
        case S_IFREG:
            let fd = open(path, O_RDONLY | O_CLOEXEC)
            guard fd >= 0 else { throw ForbcError.file("reading", path, errno: errno) }
            defer { close(fd) }
            let prefix = Array(SystemdUnits.headerPrefix.utf8)
            var buffer = [UInt8](repeating: 0, count: prefix.count)
            let count = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, prefix.count) }
            guard count >= 0 else { throw ForbcError.file("reading", path, errno: errno) }
            return count == prefix.count && buffer == prefix ? .forbcUnit : .other
        default:
            return .other
        }
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
