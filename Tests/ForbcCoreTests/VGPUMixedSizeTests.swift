import ForbcCore
import ForbcSimulator
import ForbcTestSupport
import Foundation
import Testing

/// Issue 16, item 4: NVIDIA's mixed-size (heterogeneous) time-sliced vGPU with placement IDs, on the simulated
/// `nvidia-l40s-vgpu`. Each refusal test names the document (and section) whose rule it follows.
@Suite("vGPU mixed-size mode")
struct VGPUMixedSizeTests {
    func manifest(_ fixture: SimulatedHostFixture, _ entry: String) throws -> Manifest {
        try fixture.manifest(
            text: """
                apiVersion: forbc/v1
                kind: Host
                metadata: {name: mixed}
                spec:
                  gpus:
                    - \(entry)
                """)
    }

    func mode(_ fixture: SimulatedHostFixture) -> Bool {
        fixture.kernel.model.nvml[0].vgpuScheduler?.heterogeneous ?? false
    }

    /// Placement ID per vGPU type id, as the simulated driver placed them.
    func placements(_ fixture: SimulatedHostFixture) -> [Int] {
        (fixture.kernel.model.vgpuPlacements ?? [:]).values.sorted()
    }

    static let layout =
        "{select: {index: 0}, vgpuMode: mixedSize, vgpu: [{name: small, type: L40S-4C, count: 2}, "
        + "{name: big, type: L40S-24C}, {name: mid, type: L40S-12C}]}"

