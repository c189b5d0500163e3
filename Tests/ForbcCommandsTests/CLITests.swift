import ForbcCommands
import ForbcCore
import ForbcSimulator
import ForbcTestSupport
import Foundation
import Testing

/// Runs forbc in process on a capturing console.
struct CLI {
    let stateDir: URL

    init() { stateDir = makeTemporaryDirectory("cli") }

    struct Result {
        var code: Int32
        var stdout: String
        var stderr: String
    }

    func run(_ arguments: [String], answer: String? = nil) -> Result {
        let capture = CapturingConsole()
        let code = ForbcCommand.run(arguments, console: capture.console(answer: answer))
        return Result(code: code, stdout: capture.stdout, stderr: capture.stderr)
    }

    /// A subcommand on a simulated host kept in this CLI's state dir.
    func sim(_ profile: String, _ subcommand: String, _ rest: [String] = [], answer: String? = nil) -> Result {
        run([subcommand, "--simulate", profile, "--state-dir", stateDir.path] + rest, answer: answer)
    }
}

func writeManifest(_ text: String) -> String {
    let path = makeTemporaryDirectory("manifest").appendingPathComponent("m.yaml").path
    try! text.write(toFile: path, atomically: true, encoding: .utf8)
    return path
}

@Suite("the forbc command line")
struct CLITests {
    @Test("validate: valid files, then every problem of every file, located; exit 1")
    func validate() {
        let cli = CLI()
        let good = RepositoryPaths.manifest("quickstart")
        #expect(cli.run(["validate", good]).stdout == "\(good): valid\n")
        let bad1 = RepositoryPaths.fixture("invalid/zero-count.yaml")
        let bad2 = RepositoryPaths.fixture("invalid/unknown-key.yaml")
        let result = cli.run(["validate", good, bad1, bad2])
        #expect(result.code == 1)
        #expect(
            result.stderr == """
                \(bad1):8:42: error: 'spec.gpus[0].vgpu[0].count' is 0; it must be between 1 and 1024
                \(bad2):5:3: error: unknown key 'gpu' in 'spec'; did you mean 'gpus'?

                """)
        let missing = cli.run(["validate", "/nonexistent/m.yaml"])
        #expect(missing.code == 1)
        #expect(
            missing.stderr
                == "/nonexistent/m.yaml:1:1: error: cannot read '/nonexistent/m.yaml': no such file or directory "
                + "(ENOENT)\n"
        )
    }

    @Test("plan, apply, plan --detailed-exitcode, drift and export on the quickstart")
    func quickstart() throws {
        let cli = CLI()
        let quickstart = RepositoryPaths.manifest("quickstart")
        let plan = cli.sim("nvidia-t4", "plan", [quickstart, "--detailed-exitcode"])
        #expect(plan.code == 2)
        #expect(plan.stderr.contains("note: SIMULATED host 'nvidia-t4'"))
        #expect(
            plan.stdout.hasPrefix(
                "Plan for host 'quickstart' (simulated): 6 to create, 0 to destroy, 0 to configure, 3 to attach, 0 "
                    + "to detach.\n  + create    'desk-0': mdev T4-4Q (nvidia-224) on 0000:3b:00.0, uuid "
                    + "\(UUIDv5.partition(host: "quickstart", name: "desk-0")); declared, not present\n"
            ))

        let json = cli.sim("nvidia-t4", "plan", [quickstart, "--output", "json"])
        let object = try #require(try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any])
        let actions = try #require(object["actions"] as? [[String: Any]])
        #expect(
            actions.map { $0["action"] as? String } == Array(repeating: "create", count: 6)
                + Array(repeating: "attach", count: 3))
        #expect(actions.allSatisfy { $0["target"] is String && $0["reason"] is String })
        #expect(
            actions.filter { $0["action"] as? String == "attach" }.map { $0["domain"] as? String } == [
                "worker-1", "worker-2", "worker-2",
            ])
        #expect(object["simulated"] as? Bool == true)

        let apply = cli.sim("nvidia-t4", "apply", [quickstart])
        #expect(apply.code == 0, "\(apply.stderr)")
        #expect(apply.stdout.hasSuffix("Apply complete: 9 changes made.\n"))
        #expect(cli.sim("nvidia-t4", "plan", [quickstart, "--detailed-exitcode"]).code == 0)
        let again = cli.sim("nvidia-t4", "apply", [quickstart])
        // (A line naming the manifest's commit follows where the project is a git checkout.)
        #expect(again.stdout.hasPrefix("No changes: host 'quickstart' (simulated) already matches.\n"))

        let metrics = cli.stateDir.appendingPathComponent("drift.prom").path
        let inSync = cli.sim("nvidia-t4", "drift", [quickstart, "--metrics", metrics])
        #expect(inSync.code == 0)
        #expect(
            try String(contentsOfFile: metrics, encoding: .utf8).contains(
                "forbc_drift{host=\"quickstart\",manifest=\"\(quickstart)\"} 0\n"))

        let exported = cli.sim("nvidia-t4", "export")
        #expect(exported.code == 0)
        let exportPath = writeManifest(exported.stdout)
        #expect(cli.run(["validate", exportPath]).code == 0)
        #expect(cli.sim("nvidia-t4", "plan", [exportPath, "--detailed-exitcode"]).code == 0)

        // --output json: the same document as JSON (which is YAML too, so it plans nothing either).
        let exportedJSON = cli.sim("nvidia-t4", "export", ["--output", "json"])
        #expect(exportedJSON.code == 0)
        let parsed = try JSONSerialization.jsonObject(with: Data(exportedJSON.stdout.utf8))
        let document = try #require(parsed as? [String: Any])
        #expect(document["apiVersion"] as? String == "forbc/v1")
        #expect((document["metadata"] as? [String: Any])?["name"] as? String == "quickstart")
        #expect(cli.sim("nvidia-t4", "plan", [writeManifest(exportedJSON.stdout), "--detailed-exitcode"]).code == 0)
    }

    @Test("drift exits 2 naming the partition, in text, JSON and metrics; apply repairs it")
    func drift() throws {
        let cli = CLI()
        let manifest = RepositoryPaths.manifest("mtty")
        #expect(cli.sim("mtty", "apply", [manifest]).code == 0)
        // Someone removes 'dual' behind forbc's back.
        let kernelURL = cli.stateDir.appendingPathComponent("simulated-host.json")
        let kernel = try SimulatedKernel.load(from: kernelURL)
        try kernel.write(SysPath.mdev(UUIDv5.partition(host: "mtty-lab", name: "dual"), "remove"), "1")
        try kernel.save(to: kernelURL)

        let metrics = cli.stateDir.appendingPathComponent("drift.prom").path
        let text = cli.sim("mtty", "drift", [manifest, "--metrics", metrics])
        #expect(text.code == 2)
        let dual = UUIDv5.partition(host: "mtty-lab", name: "dual")
        #expect(
            text.stdout == """
                Drift: host 'mtty-lab' (simulated) differs from \(manifest) in 1 partition:
                  missing 'dual': mdev \(dual) (Dual port serial) on mtty is not present

                """)
        let prom = try String(contentsOfFile: metrics, encoding: .utf8)
        #expect(prom.contains("forbc_drift{host=\"mtty-lab\",manifest=\"\(manifest)\"} 1\n"))
        #expect(prom.contains("kind=\"missing\"} 1\n"))
        let json = cli.sim("mtty", "drift", [manifest, "--output", "json"])
        let object = try #require(try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any])
        #expect(object["inSync"] as? Bool == false)
        #expect((object["items"] as? [[String: Any]])?.first?["partition"] as? String == "dual")

        #expect(cli.sim("mtty", "apply", [manifest]).code == 0)
        #expect(cli.sim("mtty", "drift", [manifest]).code == 0)
        // An unreadable manifest is an error (1), and the metrics say the check failed.
        #expect(cli.sim("mtty", "drift", ["/nonexistent.yaml", "--metrics", metrics]).code == 1)
        #expect(
            try String(contentsOfFile: metrics, encoding: .utf8).contains(
                "forbc_drift_check_success{host=\"\",manifest=\"/nonexistent.yaml\"} 0"))
    }

    @Test("apply asks before destroying; without a terminal and without --yes it refuses and changes nothing")
    func confirmation() throws {
        let cli = CLI()
        let four = writeManifest(
            "apiVersion: forbc/v1\nkind: Host\nmetadata: {name: c}\nspec:\n  gpus:\n    - select: {index: 0}\n      "
                + "vgpu: [{name: ml, type: T4-4Q, count: 4}]\n"
        )
        let three = writeManifest(
            "apiVersion: forbc/v1\nkind: Host\nmetadata: {name: c}\nspec:\n  gpus:\n    - select: {index: 0}\n      "
                + "vgpu: [{name: ml, type: T4-4Q, count: 3}]\n"
        )
        #expect(cli.sim("nvidia-t4", "apply", [four]).code == 0)
        let refused = cli.sim("nvidia-t4", "apply", [three])
        #expect(refused.code == 1)
        #expect(
            refused.stderr.hasSuffix(
                "error: apply would destroy 1 partition ('ml-3'); refusing without confirmation: rerun with '--yes'\n"))
        let declined = cli.sim("nvidia-t4", "apply", [three], answer: "n")
        #expect(declined.code == 1)
        #expect(declined.stderr.contains("apply will destroy 'ml-3'. Proceed? [y/N]"))
        #expect(cli.sim("nvidia-t4", "plan", [three, "--detailed-exitcode"]).code == 2, "nothing changed")
        #expect(cli.sim("nvidia-t4", "apply", [three], answer: "y").code == 0)
        #expect(cli.sim("nvidia-t4", "plan", [three, "--detailed-exitcode"]).code == 0)
        let destroy = cli.sim("nvidia-t4", "destroy", [three, "--yes"])
        #expect(destroy.code == 0)
        #expect(destroy.stdout.contains("Apply complete: 3 changes made."))
        #expect(cli.sim("nvidia-t4", "plan", [three, "--detailed-exitcode"]).code == 2)
    }

    @Test("a failed write stops apply with a report; a rerun converges")
    func failedApply() throws {
        let cli = CLI()
        let manifest = RepositoryPaths.manifest("amd-mi210")
        #expect(cli.sim("amd-mi210", "plan", [manifest]).code == 0)
        // Persist a fault into the simulated host the CLI loads.
        let kernel = SimulatedKernel(model: SimulatedProfiles.make("amd-mi210")!)
        kernel.inject(SimFault(path: SysPath.pci("0000:c3:00.0", "sriov_numvfs"), errno: Errno.EBUSY))
        try kernel.save(to: cli.stateDir.appendingPathComponent("simulated-host.json"))
        let failed = cli.sim("amd-mi210", "apply", [manifest])
        #expect(failed.code == 1)
        #expect(failed.stdout.contains("Apply stopped at step 1 of 3.\n"))
        #expect(
            failed.stderr.hasSuffix(
                "error: writing '4' to /sys/bus/pci/devices/0000:c3:00.0/sriov_numvfs failed: device or resource "
                    + "busy (EBUSY)\n"
            ))
        let json = cli.sim("amd-mi210", "apply", [manifest, "--output", "json"])
        #expect(json.code == 0, "the fault fired once; the rerun converges: \(json.stderr)")
        #expect(cli.sim("amd-mi210", "plan", [manifest, "--detailed-exitcode"]).code == 0)
    }

    @Test("discover says plainly that a simulated host is simulated; JSON is stable")
    func discover() throws {
        let cli = CLI()
        let text = cli.sim("nvidia-l40s", "discover")
        #expect(
            text.stdout.hasPrefix(
                "Host: SIMULATED (simulated host 'nvidia-l40s')\nGPU 0  0000:ca:00.0  NVIDIA L40S  [10de:26b9]  "
                    + "driver nvidia  NUMA 1  IOMMU group 60\n"
            ))
        let json = cli.sim("nvidia-l40s", "discover", ["--output", "json"])
        let object = try #require(try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any])
        #expect(object["simulated"] as? Bool == true)
        #expect((object["gpus"] as? [[String: Any]])?.first?["model"] as? String == "NVIDIA L40S")
    }

    @Test(
        "bad arguments and unknown profiles are errors with exit 1",
        arguments: [
            (
                ["plan", "--simulate", "nvidia-x1", "m.yaml"],
                "error: unknown simulated host 'nvidia-x1'; choose one of: "
                    + "\(SimulatedProfiles.names.joined(separator: ", "))\n"
            ),
            (
                ["discover", "--simulate", "mtty", "--root", "/tmp"],
                "error: '--root' and '--simulate' exclude each other; a simulated host has no root directory\n"
            ),
        ])
    func badArguments(arguments: [String], expected: String) {
        let cli = CLI()
        var args = arguments
        if args[0] == "plan" { args[3] = RepositoryPaths.manifest("mtty") }
        let result = cli.run(args + ["--state-dir", cli.stateDir.path])
        #expect(result.code == 1)
        #expect(result.stderr == expected)
    }

    @Test("the built binary exits with the documented codes")
    func binary() throws {
        let binary = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent(
            "forbc")
        let path =
            FileManager.default.fileExists(atPath: binary.path)
            ? binary.path
            : RepositoryPaths.root.appendingPathComponent(".build/debug/forbc").path
        try #require(FileManager.default.fileExists(atPath: path), "forbc binary not found at \(path)")
        let state = makeTemporaryDirectory("bin")
        func run(_ args: [String]) throws -> Int32 {
            let process = Process()
            process.executableURL = URL(fileURLWithPath: path)
            process.arguments = args
            process.standardOutput = FileHandle.nullDevice
            process.standardError = FileHandle.nullDevice
            try process.run()
            process.waitUntilExit()
            return process.terminationStatus
        }
        let quickstart = RepositoryPaths.manifest("quickstart")
        #expect(
            try run(["plan", "--simulate", "nvidia-t4", "--state-dir", state.path, quickstart, "--detailed-exitcode"])
                == 2)
        #expect(try run(["apply", "--simulate", "nvidia-t4", "--state-dir", state.path, quickstart]) == 0)
        #expect(try run(["drift", "--simulate", "nvidia-t4", "--state-dir", state.path, quickstart]) == 0)
        #expect(try run(["validate", RepositoryPaths.fixture("invalid/tabs.yaml")]) == 1)
        #expect(try run(["--version"]) == 0)
    }
}

