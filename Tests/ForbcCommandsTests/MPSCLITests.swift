import ForbcCore
import ForbcSimulator
import ForbcTestSupport
import Foundation
import Testing

/// MPS as a partition kind, through the built `forbc` on a simulated H100 (issue 10): one control daemon per
/// GPU, started, re-set, found dead, restarted and quit by forbc.
@Suite("MPS on the command line")
struct MPSCLITests {
    let stateDir = makeTemporaryDirectory("mps")
    let profile = "nvidia-h100"

    func manifest(_ mps: String, extra: String = "") -> String {
        writeManifest(
            """
            apiVersion: forbc/v1
            kind: Host
            metadata: {name: lab}
            spec:
              gpus:
                - select: {index: 0}
                  \(mps)\(extra)
            """)
    }

    func forbc(_ subcommand: String, _ rest: [String]) throws -> ForbcBinary.Outcome {
        try ForbcBinary.run([subcommand, "--simulate", profile, "--state-dir", stateDir.path] + rest)
    }

    /// The simulated GPU's UUID and its daemon as the simulated host holds it now.
    func daemon() throws -> (uuid: String, daemon: SimMPSDaemon?) {
        let session = try SimulatedHost.open(profile: profile, stateDir: stateDir.path)
        let kernel = try #require(session.simulation as? SimulatedKernel)
        try session.locked {}
        let uuid = try #require(kernel.model.nvml.first?.uuid)
        return (uuid, kernel.model.mps.first { $0.gpuUUID == uuid })
    }

    @Test("apply starts the daemon; re-apply is empty; killed behind forbc's back: drift 2, apply restarts it")
    func lifecycle() throws {
        let shared = manifest("mps: {name: shared, clients: 2, activeThreadPercentage: 50, pinnedMemoryLimit: 20G}")
        let plan = try forbc("plan", [shared])
        #expect(plan.code == 0, "\(plan.stderr)")
        #expect(plan.stdout.contains("+ create    'shared': MPS control daemon of GPU-"), "\(plan.stdout)")
        #expect(plan.stdout.contains("declared, not present: no MPS control daemon answers in"), "\(plan.stdout)")
        let applied = try forbc("apply", [shared, "--yes", "--no-bench"])
        #expect(applied.code == 0, "\(applied.stdout)\(applied.stderr)")
        let (uuid, started) = try daemon()
        #expect(started?.activeThreadPercentage == 50)
        #expect(started?.pinnedMemoryLimit == "20G")
        let again = try forbc("plan", [shared, "--detailed-exitcode"])
        #expect(again.code == 0, "\(again.stdout)")
        #expect(again.stdout.contains("No changes"), "\(again.stdout)")
        #expect(try forbc("drift", [shared]).code == 0)
        let discovered = try forbc("discover", [])
        #expect(
            discovered.stdout.contains(
                "  MPS: control daemon pid \(try #require(started?.pid)), active thread percentage 50%, pinned memory "
                    + "limit 20G, pipe directory \(stateDir.path)/mps/\(uuid)/pipe"),
            "\(discovered.stdout)")

        // The daemon dies behind forbc's back.
        let session = try SimulatedHost.open(profile: profile, stateDir: stateDir.path)
        try session.locked { try #require(session.simulation as? SimulatedKernel).killMPSDaemon(gpu: uuid) }
        let drift = try forbc("drift", [shared])
        #expect(drift.code == 2, "\(drift.stdout)\(drift.stderr)")
        #expect(
            drift.stdout.contains("missing 'shared': the MPS control daemon of \(uuid) (0000:"), "\(drift.stdout)")
        #expect(try forbc("apply", [shared, "--yes", "--no-bench"]).code == 0)
        let restarted = try #require(try daemon().daemon)
        #expect(restarted.activeThreadPercentage == 50 && restarted.pid != started?.pid)
        #expect(try forbc("drift", [shared]).code == 0)

