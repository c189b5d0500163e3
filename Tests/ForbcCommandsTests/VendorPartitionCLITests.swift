import ForbcCommands
import ForbcCore
import ForbcTestSupport
import Foundation
import Testing

/// The AMD partition modes and Intel VF provisioning through the command line, on their simulated hosts: apply,
/// drift after a change behind forbc's back (`sysfs-write`), repair, export and its plan.
@Suite("AMD partition modes and Intel provisioning on the command line")
struct VendorPartitionCLITests {
    static let cases: [(String, String, String)] = [
        ("amd-mi300x", "/sys/bus/pci/devices/0000:0c:00.0/current_compute_partition", "QPX"),
        ("intel-flex170", "/sys/class/drm/card1/prelim_iov/vf3/gt/preempt_timeout_us", "1000"),
    ]

    @Test(
        "apply, drift 0, a change behind forbc's back is drift 2, apply repairs it, the export plans no change",
        arguments: cases)
    func lifecycle(profile: String, path: String, value: String) throws {
        let cli = CLI()
        let manifest = RepositoryPaths.manifest(profile)
        #expect(cli.sim(profile, "apply", [manifest, "--yes", "--bench", "never"]).code == 0)
        #expect(cli.sim(profile, "drift", [manifest]).code == 0)
        #expect(cli.sim(profile, "sysfs-write", [path, value]).code == 0)
        let drift = cli.sim(profile, "drift", [manifest, "--output", "json"])
        #expect(drift.code == 2, "\(drift.stderr)")
        #expect(drift.stdout.contains(path), "\(drift.stdout)")
        #expect(cli.sim(profile, "apply", [manifest, "--yes", "--bench", "never"]).code == 0)
        #expect(cli.sim(profile, "drift", [manifest]).code == 0)
        let exported = cli.sim(profile, "export")
        #expect(exported.code == 0)
        let plan = cli.sim(profile, "plan", [writeManifest(exported.stdout), "--detailed-exitcode"])
        #expect(plan.code == 0, "\(plan.stdout)\(plan.stderr)")
    }

    /// The first MI300X in `compute`/`memory`, the second in QPX.
    static func mi300x(_ compute: String, _ memory: String) -> String {
        "apiVersion: forbc/v1\nkind: Host\nmetadata: {name: mi300x-node}\nspec:\n  gpus:\n"
            + "    - select: {index: 0}\n      amdPartition: {name: cpx, compute: \(compute), memory: \(memory)}\n"
            + "    - select: {index: 1}\n      amdPartition: {name: qpx, compute: QPX}\n"
    }

    @Test("CPX to SPX takes 7 partitions away and reloads amdgpu: refused without --yes, by --partitions-only")
    func disruptiveModeChange() throws {
        let cli = CLI()
        let (cpx, spx) = (writeManifest(Self.mi300x("CPX", "NPS4")), writeManifest(Self.mi300x("SPX", "NPS1")))
        #expect(cli.sim("amd-mi300x", "apply", [cpx, "--yes", "--bench", "never"]).code == 0)
        let plan = cli.sim("amd-mi300x", "plan", [spx])
        #expect(
            plan.stdout.contains("(2 configure steps remove partitions or reload a driver)"), "\(plan.stdout)")
        let refused = cli.sim("amd-mi300x", "apply", [spx, "--bench", "never"])
        #expect(refused.code == 1)
        #expect(refused.stderr.contains("refusing without confirmation"), "\(refused.stderr)")
        #expect(refused.stderr.contains("'cpx-0'") && refused.stderr.contains("'0000:0c:00.0'"), "\(refused.stderr)")
        let partitionsOnly = cli.sim("amd-mi300x", "apply", [spx, "--partitions-only", "--yes"])
        #expect(partitionsOnly.code == 1)
        #expect(partitionsOnly.stderr.contains("'--partitions-only' does not consult libvirt"))
        #expect(cli.sim("amd-mi300x", "drift", [cpx]).code == 0, "refusals change nothing")
        #expect(cli.sim("amd-mi300x", "apply", [spx, "--yes", "--bench", "never"]).code == 0)
        #expect(cli.sim("amd-mi300x", "drift", [spx]).code == 0)
    }

    @Test("sync refuses a commit that takes AMD partitions away, without --yes")
    func syncRefusesModeChange() throws {
        let fixture = try GitFixture("sync-amd")
        let cli = CLI()
        func sync(_ extra: [String] = []) -> CLI.Result {
            cli.sim(
                "amd-mi300x", "sync",
                ["--repo", fixture.bare.path, "--path", "hosts/%H.yaml", "--hostname", "node1.lab"] + extra)
        }
        try fixture.write("hosts/node1.yaml", Self.mi300x("CPX", "NPS4"))
        _ = try fixture.commit("node1: CPX")
        // The fresh host is in SPX with NPS1: CPX with NPS4 reloads amdgpu, so this too needs '--yes'.
        #expect(sync().code != 0)
        #expect(sync(["--yes"]).code == 0)
        try fixture.write("hosts/node1.yaml", Self.mi300x("SPX", "NPS1"))
        _ = try fixture.commit("node1: SPX")
        let refused = sync()
        #expect(refused.code != 0)
        #expect(refused.stderr.contains("pass '--yes'"), "\(refused.stderr)")
        #expect(sync(["--yes"]).code == 0)
    }
}
