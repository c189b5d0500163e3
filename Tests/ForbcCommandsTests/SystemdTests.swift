import ForbcCommands
import ForbcCore
import ForbcSimulator
import ForbcTestSupport
import Foundation
import Testing

@Suite("forbc systemd install, and apply --partitions-only")
struct SystemdTests {
    static let forbc = "/usr/local/bin/forbc"

    func units(_ manifest: String = "/etc/forbc/host.yaml") throws -> [String: String] {
        let units = try SystemdUnits(forbc: Self.forbc, manifest: manifest)
        return Dictionary(uniqueKeysWithValues: units.files.map { ($0.name, $0.text) })
    }

    func lines(_ text: String?, _ key: String) -> [String] {
        (text ?? "").split(separator: "\n").map(String.init).filter { $0.hasPrefix("\(key)=") }
    }

    @Test("the boot unit: partitions only, after the drivers' services, before libvirt autostarts domains")
    func partitionsUnit() throws {
        let unit = try units()["forbc-partitions.service"]
        #expect(
            lines(unit, "ExecStart") == [
                "ExecStart=/usr/local/bin/forbc apply /etc/forbc/host.yaml --partitions-only --yes --no-bench"
            ])
        #expect(
            lines(unit, "After") == [
                "After=systemd-modules-load.service systemd-udev-settle.service nvidia-persistenced.service "
                    + "nvidia-fabricmanager.service nvidia-vgpud.service nvidia-vgpu-mgr.service"
            ])
        #expect(lines(unit, "Before") == ["Before=libvirtd.service virtqemud.service libvirt-guests.service"])
        #expect(lines(unit, "Type") == ["Type=oneshot"])
        #expect(lines(unit, "RemainAfterExit") == ["RemainAfterExit=yes"])
        #expect(lines(unit, "RequiresMountsFor") == ["RequiresMountsFor=/etc/forbc /var/lib/forbc"])
        #expect(lines(unit, "WantedBy") == ["WantedBy=multi-user.target"])
        #expect(lines(unit, "Wants").isEmpty)
    }

    @Test("attachments once libvirtd is up; drift every interval, exit 2 a success, into the textfile")
    func applyAndDriftUnits() throws {
        let all = try units()
        let apply = all["forbc-apply.service"]
        #expect(
            lines(apply, "ExecStart") == ["ExecStart=/usr/local/bin/forbc apply /etc/forbc/host.yaml --yes --no-bench"])
        #expect(lines(apply, "After") == ["After=forbc-partitions.service libvirtd.service virtqemud.service"])
        #expect(lines(apply, "Before") == ["Before=libvirt-guests.service"])
        // A stop: SIGTERM to forbc alone, which finishes its step (a GPU reset: 300 s at most) and exits 143.
        for unit in [all["forbc-partitions.service"], apply] {
            #expect(lines(unit, "KillMode") == ["KillMode=mixed"])
            #expect(lines(unit, "TimeoutStopSec") == ["TimeoutStopSec=330s"])
            #expect(lines(unit, "SuccessExitStatus") == ["SuccessExitStatus=143"])
        }
        let drift = all["forbc-drift.service"]
        #expect(
            lines(drift, "ExecStart") == [
                "ExecStart=/usr/local/bin/forbc drift /etc/forbc/host.yaml --metrics "
                    + "/var/lib/prometheus/node-exporter/forbc.prom"
            ])
        #expect(lines(drift, "ExecStartPre") == ["ExecStartPre=mkdir -p /var/lib/prometheus/node-exporter"])
        #expect(lines(drift, "SuccessExitStatus") == ["SuccessExitStatus=2"])
        #expect(lines(drift, "KillMode").isEmpty && lines(drift, "TimeoutStopSec").isEmpty)
        #expect(lines(drift, "WantedBy").isEmpty)
        let timer = all["forbc-drift.timer"]
        #expect(lines(timer, "OnBootSec") == ["OnBootSec=2min"])
        #expect(lines(timer, "OnUnitActiveSec") == ["OnUnitActiveSec=15min"])
        #expect(lines(timer, "Unit") == ["Unit=forbc-drift.service"])
        #expect(lines(timer, "WantedBy") == ["WantedBy=timers.target"])
        let custom = try SystemdUnits(
            forbc: Self.forbc, manifest: "/srv/100%/h.yaml", stateDir: "/srv/state", metrics: "/run/m/f.prom",
            driftDelay: "90s", driftInterval: "1h 30min")
        let text = Dictionary(uniqueKeysWithValues: custom.files.map { ($0.name, $0.text) })
        #expect(lines(text["forbc-drift.service"], "Environment") == ["Environment=FORBC_STATE_DIR=/srv/state"])
        #expect(
            lines(text["forbc-drift.service"], "ExecStart") == [
                "ExecStart=/usr/local/bin/forbc drift /srv/100%%/h.yaml --metrics /run/m/f.prom"
            ])
        #expect(lines(text["forbc-drift.timer"], "OnUnitActiveSec") == ["OnUnitActiveSec=1h 30min"])
    }

    @Test("paths a unit file would split, relative paths and bad time spans are refused")
    func refusals() {
        #expect(throws: ForbcError.self) { try SystemdUnits(forbc: Self.forbc, manifest: "host.yaml") }
        #expect(throws: ForbcError.self) { try SystemdUnits(forbc: Self.forbc, manifest: "/etc/my host.yaml") }
        #expect(throws: ForbcError.self) { try SystemdUnits(forbc: "/bin/x\"y", manifest: "/h.yaml") }
        #expect(throws: ForbcError.self) {
            try SystemdUnits(forbc: Self.forbc, manifest: "/h.yaml", driftInterval: "often")
        }
        #expect(throws: ForbcError.self) { try SystemdUnits(forbc: Self.forbc, manifest: "/h.yaml", driftDelay: "") }
        #expect(throws: ForbcError.self) { try SystemdUnits(forbc: "/opt/a$b/forbc", manifest: "/h.yaml") }
        #expect(throws: ForbcError.self) {
            try SystemdUnits(forbc: Self.forbc, manifest: "/h.yaml", libvirt: "qemu:///system\nExecStart=/x")
        }
    }

    func spanError(delay: String = "2min", interval: String = "15min") -> String? {
        do {
            _ = try SystemdUnits(forbc: Self.forbc, manifest: "/h.yaml", driftDelay: delay, driftInterval: interval)
            return nil
        } catch {
            return "\(error)"
        }
    }

    @Test("time spans: what systemd accepts is accepted, the rest refused with the option and the value")
    func timeSpans() {
        for span in ["1h30min", "15 min", "1h 30min", "90", "1.5h", ".5s", "2 weeks", "1M", "1y 2d", "500ms", "7 µs"] {
            #expect(spanError(interval: span) == nil, "\(span)")
        }
        #expect(spanError(delay: "0") == nil)
        for span in ["99999999999999999999999d", "0", "infinity", "often", "", "3.", "3.sec", "5x", "-1s", "1h\n30m"] {
            #expect(spanError(interval: span)?.contains("'--drift-interval \(span)'") == true, "\(span)")
        }
        #expect(spanError(delay: "600000y")?.contains("'--drift-delay 600000y'") == true)
        #expect(SystemdTimeSpan.microseconds("1h30min") == 5_400_000_000)
        #expect(SystemdTimeSpan.microseconds("1.5h") == 5_400_000_000)
        #expect(SystemdTimeSpan.microseconds("2min 3") == 123_000_000)
    }

    @Test("the time span parser agrees with systemd's own (systemd-analyze timespan)")
    func timeSpansAgainstSystemd() throws {
        let spans = [
            "1h30min", "15 min", "90", "1.5h", ".5s", "+5s", "+.5s", "3.", "3.sec", "3. 1", "12.34.56", "12 34",
            "1h30", "2 weeks", "1M", "1y", "7μs", "0", "infinity", " infinity ", "-1", "5x", "15 mins", "1hr",
            "99999999999999999999999d", "584542y", "584541y", "18446744073709551615us", "9223372036854775807",
            "0.0000001s", "1e3s", "1d2h3m4s5ms6us", "5 M", "1 month", "1.25 years",
        ]
        for span in spans {
            let systemd = try runProgram("systemd-analyze", ["timespan", span])
            let ours = SystemdTimeSpan.microseconds(span)
            #expect(
                (systemd.code == 0) == (ours != nil),
                "'\(span)': systemd \(systemd.code), forbc \(String(describing: ours))")
            let line = systemd.stdout.split(separator: "\n").first { $0.contains("μs:") }
            guard systemd.code == 0, let value = line?.split(separator: ":").last else { continue }
            let expected = value.trimmingCharacters(in: .whitespaces)
            #expect(
                expected == "infinity" ? ours == SystemdTimeSpan.infinity : ours == UInt64(expected), "'\(span)'")
        }
    }

    @Test("'%' and '$' in paths: systemd reads back each value as it was (systemd-analyze verify's dump)")
    func escaping() throws {
        let units = try SystemdUnits(
            forbc: "/bin/true", manifest: "/srv/m$x%n/h.yaml", stateDir: "/tmp/s$d%n", libvirt: "test:///%i$y",
            metrics: "/run/p$q%i/f.prom")
        let dir = makeTemporaryDirectory("escaping").path
        for (name, text) in units.files { try text.write(toFile: "\(dir)/\(name)", atomically: true, encoding: .utf8) }
        let verify = try runProgram(
            "SYSTEMD_LOG_LEVEL=debug", ["systemd-analyze", "verify"] + units.files.map { "\(dir)/\($0.name)" })
        #expect(verify.code == 0, "\(verify.stderr)")
        let dump = verify.stdout  // the units as systemd parsed them (debug level: verify.c dumps each)
        for expected in [
            "Environment: FORBC_STATE_DIR=/tmp/s$d%n\n", "Environment: FORBC_LIBVIRT_URI=test:///%i$y\n",
            "RequiresMountsFor: /srv/m$x%n (origin-file)", "RequiresMountsFor: /tmp/s$d%n (origin-file)",
            "Description: forbc: GPU partitions of /srv/m$x%n/h.yaml, before libvirt starts guests",
            "Description: forbc: drift check of /srv/m$x%n/h.yaml (Prometheus textfile /run/p$q%i/f.prom)",
            // Exec lines keep "$$" until they run, when systemd makes it "$" (replace_env_argv).
            #"Command Line: /bin/true apply "/srv/m\$\$x%n/h.yaml" --yes --no-bench"#,
            #"Command Line: mkdir -p "/run/p\$\$q%i""#,
        ] {
            #expect(dump.contains(expected), "\(expected)")
        }
    }
}

