import ForbcCore
import ForbcSimulator
import ForbcTestSupport
import Foundation
import Testing

/// Issue 16, item 3: NVIDIA MIG-backed vGPU on an A100's VFs. Each refusal test names the NVIDIA document and
/// section whose rule it follows.
@Suite("MIG-backed vGPU")
struct MIGBackedVGPUTests {
    func manifest(_ fixture: SimulatedHostFixture, _ vgpus: String, prune: String = "managed") throws -> Manifest {
        try fixture.manifest(
            text: """
                apiVersion: forbc/v1
                kind: Host
                metadata: {name: migv}
                spec:
                  prune: \(prune)
                  gpus:
                    - select: {index: 0}
                      vgpu: \(vgpus)
                """)
    }

    func steps(_ plan: Plan) -> [String] {
        plan.actions.map { "\($0.action.rawValue) \($0.kind.rawValue) \($0.target)" }
    }

    @Test("nvidia-a100-vgpu: MIG mode, GPU instances, then vGPUs in one plan; converged; drift; repair; export")
    func lifecycle() throws {
        let fixture = try SimulatedHostFixture(profile: "nvidia-a100-vgpu")
        let declared = try fixture.manifest("nvidia-a100-vgpu")
        let plan = try fixture.plan(declared)
        #expect(
            steps(plan) == [
                "configure mig 0000:17:00.0", "create mig train", "create vgpu-vf train", "create mig infer-0",
                "create vgpu-vf infer-0", "create mig infer-1", "create vgpu-vf infer-1", "attach vgpu-vf train",
                "attach vgpu-vf infer-0",
            ])
        #expect(try fixture.apply(declared).report.succeeded)
        let nvml = fixture.kernel.model.nvml[0]
        #expect(nvml.currentMode && nvml.instances.map(\.profileID).sorted() == [9, 19, 19])
        #expect(nvml.instances.allSatisfy { $0.uuids.isEmpty }, "no compute instance on the host")
        #expect(Set((nvml.vgpuBindings ?? [:]).values) == Set(nvml.instances.map(\.id)))

        let calls = fixture.kernel.counters.nvmlCalls
        let again = try fixture.apply(declared)
        #expect(again.report.done.isEmpty && again.writes == 0 && fixture.kernel.counters.nvmlCalls == calls)

        // Behind forbc's back: the vGPU of infer-1 is cleared; its GPU instance stays, free.
        let vf = try #require(try fixture.state().owned(name: "infer-1")?.address)
        try fixture.kernel.write(SysPath.pci(vf, "nvidia/current_vgpu_type"), "0")
        let drift = try fixture.plan(declared)
        #expect(!DriftReport(plan: drift, manifest: declared).inSync)
        #expect(steps(drift) == ["create vgpu-vf infer-1"], "the free GPU instance is used again, not a new one")
        #expect(try fixture.apply(declared).report.succeeded)
        #expect(try fixture.plan(declared).isEmpty)