        // Export round-trips it: applying the export plans nothing.
        let exported = try forbc("export", [])
        #expect(
            exported.stdout.contains(
                "mps: {name: shared, clients: 2, activeThreadPercentage: 50, pinnedMemoryLimit: 20G}"),
            "\(exported.stdout)")
        let file = writeManifest(exported.stdout)
        #expect(try forbc("plan", [file, "--detailed-exitcode"]).code == 0)

        // destroy quits it.
        let destroyed = try forbc("destroy", [shared, "--yes"])
        #expect(destroyed.code == 0, "\(destroyed.stdout)\(destroyed.stderr)")
        #expect(destroyed.stdout.contains("'shared'"), "\(destroyed.stdout)")
        #expect(try daemon().daemon == nil)
        #expect(try forbc("drift", [shared]).code == 2)
    }

    @Test("a new percentage is a live configure of the running daemon, not a restart; prune quits it")
    func settingsChange() throws {
        let fifty = manifest("mps: {name: shared, clients: 2, activeThreadPercentage: 50}")
        #expect(try forbc("apply", [fifty, "--yes", "--no-bench"]).code == 0)
        let before = try #require(try daemon().daemon)
        let fourteen = manifest("mps: {name: shared, clients: 7, activeThreadPercentage: 14}")
        let plan = try forbc("plan", [fourteen])
        #expect(plan.stdout.contains("0 to create, 0 to destroy, 1 to configure"), "\(plan.stdout)")
        #expect(plan.stdout.contains("~ configure 'shared'"), "\(plan.stdout)")
        #expect(plan.stdout.contains("MPS servers started afterwards"), "\(plan.stdout)")
        let drift = try forbc("drift", [fourteen])
        #expect(drift.code == 2 && drift.stdout.contains("changed 'shared'"), "\(drift.stdout)")
        #expect(try forbc("apply", [fourteen, "--yes", "--no-bench"]).code == 0)
        let after = try #require(try daemon().daemon)
        #expect(after.pid == before.pid && after.activeThreadPercentage == 14)
        // The GPU taken for passthrough instead: the daemon forbc started goes.
        let whole = try forbc("plan", [manifest("passthrough: {name: whole}")])
        #expect(whole.stdout.contains("- destroy   'shared': MPS control daemon of"), "\(whole.stdout)")
        #expect(try forbc("apply", [manifest("passthrough: {name: whole}"), "--yes", "--no-bench"]).code == 0)
        #expect(try daemon().daemon == nil)
    }

    @Test("bad MPS input is a located error and changes nothing")
    func badInput() throws {
        let cases: [(String, String)] = [
            (
                "mps: {name: s, clients: 2, activeThreadPercentage: 50}\n      mig: [{name: a, profile: 3g.40gb}]",
                "m.yaml:6:7: error: 'spec.gpus[0]' combines 'mig' and 'mps'; one GPU is partitioned one way"
            ),
            (
                "mps: {name: s, clients: 2, activeThreadPercentage: 0}",
                "'spec.gpus[0].mps.activeThreadPercentage' is 0; it must be between 1 and 100"
            ),
            (
                "mps: {name: s, clients: 0, activeThreadPercentage: 50}",
                "'spec.gpus[0].mps.clients' is 0; it must be between 1 and 48"
            ),
            (
                "mps: {name: s, clients: 1, activeThreadPercentage: 50, pinnedMemoryLimit: lots}",
                "'spec.gpus[0].mps.pinnedMemoryLimit' is 'lots'; a pinned memory limit is"
            ),
            ("mps: {name: s, activeThreadPercentage: 50}", "'spec.gpus[0].mps' has no 'clients'"),
        ]
        for (text, message) in cases {
            let outcome = try forbc("apply", [manifest(text), "--yes", "--no-bench"])
            #expect(outcome.code == 1, "\(text)")
            #expect(outcome.stderr.contains(message), "\(outcome.stderr)")
        }
        #expect(try daemon().daemon == nil)
        // A GPU that NVML does not know has no UUID for MPS: refused by the planner, located.
        let t4 = try ForbcBinary.run(
            [
                "plan", "--simulate", "nvidia-t4", "--state-dir", makeTemporaryDirectory("mps-t4").path,
                manifest("mps: {name: s, clients: 1, activeThreadPercentage: 50}"),
            ])
        #expect(t4.code != 0 && t4.stderr.contains("MPS needs the GPU's UUID"), "\(t4.stderr)")
    }
}