@Suite("forbc systemd install on disk")
struct SystemdInstallTests {
    @Test("writes the four units and the enable links; systemd-analyze verify finds nothing to say")
    func install() throws {
        let cli = CLI()
        let dir = makeTemporaryDirectory("units").path
        let manifest = RepositoryPaths.manifest("quickstart")
        let result = cli.run([
            "systemd", "install", "--manifest", manifest, "--unit-dir", dir, "--forbc", ForbcBinary.path,
            "--drift-delay", "30s",
        ])
        #expect(result.code == 0, "\(result.stderr)")
        let names = ["forbc-partitions.service", "forbc-apply.service", "forbc-drift.service", "forbc-drift.timer"]
        #expect(result.stdout.hasPrefix(names.map { "wrote \(dir)/\($0)\n" }.joined()))
        for name in names { #expect(FileManager.default.fileExists(atPath: "\(dir)/\(name)")) }
        let link = try FileManager.default.destinationOfSymbolicLink(
            atPath: "\(dir)/multi-user.target.wants/forbc-partitions.service")
        #expect(link == "../forbc-partitions.service")
        #expect(FileManager.default.fileExists(atPath: "\(dir)/timers.target.wants/forbc-drift.timer"))
        let timer = try String(contentsOfFile: "\(dir)/forbc-drift.timer", encoding: .utf8)
        #expect(timer.contains("\nOnBootSec=30s\n"))
        // systemd's own check (Debian's systemd package): exit 0 and not a word on stderr.
        let verify = try runProgram("systemd-analyze", ["verify"] + names.map { "\(dir)/\($0)" })
        #expect(verify.code == 0 && verify.stderr.isEmpty, "systemd-analyze verify: \(verify.stderr)")
        // --print writes nothing and prints what install writes.
        let printed = cli.run(["systemd", "install", "--manifest", manifest, "--print", "--forbc", ForbcBinary.path])
        let partitions = try String(contentsOfFile: "\(dir)/forbc-partitions.service", encoding: .utf8)
        #expect(printed.stdout.contains("# /etc/systemd/system/forbc-partitions.service\n" + partitions))
    }

    @Test(
        "a missing or invalid manifest is a located error and nothing is written; a bad unit dir names path and errno")
    func badInput() throws {
        let cli = CLI()
        let dir = makeTemporaryDirectory("units").path
        let missing = cli.run(["systemd", "install", "--manifest", "/nonexistent/m.yaml", "--unit-dir", dir])
        #expect(missing.code == 1)
        #expect(
            missing.stderr
                == "/nonexistent/m.yaml:1:1: error: cannot read '/nonexistent/m.yaml': no such file or directory "
                + "(ENOENT)\n")
        let invalid = RepositoryPaths.fixture("invalid/zero-count.yaml")
        let bad = cli.run(["systemd", "install", "--manifest", invalid, "--unit-dir", dir])
        #expect(bad.code == 1)
        #expect(bad.stderr.hasPrefix("\(invalid):8:42: error: 'spec.gpus[0].vgpu[0].count' is 0"))
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir).isEmpty)
        let manifest = RepositoryPaths.manifest("quickstart")
        let absent = cli.run([
            "systemd", "install", "--manifest", manifest, "--unit-dir", "\(dir)/none", "--forbc", "/f",
        ])
        #expect(absent.code == 1)
        #expect(
            absent.stderr
                == "error: writing \(dir)/none/forbc-partitions.service failed: no such file or directory (ENOENT)\n")
        try "x".write(toFile: "\(dir)/file", atomically: true, encoding: .utf8)
        let notDir = cli.run([
            "systemd", "install", "--manifest", manifest, "--unit-dir", "\(dir)/file", "--forbc", "/f",
        ])
        #expect(
            notDir.stderr == "error: writing \(dir)/file/forbc-partitions.service failed: not a directory (ENOTDIR)\n")
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir) == ["file"])
    }

    @Test("a unit file or .wants entry forbc did not write is refused, nothing written; '--force' replaces it")
    func foreignFiles() throws {
        let cli = CLI()
        let dir = makeTemporaryDirectory("units").path
        let manifest = RepositoryPaths.manifest("quickstart")
        let install = ["systemd", "install", "--manifest", manifest, "--unit-dir", dir, "--forbc", "/usr/bin/forbc"]
        let mine = "[Unit]\nDescription=the admin's own\n"
        try mine.write(toFile: "\(dir)/forbc-apply.service", atomically: true, encoding: .utf8)
        let refused = cli.run(install)
        #expect(refused.code == 1)
        #expect(
            refused.stderr.hasPrefix("error: \(dir)/forbc-apply.service was not written by forbc"), "\(refused.stderr)")
        #expect(refused.stderr.contains("pass '--force'"))
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir) == ["forbc-apply.service"])
        #expect(try String(contentsOfFile: "\(dir)/forbc-apply.service", encoding: .utf8) == mine)
        // A mask (a link to /dev/null) is not forbc's either.
        try FileManager.default.removeItem(atPath: "\(dir)/forbc-apply.service")
        try FileManager.default.createSymbolicLink(atPath: "\(dir)/forbc-drift.timer", withDestinationPath: "/dev/null")
        #expect(cli.run(install).stderr.hasPrefix("error: \(dir)/forbc-drift.timer was not written by forbc"))
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir) == ["forbc-drift.timer"])
        let forced = cli.run(install + ["--force"])
        #expect(forced.code == 0, "\(forced.stderr)")
        let timer = try String(contentsOfFile: "\(dir)/forbc-drift.timer", encoding: .utf8)
        #expect(timer.hasPrefix(SystemdUnits.headerPrefix))
        // Files forbc wrote, and systemctl enable's absolute link, are replaced: the upgrade path.
        let wants = "\(dir)/multi-user.target.wants/forbc-apply.service"
        try FileManager.default.removeItem(atPath: wants)
        try FileManager.default.createSymbolicLink(
            atPath: wants, withDestinationPath: "/etc/systemd/system/forbc-apply.service")
        #expect(cli.run(install).code == 0)
        #expect(try FileManager.default.destinationOfSymbolicLink(atPath: wants) == "../forbc-apply.service")
        // A .wants entry that is not a link to the unit is refused, and the units are left as they were.
        try FileManager.default.removeItem(atPath: wants)
        try "mine".write(toFile: wants, atomically: true, encoding: .utf8)
        try "# edited".write(toFile: "\(dir)/forbc-drift.timer", atomically: true, encoding: .utf8)
        let link = cli.run(install)
        #expect(link.code == 1)
        #expect(
            link.stderr.hasPrefix(
                "error: \(dir)/forbc-drift.timer, \(wants) were not written by forbc"), "\(link.stderr)")
        #expect(try String(contentsOfFile: wants, encoding: .utf8) == "mine")
        #expect(try String(contentsOfFile: "\(dir)/forbc-drift.timer", encoding: .utf8) == "# edited")
        #expect(cli.run(install + ["--force"]).code == 0)
        #expect(try FileManager.default.destinationOfSymbolicLink(atPath: wants) == "../forbc-apply.service")
    }

    @Test("what '--force' cannot replace (a directory at a unit or link, a file for a .wants folder) fails first")
    func unreplaceable() throws {
        let cli = CLI()
        let manifest = RepositoryPaths.manifest("quickstart")
        func install(_ dir: String) -> [String] {
            ["systemd", "install", "--manifest", manifest, "--unit-dir", dir, "--forbc", "/usr/bin/forbc", "--force"]
        }
        func contents(_ dir: String) throws -> [String] {
            try FileManager.default.subpathsOfDirectory(atPath: dir).sorted()
        }
        // A directory where the boot unit's .wants link goes.
        let dir = makeTemporaryDirectory("units").path
        let link = "\(dir)/multi-user.target.wants/forbc-partitions.service"
        try FileManager.default.createDirectory(atPath: link, withIntermediateDirectories: true)
        let before = try contents(dir)
        let refused = cli.run(install(dir))
        #expect(refused.code == 1)
        #expect(
            refused.stderr
                == "error: \(link) is a directory; forbc replaces unit files and links there, never a directory or a "
                + "file in the place of a '.wants' folder, even with '--force'; nothing was written: move it aside\n",
            "\(refused.stderr)")
        #expect(try contents(dir) == before, "no unit file was written")
        // A file where the timer's .wants folder goes, and a directory where a unit file goes: both named at once.
        let other = makeTemporaryDirectory("units").path
        try "x".write(toFile: "\(other)/timers.target.wants", atomically: true, encoding: .utf8)
        try FileManager.default.createDirectory(
            atPath: "\(other)/forbc-apply.service", withIntermediateDirectories: true)
        let both = cli.run(install(other))
        #expect(
            both.stderr.hasPrefix(
                "error: \(other)/forbc-apply.service is a directory, \(other)/timers.target.wants is a file, not a "
                    + "directory; "), "\(both.stderr)")
        #expect(try contents(other) == ["forbc-apply.service", "timers.target.wants"])
        // Moved aside, the same install succeeds.
        try FileManager.default.removeItem(atPath: link)
        #expect(cli.run(install(dir)).code == 0)
        #expect(try FileManager.default.destinationOfSymbolicLink(atPath: link) == "../forbc-partitions.service")
    }

    @Test("FORBC_STATE_DIR and FORBC_LIBVIRT_URI go into the units (a flag wins); FORBC_ROOT is refused")
    func environment() throws {
        let manifest = RepositoryPaths.manifest("quickstart")
        let print = ["systemd", "install", "--manifest", manifest, "--print", "--forbc", "/usr/bin/forbc"]
        let env = ["FORBC_STATE_DIR": "/srv/forbc", "FORBC_LIBVIRT_URI": "qemu+tcp://h/system", "FORBC_ROOT": ""]
        let printed = try ForbcBinary.run(print, environment: env)
        #expect(printed.code == 0, "\(printed.stderr)")
        #expect(printed.stdout.contains("Environment=FORBC_STATE_DIR=/srv/forbc\nEnvironment=FORBC_LIBVIRT_URI="))
        let mounts = printed.stdout.split(separator: "\n").filter { $0.hasPrefix("RequiresMountsFor=") }
        #expect(mounts.count == 3 && mounts.allSatisfy { $0.hasSuffix(" /srv/forbc") }, "\(mounts)")
        let flagged = try ForbcBinary.run(print + ["--state-dir", "/srv/other"], environment: env)
        #expect(flagged.stdout.contains("Environment=FORBC_STATE_DIR=/srv/other\n"))
        #expect(!flagged.stdout.contains("/srv/forbc"))
        let root = try ForbcBinary.run(print, environment: ["FORBC_ROOT": "/tmp/tree"])
        #expect(root.code == 1)
        #expect(root.stderr.contains("FORBC_ROOT is '/tmp/tree'"))
        #expect(try ForbcBinary.run(print, environment: ["FORBC_ROOT": "/"]).code == 0)
    }

    @Test("apply --partitions-only: the partitions without libvirt, attachments left to a full apply; no destroys")
    func partitionsOnly() throws {
        let cli = CLI()
        let quickstart = RepositoryPaths.manifest("quickstart")
        let first = cli.sim("nvidia-t4", "apply", [quickstart, "--partitions-only", "--yes", "--output", "json"])
        #expect(first.code == 0, "\(first.stderr)")
        let actions = try #require(
            (try JSONSerialization.jsonObject(with: Data(first.stdout.utf8)) as? [String: Any])?["done"]
                as? [[String: Any]])
        #expect(actions.map { $0["action"] as? String } == Array(repeating: "create", count: 6))
        let full = cli.sim("nvidia-t4", "plan", [quickstart, "--output", "json"])
        let rest = try #require(
            (try JSONSerialization.jsonObject(with: Data(full.stdout.utf8)) as? [String: Any])?["actions"]
                as? [[String: Any]])
        #expect(rest.map { $0["action"] as? String } == ["attach", "attach", "attach"])
        #expect(cli.sim("nvidia-t4", "apply", [quickstart, "--yes"]).code == 0)
        // Fewer partitions: a plan that destroys is refused, nothing changed.
        let text = try String(contentsOfFile: quickstart, encoding: .utf8)
        let fewer = writeManifest(text.replacingOccurrences(of: "count: 4", with: "count: 3"))
        let refused = cli.sim("nvidia-t4", "apply", [fewer, "--partitions-only", "--yes"])
        #expect(refused.code == 1)
        #expect(refused.stderr.contains("'--partitions-only' does not consult libvirt"))
        #expect(refused.stderr.contains("('desk-3')"))
        #expect(cli.sim("nvidia-t4", "drift", [quickstart]).code == 0)
    }
}