    @Test("nvidia-l40s-vgpu: mixed sizes placed by placement ID; converged, drift, repair, export round trip")
    func lifecycle() throws {
        let fixture = try SimulatedHostFixture(profile: "nvidia-l40s-vgpu")
        let declared = try manifest(fixture, Self.layout)
        let plan = try fixture.plan(declared)
        #expect(
            plan.actions.map { "\($0.action.rawValue) \($0.target) \($0.value)" } == [
                "configure 0000:ca:00.0 mixedSize", "create big 1182", "create mid 1180", "create small-0 1177",
                "create small-1 1177",
            ])
        #expect(plan.actions[1].reason == "declared, not present; mixed-size placement ID 0")
        #expect(
            plan.actions.dropFirst().map(\.reason).map { $0.split(separator: " ").last! } == [
                "0", "24", "36", "44",
            ])
        #expect(try fixture.apply(declared).report.succeeded)
        #expect(mode(fixture) == true && placements(fixture) == [0, 24, 36, 44])
        #expect(try fixture.state().partitions.compactMap(\.placement).sorted() == [0, 24, 36, 44])

        // Converged: nothing planned, nothing written, no NVML call that changes anything.
        let calls = fixture.kernel.counters.nvmlCalls
        let again = try fixture.apply(declared)
        #expect(again.report.done.isEmpty && again.writes == 0)
        #expect(fixture.kernel.counters.nvmlCalls == calls)
        #expect(DriftReport(plan: try fixture.plan(declared), manifest: declared).inSync)

        // Behind forbc's back (a reboot, another tool): the vGPUs gone and the mode back to equal-size.
        fixture.kernel.mutate { model in
            model.vgpus = [:]
            model.vgpuPlacements = [:]
            model.nvml[0].vgpuScheduler?.heterogeneous = false
        }
        let drift = try fixture.plan(declared)
        #expect(!DriftReport(plan: drift, manifest: declared).inSync)
        #expect(drift.actions.first?.reason == "the vGPU mode is equal-size; the manifest declares 'mixedSize'")
        #expect(try fixture.apply(declared).report.succeeded)
        #expect(mode(fixture) == true && placements(fixture) == [0, 24, 36, 44])
        #expect(try fixture.plan(declared).isEmpty)

        // Export: the mode comes back with the vGPUs, and the exported manifest plans to nothing.
        let exported = try Exporter(inventory: try fixture.inventory(domains: true), state: try fixture.state())
            .manifest()
        #expect(exported.contains("vgpuMode: mixedSize"))
        #expect(try fixture.plan(try fixture.manifest(text: exported)).isEmpty)
    }

    @Test("a vGPU of another type put on a recorded VF behind forbc's back is drift; repair frees its slots first")
    func typeDrift() throws {
        let fixture = try SimulatedHostFixture(profile: "nvidia-l40s-vgpu")
        let declared = try manifest(fixture, Self.layout)
        #expect(try fixture.apply(declared).report.succeeded)
        let vf = try #require(fixture.kernel.model.vgpus.first { $0.value == 1182 }?.key)
        fixture.kernel.mutate { model in
            model.vgpus[vf] = 1181  // L40S-16C where 'big' (L40S-24C) was, at the same placement
        }
        let drift = try fixture.plan(declared)
        #expect(drift.actions.map { "\($0.action.rawValue) \($0.target)" } == ["destroy big", "create big"])
        #expect(try fixture.apply(declared).report.succeeded)
        #expect(fixture.kernel.model.vgpus[vf] == 1182 && placements(fixture) == [0, 24, 36, 44])
    }

    @Test("NVML API reference, nvmlDeviceGetVgpuTypeCreatablePlacements: a placement taken since planning stops apply")
    func placementTakenSincePlanning() throws {
        let fixture = try SimulatedHostFixture(profile: "nvidia-l40s-vgpu")
        #expect(try fixture.apply(try manifest(fixture, "{select: {index: 0}, vgpuMode: mixedSize}")).report.succeeded)
        let entry =
            "{select: {index: 0}, vgpuMode: mixedSize, vgpu: [{name: big, type: L40S-24C}, "
            + "{name: small, type: L40S-4C}]}"
        let plan = try fixture.plan(try manifest(fixture, entry))
        #expect(plan.actions.map(\.reason).last == "declared, not present; mixed-size placement ID 24")
        // Another tool takes slots 24-27 with an L40S-4C on the last VF after the plan was made.
        fixture.kernel.mutate { model in
            model.vgpus["0000:ca:04.3"] = 1177
            model.vgpuPlacements = ["0000:ca:04.3": 24]
        }
        let report = try fixture.session.apply(plan)
        #expect(report.done.map(\.target) == ["big"])
        #expect(report.failed?.0.target == "small")
        #expect(
            report.failed?.1.message.hasPrefix(
                "placement ID 24 of 'NVIDIA L40S-4C' on 0000:ca:00.0 is no longer free "
                    + "(nvmlDeviceGetVgpuTypeCreatablePlacements lists 32, 36, 44)") == true)
        #expect(fixture.kernel.model.vgpus.count == 2)
    }

    @Test("vGPU user guide, equal-size mode (the default): one vGPU type per GPU unless mixed-size is declared")
    func equalSizeRefusesMixed() throws {
        let fixture = try SimulatedHostFixture(profile: "nvidia-l40s-vgpu")
        let entry = "{select: {index: 0}, vgpu: [{name: a, type: L40S-8C}, {name: b, type: L40S-4C}]}"
        let refused = try refusal(fixture, try manifest(fixture, entry))
        #expect(
            refused.first?.hasSuffix(
                "error: NVIDIA time-sliced vGPU holds one type per physical GPU at a time (equal-size mode; declare "
                    + "'vgpuMode: mixedSize' for mixed sizes): 'a' wants 'L40S-8C' and 'b' wants 'L40S-4C' on "
                    + "0000:ca:00.0 (NVIDIA L40S)") == true)
        // Mixed-size mode on behind the manifest's back does not lift the rule: the manifest must say so.
        fixture.kernel.mutate { $0.nvml[0].vgpuScheduler?.heterogeneous = true }
        #expect(
            try refusal(fixture, try manifest(fixture, entry)).first?.contains(
                "(the GPU is in mixed-size mode, but the manifest does not declare 'vgpuMode: mixedSize')") == true)
    }

    @Test("NVML API reference, nvmlVgpuPlacementList_v2_t: a type occupies placementSize slots from a placementId")
    func placementIDs() throws {
        let fixture = try SimulatedHostFixture(profile: "nvidia-l40s-vgpu")
        // 47 of 48 GB, yet the 3Q has no free start: 27 and 30 overlap, though slots 28-31 are free.
        let entry =
            "{select: {index: 0}, vgpuMode: mixedSize, vgpu: [{name: big, type: L40S-24Q}, "
            + "{name: mid, type: L40S-16Q}, {name: four, type: L40S-4Q}, {name: three, type: L40S-3Q}]}"
        let refused = try refusal(fixture, try manifest(fixture, entry))
        #expect(refused.count == 1)
        #expect(
            refused.first?.hasSuffix(
                "'three' (L40S-3Q: 3 slots, starting at one of placement IDs 0, 3, 6, 9, 12, 15, 18, 21, 24, 27, 30, "
                    + "33, 36, 39, 42, 45) does not fit on 0000:ca:00.0 (NVIDIA L40S) in mixed-size mode; slots "
                    + "taken: big at 0+24, four at 24+4, mid at 32+16") == true)
        // Without the 3Q the same layout fits, and more vGPUs than slots never do.
        let fits = entry.replacingOccurrences(of: ", {name: three, type: L40S-3Q}", with: "")
        #expect(try fixture.apply(try manifest(fixture, fits)).report.succeeded)
        #expect(placements(fixture) == [0, 24, 32])
    }

    @Test(
        "NVIDIA AI Enterprise 6.2, Virtual GPU Types for Supported GPUs, Table 39: four L40S-8C in mixed-size mode"
    )
    func mixedSizeMaximum() throws {
        let fixture = try SimulatedHostFixture(profile: "nvidia-l40s-vgpu")
        let five = "vgpu: [{name: ml, type: L40S-8C, count: 5}]"
        let refused = try refusal(fixture, try manifest(fixture, "{select: {index: 0}, vgpuMode: mixedSize, \(five)}"))
        #expect(refused.count == 1)
        #expect(
            refused.first?.hasSuffix(
                "'ml-4' (L40S-8C: 8 slots, starting at one of placement IDs 0, 16, 24, 40) does not fit on "
                    + "0000:ca:00.0 (NVIDIA L40S) in mixed-size mode; slots taken: ml-0 at 0+8, ml-1 at 16+8, "
                    + "ml-2 at 24+8, ml-3 at 40+8") == true)
        // Four fit in mixed-size mode, at NVIDIA's placement IDs; five fit in equal-size mode (the default).
        let four = "{select: {index: 0}, vgpuMode: mixedSize, vgpu: [{name: ml, type: L40S-8C, count: 4}]}"
        #expect(try fixture.apply(try manifest(fixture, four)).report.succeeded)
        #expect(placements(fixture) == [0, 16, 24, 40])
        let equal = try SimulatedHostFixture(profile: "nvidia-l40s-vgpu")
        #expect(try equal.apply(try manifest(equal, "{select: {index: 0}, \(five)}")).report.succeeded)
        #expect(equal.kernel.model.vgpus.values.filter { $0 == 1179 }.count == 5)
    }

    @Test("open-gpu-kernel-modules, NV0080_CTRL_CMD_GPU_SET_VGPU_HETEROGENEOUS_MODE: NV_ERR_IN_USE while vGPUs exist")
    func modeChangeInUse() throws {
        let fixture = try SimulatedHostFixture(profile: "nvidia-l40s-vgpu")
        let equal = "{select: {index: 0}, vgpu: [{name: ml, type: L40S-8C, count: 2}]}"
        #expect(try fixture.apply(try manifest(fixture, equal)).report.succeeded)
        let entry = "{select: {index: 0}, vgpuMode: mixedSize, vgpu: [{name: ml, type: L40S-8C, count: 2}]}"
        let refused = try refusal(fixture, try manifest(fixture, entry))
        #expect(
            refused.first?.hasSuffix(
                "the vGPU mode of 0000:ca:00.0 (NVIDIA L40S) is equal-size and can change only while the GPU holds "
                    + "no vGPU (NVIDIA's driver: NV_ERR_IN_USE), but 2 of its VFs hold one (0000:ca:00.4: type "
                    + "1179); remove them first (apply without them), then apply again") == true)
        // The simulated NVML refuses the same call on its own.
        #expect(throws: ForbcError.self) {
            try SimulatedNVML(kernel: fixture.kernel).setVGPUHeterogeneousMode(device: 0, enabled: true)
        }
        #expect(mode(fixture) == false)
    }

    @Test("NVIDIA AI Enterprise, Heterogeneous vGPU: not with the fixed share scheduler (refused in the manifest)")
    func fixedShare() throws {
        let fixture = try SimulatedHostFixture(profile: "nvidia-l40s-vgpu")
        do {
            _ = try manifest(fixture, "{select: {index: 0}, vgpuMode: mixedSize, vgpuScheduler: {policy: fixedShare}}")
            Issue.record("mixed-size mode with a fixed share scheduler was accepted")
        } catch let error as DiagnosticsError {
            #expect(
                error.diagnostics.first?.description.hasSuffix(
                    "'spec.gpus[0]' declares 'vgpuMode: mixedSize' with the 'fixedShare' scheduler; mixed-size "
                        + "(heterogeneous) vGPU mode supports the best effort and equal share schedulers only")
                    == true)
        }
    }

    @Test("NVML API reference: no vGPU mode in MIG mode, nor where NVML reports none (refused by name)")
    func noMode() throws {
        let fixture = try SimulatedHostFixture(profile: "nvidia-l40s")
        let entry = "{select: {index: 0}, vgpuMode: mixedSize}"
        #expect(
            try refusal(fixture, try manifest(fixture, entry)).first?.hasSuffix(
                "'vgpuMode' is declared for 0000:ca:00.0 (NVIDIA L40S), but NVML reports no vGPU mode there "
                    + "(nvmlDeviceGetVgpuHeterogeneousMode); mixed-size vGPU needs NVIDIA's vGPU manager 17 or "
                    + "later on a GPU that supports it") == true)
        #expect(throws: DiagnosticsError.self) {
            try manifest(fixture, "{select: {index: 0}, migMode: enabled, vgpuMode: mixedSize}")
        }
    }

    @Test("the mode alone is set and exported alone; equalSize turns it off again")
    func modeAlone() throws {
        let fixture = try SimulatedHostFixture(profile: "nvidia-l40s-vgpu")
        let alone = try manifest(fixture, "{select: {index: 0}, vgpuMode: mixedSize}")
        #expect(try fixture.apply(alone).report.succeeded)
        #expect(mode(fixture) == true)
        #expect(try fixture.plan(alone).isEmpty)
        let exported = try Exporter(inventory: try fixture.inventory(domains: true), state: try fixture.state())
            .manifest()
        #expect(exported.contains("vgpuMode: mixedSize"))
        #expect(try fixture.plan(try fixture.manifest(text: exported)).isEmpty)
        #expect(try fixture.apply(try manifest(fixture, "{select: {index: 0}, vgpuMode: equalSize}")).report.succeeded)
        #expect(mode(fixture) == false)
    }
}