@Suite("the command line with libvirt")
struct CLILibvirtTests {
    static let profiles = [
        "nvidia-t4", "nvidia-a40", "nvidia-l40s", "amd-mi210", "intel-gvtg", "nvidia-h100", "nvidia-a100-40gb",
        "nvidia-a100-80gb", "mtty",
    ]

    @Test(
        "each profile's manifest plans attach actions on a fresh simulated host, and none after apply",
        arguments: profiles)
    func attachActions(profile: String) throws {
        let cli = CLI()
        let manifest = RepositoryPaths.manifest(profile)
        let plan = cli.sim(profile, "plan", [manifest, "--output", "json"])
        #expect(plan.code == 0, "\(plan.stderr)")
        let actions = try #require(
            (try JSONSerialization.jsonObject(with: Data(plan.stdout.utf8)) as? [String: Any])?["actions"]
                as? [[String: Any]])
        #expect(actions.contains { $0["action"] as? String == "attach" && $0["domain"] is String })
        #expect(cli.sim(profile, "apply", [manifest]).code == 0)
        let after = cli.sim(profile, "plan", [manifest, "--output", "json"])
        let remaining = try #require(
            (try JSONSerialization.jsonObject(with: Data(after.stdout.utf8)) as? [String: Any])?["actions"]
                as? [[String: Any]])
        #expect(remaining.isEmpty, "\(remaining)")
        #expect(cli.sim(profile, "drift", [manifest]).code == 0)
    }

    @Test("a bad URI and a missing domain exit 1 with libvirt's words and change nothing")
    func errors() throws {
        let cli = CLI()
        let manifest = RepositoryPaths.manifest("mtty")
        let badURI = cli.sim("mtty", "apply", [manifest, "--libvirt", "test:///nonexistent/forbc.xml"])
        #expect(badURI.code == 1)
        #expect(badURI.stderr.contains("error: libvirt: connecting to 'test:///nonexistent/forbc.xml' failed: "))
        let ghost = writeManifest(
            "apiVersion: forbc/v1\nkind: Host\nmetadata: {name: g}\nspec:\n  gpus:\n    - select: {parent: mtty}\n  "
                + "    vgpu: [{name: s, type: mtty-1}]\n  vms:\n    - {domain: ghost, attach: [s]}\n"
        )
        let missing = cli.sim("mtty", "apply", [ghost])
        #expect(missing.code == 1)
        #expect(
            missing.stderr.hasSuffix(
                "\(ghost):9:7: error: domain 'ghost' is not defined on "
                    + "'test://\(cli.stateDir.path)/simulated-libvirt.xml'; define it first, or fix the name\n"
            ))
        // Nothing changed: the simulated host still has no mdev.
        #expect(!cli.sim("mtty", "discover").stdout.contains("mdevs ("))
    }
}

@Suite("bad input changes nothing")
struct BadInputTests {
    static let invalid: [String] = {
        let text = try! String(contentsOfFile: RepositoryPaths.fixture("invalid/EXPECTED"), encoding: .utf8)
        return text.split(separator: "\n").filter { !$0.hasPrefix("#") }.map { String($0.split(separator: "\t")[0]) }
    }()

    @Test(
        "apply of each invalid manifest exits 1 with its located error, and the simulated host is untouched",
        arguments: invalid)
    func applyInvalid(file: String) throws {
        let cli = CLI()
        let path = RepositoryPaths.fixture("invalid/\(file)")
        let result = cli.sim("nvidia-t4", "apply", [path, "--yes"])
        #expect(result.code == 1)
        #expect(result.stderr.contains("\(path):") && result.stderr.contains(": error: "), "\(result.stderr)")
        // No step ran: the simulated kernel was never saved, so nothing on the host changed.
        #expect(
            !FileManager.default.fileExists(atPath: cli.stateDir.appendingPathComponent("simulated-host.json").path))
        #expect(!FileManager.default.fileExists(atPath: cli.stateDir.appendingPathComponent("state.json").path))
    }
}