@Suite("partitions without libvirt")
struct PartitionsOnlyTests {
    @Test("a host whose libvirt cannot be reached: the full plan fails, the partitions-only plan never asks it")
    func neverConsultsLibvirt() throws {
        // No hypervisor behind this session: opening one throws (as connecting before libvirtd is up would).
        let host = try SimulatedHost.open(
            profile: "nvidia-t4", stateDir: makeTemporaryDirectory("partitions-only").path, environment: [:])
        let manifest = try ManifestParser.parse(contentsOf: RepositoryPaths.manifest("quickstart"))
        #expect(throws: ForbcError.self) { try host.plan(manifest) }
        let plan = try host.partitionsPlan(manifest)
        #expect(plan.actions.map(\.action) == Array(repeating: .create, count: 6))
        #expect(plan.actions.allSatisfy { $0.domain == nil } && plan.attachments.isEmpty)
        let report = try host.apply(plan)
        #expect(report.failed == nil)
        #expect(try host.partitionsPlan(manifest).isEmpty)
    }
}

/// Runs a program found on PATH to its end.
func runProgram(_ name: String, _ arguments: [String]) throws -> (code: Int32, stdout: String, stderr: String) {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    process.arguments = [name] + arguments
    let output = Pipe()
    let errors = Pipe()
    process.standardOutput = output
    process.standardError = errors
    try process.run()
    let out = output.fileHandleForReading.readDataToEndOfFile()
    let err = errors.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return (process.terminationStatus, String(decoding: out, as: UTF8.self), String(decoding: err, as: UTF8.self))
}
