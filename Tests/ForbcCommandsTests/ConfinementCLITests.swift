import ForbcCore
import ForbcTestSupport
import Foundation
import Testing

/// strace, when it is installed and may trace here (ptrace can be forbidden in a container).
enum Strace {
    static let path = ["/usr/bin/strace", "/bin/strace"].first { FileManager.default.isExecutableFile(atPath: $0) }
    static let usable: Bool = {
        guard let path else { return false }
        return (try? runProcess(path, ["-o", "/dev/null", "/bin/true"]).code) == 0
    }()
}

/// Runs a program to its end, `environment` added to this process's; its exit status and what it wrote to
/// stderr (stdout is dropped).
func runProcess(
    _ path: String, _ arguments: [String], environment: [String: String] = [:]
) throws -> (code: Int32, stderr: String) {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: path)
    process.arguments = arguments
    if !environment.isEmpty { process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 } }
    process.standardOutput = FileHandle.nullDevice
    let errors = Pipe()
    process.standardError = errors
    try process.run()
    let data = errors.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return (process.terminationStatus, String(decoding: data, as: UTF8.self))
}

/// The built forbc, beside the test bundle or in .build/debug.
func forbcBinary() -> String {
    let beside = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent(
        "forbc")
    return FileManager.default.fileExists(atPath: beside.path)
        ? beside.path : RepositoryPaths.root.appendingPathComponent(".build/debug/forbc").path
}

/// One traced open or write: the path it asked for (joined to its directory descriptor's path) and the path the
/// descriptor it got or wrote to resolves to, as `strace -y` shows them.
struct TracedCall {
    var call: String
    var intended: String?
    var resolved: String?

    /// Parses a line of `strace -y` output for open, openat, openat2 or write; nil for anything else.
    init?(line: String) {
        guard let open = line.firstIndex(of: "(") else { return nil }
        call = String(line[..<open])
        let rest = line[line.index(after: open)...]
        switch call {
        case "write":
            resolved = Self.between(rest, "<", ">")
        case "open", "openat", "openat2":
            guard let name = Self.between(rest, "\"", "\"") else { return nil }
            let directory = call == "open" ? nil : Self.between(rest, "<", ">")
            intended = name.hasPrefix("/") ? name : (directory ?? "?") + "/" + name
            if let result = line.range(of: ") = ", options: .backwards), !line[result.upperBound...].hasPrefix("-") {
                resolved = Self.between(line[result.upperBound...], "<", ">")
            }
        default:
            return nil
        }
    }

    static func between(_ text: Substring, _ start: Character, _ end: Character) -> String? {
        guard let from = text.firstIndex(of: start) else { return nil }
        let tail = text[text.index(after: from)...]
        return tail.firstIndex(of: end).map { String(tail[..<$0]) }
    }
}

@Suite("confinement under --root, from the command line")
struct ConfinementCLITests {
    static let manifest = CannedManifests.twoT4s

