import ForbcTestSupport
import Foundation
import Testing

/// `apply --bench on-change` (the default) runs only the suites whose targets the apply touched; a converged host
/// runs nothing; the workload folder is checked before anything changes.
@Suite("apply triggers benchmarks on change")
struct BenchTriggerTests {
    static let manifest = writeManifest(
        """
        apiVersion: forbc/v1
        kind: Host
        metadata: {name: trigger}
        spec:
          gpus:
            - select: {index: 0}
              vgpu: [{name: desk, type: T4-4Q, count: 2}]
          benchmarks:
            - {suite: desks, on: [desk-1], workloads: [cpu-gemm], repetitions: 1}
        """)
    static let workloads = RepositoryPaths.root.appendingPathComponent("Manifests/workloads").path
    static let skipped = "benchmark suite(s) did not run"

    @Test("the first apply triggers the suite; a second, converged apply runs nothing; 'always' and 'never' do")
    func onChange() {
        let cli = CLI()
        let first = cli.sim("nvidia-t4", "apply", [Self.manifest, "--workloads", Self.workloads])
        #expect(first.code == 0, "\(first.stderr)")
        #expect(first.stderr.contains("1 \(Self.skipped)"), "\(first.stderr)")
        let second = cli.sim("nvidia-t4", "apply", [Self.manifest, "--workloads", Self.workloads])
        #expect(second.code == 0)
        #expect(second.stdout.contains("No changes"))
        #expect(!second.stderr.contains(Self.skipped), "\(second.stderr)")
        let always = cli.sim("nvidia-t4", "apply", [Self.manifest, "--workloads", Self.workloads, "--bench", "always"])
        #expect(always.stderr.contains("1 \(Self.skipped)"))
        let never = cli.sim("nvidia-t4", "apply", [Self.manifest, "--workloads", Self.workloads, "--bench", "never"])
        #expect(!never.stderr.contains(Self.skipped))
    }

    @Test("a suite whose target this apply did not touch is not triggered")
    func untouchedTarget() {
        let cli = CLI()
        #expect(cli.sim("nvidia-t4", "apply", [Self.manifest, "--workloads", Self.workloads]).code == 0)
        // Growing the count creates desk-2 only; the suite measures desk-1.
        let grown = writeManifest(
            try! String(contentsOfFile: Self.manifest, encoding: .utf8).replacingOccurrences(
                of: "count: 2", with: "count: 3"))
        let applied = cli.sim("nvidia-t4", "apply", [grown, "--workloads", Self.workloads])
        #expect(applied.code == 0, "\(applied.stderr)")
        #expect(applied.stdout.contains("desk-2"))
        #expect(!applied.stderr.contains(Self.skipped), "\(applied.stderr)")
    }

    @Test("a missing workload folder is a located error at validate time, and apply changes nothing")
    func missingFolder() {
        let cli = CLI()
        let validate = cli.run(["validate", Self.manifest])
        #expect(validate.code == 1)
        #expect(validate.stderr.contains("\(Self.manifest):9:7: error: the workload folder"), "\(validate.stderr)")
        let apply = cli.sim("nvidia-t4", "apply", [Self.manifest])
        #expect(apply.code == 1)
        #expect(apply.stderr.contains("does not exist"))
        #expect(cli.sim("nvidia-t4", "plan", [Self.manifest, "--detailed-exitcode"]).code == 2, "nothing applied")
    }
}
