import ForbcCommands
import ForbcCore
import ForbcTestSupport
import Foundation
import Testing

/// Mixed-size vGPU on the command line: before the VMs start NVML lists no active vGPU, so plan, drift and apply say
/// that the placements could not be checked, and report no change.
@Suite("mixed-size vGPU placement read-back on the command line")
struct VGPUMixedSizeCLITests {
    static let manifest =
        "apiVersion: forbc/v1\nkind: Host\nmetadata: {name: mixed}\nspec:\n  gpus:\n    - select: {index: 0}\n"
        + "      vgpuMode: mixedSize\n      vgpu: [{name: big, type: L40S-24C}, {name: small, type: L40S-4C}]\n"

    @Test("apply with no VM running: plan no change, drift 0 (in sync), each with a note naming why it is unchecked")
    func unchecked() throws {
        let cli = CLI()
        let manifest = writeManifest(Self.manifest)
        #expect(cli.sim("nvidia-l40s-vgpu", "apply", [manifest, "--yes", "--bench", "never"]).code == 0)
        let note =
            "Note: the mixed-size placement of 2 vGPUs on 0000:ca:00.0 (NVIDIA L40S) could not be checked: NVML "
            + "lists only active vGPUs (those of running VMs; nvmlDeviceGetActiveVgpus) and 2 of the GPU's vGPUs of "
            + "their types are not active."
        let drift = cli.sim("nvidia-l40s-vgpu", "drift", [manifest])
        #expect(drift.code == 0 && drift.stdout.hasPrefix("In sync: "), "\(drift.stdout)\(drift.stderr)")
        #expect(drift.stdout.contains(note), "\(drift.stdout)")
        let json = cli.sim("nvidia-l40s-vgpu", "drift", [manifest, "--output", "json"])
        #expect(json.code == 0 && json.stdout.contains("\"notes\""), "\(json.stdout)")
        let plan = cli.sim("nvidia-l40s-vgpu", "plan", [manifest, "--detailed-exitcode"])
        #expect(plan.code == 0 && plan.stdout.contains(note), "\(plan.stdout)\(plan.stderr)")
        let again = cli.sim("nvidia-l40s-vgpu", "apply", [manifest, "--yes", "--bench", "never"])
        #expect(again.code == 0 && again.stdout.contains(note), "\(again.stdout)")
    }
}