    @Test("discover with a root that does not exist, or has no 'sys', exits 1 naming it")
    func unusableRoot() throws {
        let cli = CLI()
        let base = makeTemporaryDirectory("roots")
        defer { try? FileManager.default.removeItem(at: base) }
        let missing = base.appendingPathComponent("nonexistent").path
        let result = cli.run(["discover", "--root", missing, "--state-dir", cli.stateDir.path])
        #expect(result.code == 1)
        #expect(
            result.stderr
                == "error: the root '\(missing)' cannot be opened: no such file or directory (ENOENT); '--root' "
                + "names a directory holding a copy of sysfs under 'sys'\n")
        let bare = cli.run(["discover", "--root", base.path, "--state-dir", cli.stateDir.path])
        #expect(bare.code == 1)
        #expect(bare.stderr.hasPrefix("error: the root '\(base.path)' has no 'sys'; "), "\(bare.stderr)")
    }

    @Test("drift on a tree whose type 'devices' is a file exits 1 (an error), not 2 (drift)")
    func malformedTreeIsAnError() throws {
        let cli = CLI()
        let tree = try PoisonedTree()
        defer { tree.remove() }
        let devices = SysPath.pci(PoisonedTree.gpu, "mdev_supported_types/nvidia-224/devices")
        try tree.replaceWithFile(devices)
        let result = cli.run([
            "drift", "--root", tree.root.path, "--state-dir", cli.stateDir.path, writeManifest(Self.manifest),
        ])
        #expect(result.code == 1)
        #expect(result.stderr == "error: listing \(devices) failed: not a directory (ENOTDIR)\n")
    }

    @Test("sysfs-write refuses what is not a sysfs attribute, and links out of '/sys'; writes the rest once")
    func sysfsWrite() throws {
        let cli = CLI()
        let tree = try PoisonedTree()
        defer { tree.remove() }
        let before = tree.outsideFiles()
        let options = ["--root", tree.root.path, "--state-dir", cli.stateDir.path]
        let etc = cli.run(["sysfs-write"] + options + ["/etc/passwd", "x"])
        #expect(etc.code == 1 && etc.stdout.isEmpty)
        #expect(
            etc.stderr == "error: refusing '/etc/passwd': 'sysfs-write' writes sysfs attributes only; name a path "
                + "under '/sys'\n")
        let target = PoisonedTree.climbing(from: SysPath.mdev(PoisonedTree.uuid), to: "mdev")
        try tree.link(SysPath.mdev(PoisonedTree.uuid), to: target)
        let escaping = cli.run(["sysfs-write"] + options + [SysPath.mdev(PoisonedTree.uuid, "remove"), "1"])
        #expect(escaping.code == 1)
        #expect(
            escaping.stderr
                == "error: refusing '\(SysPath.mdev(PoisonedTree.uuid, "remove"))': the link "
                + "'\(SysPath.mdev(PoisonedTree.uuid))' points outside '/sys' ('\(target)'); links must stay inside "
                + "'/sys'\n")
        #expect(tree.outsideFiles() == before)
        let written = cli.run(["sysfs-write"] + options + [PoisonedTree.create, "abc"])
        #expect(written.code == 0 && written.stdout == "ok\n", "\(written.stderr)")
        #expect(try tree.sysfs.read(PoisonedTree.createFile) == "abc")
    }

    @Test(
        "apply of a poisoned --root under strace: no open or write resolves outside the tree",
        .enabled(
            if: Strace.usable, "strace is not installed (Debian package 'strace') or may not trace here"))
    func straced() throws {
        let tree = try PoisonedTree()
        defer { tree.remove() }
        try tree.link(PoisonedTree.createFile, to: PoisonedTree.climbing(from: PoisonedTree.createFile, to: "sentinel"))
        // Read by discovery: an absolute link to a file outside, taken inside the root (where nothing is).
        try tree.link(
            SysPath.pci("0000:d8:00.0", "numa_node"), to: tree.outside.appendingPathComponent("sentinel").path)
        let before = tree.outsideFiles()
        let state = tree.base.appendingPathComponent("state").path
        let manifest = tree.base.appendingPathComponent("t4.yaml").path
        try Self.manifest.write(toFile: manifest, atomically: false, encoding: .utf8)
        let trace = tree.base.appendingPathComponent("trace").path
        let (code, stderr) = try runProcess(
            Strace.path!,
            ["-ff", "-y", "-qq", "-e", "trace=open,openat,openat2,write", "-o", trace, forbcBinary(), "apply"]
                + ["--root", tree.root.path, "--state-dir", state, manifest, "--no-bench"])
        #expect(code == 1)
        #expect(stderr.contains("the link '\(PoisonedTree.createFile)' points outside the root"), "\(stderr)")
        #expect(tree.outsideFiles() == before)

        let base = tree.base.resolvingSymlinksInPath().path
        let root = base + "/root"
        var calls: [TracedCall] = []
        for name in try FileManager.default.contentsOfDirectory(atPath: base) where name.hasPrefix("trace.") {
            let log = try String(contentsOfFile: "\(base)/\(name)", encoding: .utf8)
            calls += log.split(separator: "\n").compactMap { TracedCall(line: String($0)) }
        }
        // The trace is not empty: forbc walked the tree component by component.
        #expect(calls.contains { $0.intended?.hasPrefix(root + "/sys/bus/pci/devices/0000:3b:00.0") == true })
        let allowed = [root, base + "/state", base + "/t4.yaml"]
        for call in calls {
            for path in [call.intended, call.resolved].compactMap({ $0 }) {
                // Nothing under the outside directory; under the test's directory, only the root, state, manifest.
                #expect(!path.hasPrefix(base + "/outside"), "\(call)")
                if path.hasPrefix(base + "/") {
                    #expect(allowed.contains { path == $0 || path.hasPrefix($0 + "/") }, "\(call)")
                }
                // And never the host's own sysfs.
                #expect(!["/sys/bus", "/sys/class", "/sys/devices/pci"].contains { path.hasPrefix($0) }, "\(call)")
            }
            if call.call == "write", let path = call.resolved, path.hasPrefix("/") && !path.hasPrefix("/dev/") {
                #expect(allowed.contains { path.hasPrefix($0 + "/") }, "\(call)")
            }
        }
    }
}
