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
        ("intel-flex170", "/sys/class/drm/card1/prelim_iov/vf3/gt0/preempt_timeout_us", "1000"),
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
}