        let exported = try Exporter(inventory: try fixture.inventory(domains: true), state: try fixture.state())
            .manifest()
        #expect(exported.contains("type: A100-3-20C") && !exported.contains("mig:"))
        #expect(try fixture.plan(try fixture.manifest(text: exported)).isEmpty)
    }

    /// The profile's manifest applied, then its records lost (state.json and state.journal gone); returns what
    /// was recorded.
    func appliedThenRecordsLost(_ fixture: SimulatedHostFixture) throws -> [OwnedPartition] {
        #expect(try fixture.apply(try fixture.manifest("nvidia-a100-vgpu")).report.succeeded)
        let recorded = try fixture.state().partitions
        try fixture.session.store.save(HostState())
        return recorded
    }

    @Test("records lost, 2 of 3 vGPUs left: the two are adopted with their VFs and instances, the third is made")
    func adoptTwoOfThree() throws {
        let fixture = try SimulatedHostFixture(profile: "nvidia-a100-vgpu")
        let recorded = try appliedThenRecordsLost(fixture)
        // Behind forbc's back: infer-1's vGPU and then its GPU instance go.
        let vf = try #require(recorded.first { $0.name == "infer-1" }?.address)
        let instance = try #require(fixture.kernel.model.nvml[0].vgpuBindings?[vf])
        try fixture.kernel.write(SysPath.pci(vf, "nvidia/current_vgpu_type"), "0")
        try SimulatedNVML(kernel: fixture.kernel).destroyInstance(device: 0, instanceID: instance)

        let declared = try fixture.manifest("nvidia-a100-vgpu")
        let plan = try fixture.plan(declared)
        #expect(steps(plan) == ["create mig infer-1", "create vgpu-vf infer-1"])
        for name in ["train", "infer-0"] {
            let was = try #require(recorded.first { $0.name == name })
            let adopted = try #require(plan.partitions.first { $0.name == name })
            #expect(adopted.address == was.address && adopted.placement == was.placement, "\(name) keeps its VF")
        }
        #expect(try fixture.apply(declared).report.succeeded)
        #expect(try fixture.plan(declared).isEmpty)
        let state = try fixture.state()
        #expect(state.partitions.map(\.name) == ["infer-0", "infer-1", "train"])
        #expect(state.owned(name: "train") == recorded.first { $0.name == "train" })
        #expect(state.owned(name: "infer-0") == recorded.first { $0.name == "infer-0" })
    }

    @Test("records lost, one vGPU more than declared: not adopted, it stays under prune: managed, goes under all")
    func unmatchedStaysForeign() throws {
        let fixture = try SimulatedHostFixture(profile: "nvidia-a100-vgpu")
        let recorded = try appliedThenRecordsLost(fixture)
        let vgpus = "[{name: train, type: A100-3-20C}, {name: infer-0, type: A100-1-5C}]"
        #expect(try fixture.plan(try manifest(fixture, vgpus)).isEmpty, "infer-1's vGPU is nobody's: it stays")
        // Nor is a vGPU of another type adopted: the three stay, and a 2g.10gb instance has no room beside them.
        #expect(
            try refusal(fixture, try manifest(fixture, "[{name: train, type: A100-2-10C}]")) == [
                "test.yaml:8:14: error: 'train' need GPU instances 2g.10gb for MIG-backed vGPUs on 0000:17:00.0 "
                    + "(NVIDIA A100-PCIE-40GB), but its MIG layout cannot hold them: no arrangement of the GPU's "
                    + "placements fits them"
            ])

        let all = try manifest(fixture, vgpus, prune: "all")
        let vf = try #require(recorded.first { $0.name == "infer-1" }?.address)
        let pruned = try fixture.plan(all)
        #expect(
            steps(pruned).filter { $0.hasPrefix("destroy ") } == ["destroy vgpu-vf \(vf)", "destroy mig \(vf)"],
            "\(steps(pruned))")
        #expect(try fixture.apply(all).report.succeeded)
        #expect(fixture.kernel.model.nvml[0].instances.map(\.profileID).sorted() == [9, 19])
        #expect(
            try fixture.state().partitions.map(\.address)
                == ["infer-0", "train"].map { n in
                    recorded.first { $0.name == n }?.address
                })
    }

    @Test("vGPU user guide, MIG-backed vGPU: destroy goes in reverse, the vGPU before the GPU instance it lives on")
    func reverseOrder() throws {
        let fixture = try SimulatedHostFixture(profile: "nvidia-a100-vgpu")
        #expect(
            try fixture.apply(try manifest(fixture, "[{name: a, type: A100-3-20C}, {name: b, type: A100-2-10C}]"))
                .report.succeeded)
        // The instance a vGPU lives on cannot go first (NVML_ERROR_IN_USE).
        let bound = try #require(fixture.kernel.model.nvml[0].vgpuBindings?.values.first)
        #expect(throws: ForbcError.self) {
            try SimulatedNVML(kernel: fixture.kernel).destroyInstance(device: 0, instanceID: bound)
        }
        // 'forbc destroy' too: each vGPU, then its instance.
        let both = try manifest(fixture, "[{name: a, type: A100-3-20C}, {name: b, type: A100-2-10C}]")
        #expect(
            steps(try fixture.session.destroyPlan(both)) == [
                "destroy vgpu-vf a", "destroy mig a", "destroy vgpu-vf b", "destroy mig b",
            ])
        let smaller = try manifest(fixture, "[{name: a, type: A100-3-20C}]")
        #expect(steps(try fixture.plan(smaller)) == ["destroy vgpu-vf b", "destroy mig b"])
        #expect(try fixture.apply(smaller).report.succeeded)
        #expect(fixture.kernel.model.nvml[0].instances.map(\.profileID) == [9])
        #expect(try fixture.state().owned(name: "b") == nil)
    }

    @Test("MIG user guide, A100 GPU-instance placements: MIG-backed types whose instances the layout cannot hold")
    func layoutCannotHold() throws {
        let fixture = try SimulatedHostFixture(profile: "nvidia-a100-vgpu")
        let full = try manifest(
            fixture, "[{name: a, type: A100-4-20C}, {name: b, type: A100-3-20C}, {name: c, type: A100-1-5C}]")
        #expect(
            try refusal(fixture, full) == [
                "test.yaml:8:14: error: 'a', 'b', 'c' need GPU instances 4g.20gb, 3g.20gb, 1g.5gb for MIG-backed "
                    + "vGPUs on 0000:17:00.0 (NVIDIA A100-PCIE-40GB), but its MIG layout cannot hold them: they need "
                    + "9 memory slices and the GPU has 8"
            ])
    }

    @Test("vGPU user guide, A100 PCIe 40GB MIG-backed types: one A100-4-20C per GPU (one 4g.20gb instance)")
    func perGPULimit() throws {
        let fixture = try SimulatedHostFixture(profile: "nvidia-a100-vgpu")
        let two = try manifest(fixture, "[{name: a, type: A100-4-20C, count: 2}]")
        #expect(
            try refusal(fixture, two) == [
                "test.yaml:8:14: error: 'a-0', 'a-1' need GPU instances 4g.20gb, 4g.20gb for MIG-backed vGPUs on "
                    + "0000:17:00.0 (NVIDIA A100-PCIE-40GB), but its MIG layout cannot hold them: 2 × '4g.20gb' "
                    + "exceed the 1 instance of '4g.20gb' the GPU allows"
            ])
    }

    @Test("NVIDIA AI Enterprise 6.2, Virtual GPU Types, Table 71: four A100-1-10C per A100 PCIe 40GB (1g.10gb)")
    func oneTenPerGPU() throws {
        let fixture = try SimulatedHostFixture(profile: "nvidia-a100-vgpu")
        let five = try manifest(fixture, "[{name: a, type: A100-1-10C, count: 5}]")
        let refused = try refusal(fixture, five)
        #expect(refused.count == 1)
        #expect(refused.first?.hasSuffix("exceed the 4 instances of '1g.10gb' the GPU allows") == true)
        #expect(try fixture.apply(try manifest(fixture, "[{name: a, type: A100-1-10C, count: 4}]")).report.succeeded)
        #expect(fixture.kernel.model.vgpus.values.sorted() == [726, 726, 726, 726])
    }

    @Test("vGPU user guide, MIG-backed and time-sliced vGPUs: not both on one GPU (MIG mode on or off)")
    func noMixing() throws {
        let fixture = try SimulatedHostFixture(profile: "nvidia-a100-vgpu")
        let mixed = try manifest(fixture, "[{name: a, type: A100-3-20C}, {name: b, type: A100-10C}]")
        #expect(
            try refusal(fixture, mixed) == [
                "test.yaml:8:43: error: 'b' wants 'A100-10C', a time-sliced type, on 0000:17:00.0 (NVIDIA "
                    + "A100-PCIE-40GB), whose other vGPUs are MIG-backed; a GPU holds MIG-backed vGPUs (MIG mode on) "
                    + "or time-sliced vGPUs (MIG mode off), not both"
            ])
    }

    @Test("vGPU user guide, MIG-backed vGPU: MIG mode does not go on under a time-sliced vGPU that stays")
    func timeSlicedStays() throws {
        let fixture = try SimulatedHostFixture(profile: "nvidia-a100-vgpu")
        // A time-sliced vGPU made behind forbc's back (no record): 'prune: managed' keeps it.
        try fixture.kernel.write(SysPath.pci("0000:17:00.4", "nvidia/current_vgpu_type"), "703")
        let migBacked = try manifest(fixture, "[{name: a, type: A100-3-20C}]")
        #expect(
            try refusal(fixture, migBacked) == [
                "test.yaml:8:14: error: MIG mode of 0000:17:00.0 (NVIDIA A100-PCIE-40GB) must go on for MIG-backed "
                    + "vGPUs, but the time-sliced vGPU on 0000:17:00.4 stays ('prune' is 'managed'); remove it, or "
                    + "set 'prune: all'"
            ])
        // With 'prune: all' it goes first, then MIG mode, the instance and the vGPU.
        let all = try manifest(fixture, "[{name: a, type: A100-3-20C}]", prune: "all")
        #expect(
            steps(try fixture.plan(all)) == [
                "destroy vgpu-vf 0000:17:00.4", "configure mig 0000:17:00.0", "create mig a", "create vgpu-vf a",
            ])
        #expect(try fixture.apply(all).report.succeeded)
        #expect(fixture.kernel.model.vgpus.values.sorted() == [723])
    }

    @Test("time-sliced C types on the same A100 with MIG mode off still plan as vGPU on VFs")
    func timeSlicedStill() throws {
        let fixture = try SimulatedHostFixture(profile: "nvidia-a100-vgpu")
        let sliced = try manifest(fixture, "[{name: t, type: A100-10C, count: 4}]")
        #expect(try fixture.apply(sliced).report.succeeded)
        #expect(fixture.kernel.model.vgpus.values.sorted() == [703, 703, 703, 703])
        #expect(!fixture.kernel.model.nvml[0].currentMode)
        #expect(try fixture.plan(sliced).isEmpty)
    }
}
