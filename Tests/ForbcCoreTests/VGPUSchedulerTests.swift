import ForbcCore
import ForbcSimulator
import ForbcTestSupport
import Foundation
import Testing

/// Issue 16, item 4: NVIDIA's vGPU scheduler (policy and time slice per GPU) as a declared, drift-checked setting,
/// set through NVML. Each refusal test names the NVIDIA document and section whose rule it follows.
@Suite("vGPU scheduler")
struct VGPUSchedulerTests {
    func manifest(_ fixture: SimulatedHostFixture, _ entry: String, vms: String? = nil) throws -> Manifest {
        try fixture.manifest(
            text: """
                apiVersion: forbc/v1
                kind: Host
                metadata: {name: sched}
                spec:
                  gpus:
                    - \(entry)
                \(vms.map { "  vms:\n    - \($0)" } ?? "")
                """)
    }

    /// "test.yaml:6:C: error: " where C is the column of the entry's `vgpuScheduler` mapping.
    func at(_ entry: String) -> String {
        let offset = entry.distance(from: entry.startIndex, to: entry.range(of: "vgpuScheduler: ")!.upperBound)
        return "test.yaml:6:\(6 + offset + 1): error: "
    }

    func scheduler(_ fixture: SimulatedHostFixture) -> SimVGPUScheduler? { fixture.kernel.model.nvml[0].vgpuScheduler }

    static let vgpus = "vgpu: [{name: ml, type: L40S-8C, count: 2}]"

    @Test("nvidia-l40s-vgpu: apply sets the scheduler before the vGPUs, re-apply writes nothing, drift, repair, export")
    func lifecycle() throws {
        let fixture = try SimulatedHostFixture(profile: "nvidia-l40s-vgpu")
        let declared = try manifest(
            fixture, "{select: {index: 0}, \(Self.vgpus), vgpuScheduler: {policy: equalShare, timesliceMs: 4}}")
        let plan = try fixture.plan(declared)
        #expect(
            plan.actions.map { "\($0.action.rawValue) \($0.target)" } == [
                "configure 0000:ca:00.0", "create ml-0", "create ml-1",
            ])
        #expect(plan.actions[0].reason == "the vGPU scheduler is 'bestEffort'; the manifest declares 'equalShare/4ms'")
        #expect(try fixture.apply(declared).report.succeeded)
        #expect(scheduler(fixture)?.policy == .equalShare && scheduler(fixture)?.timesliceNs == 4_000_000)

        // Converged: nothing planned, nothing written, no NVML call that changes anything.
        let calls = fixture.kernel.counters.nvmlCalls
        let again = try fixture.apply(declared)
        #expect(again.report.done.isEmpty && again.writes == 0)
        #expect(fixture.kernel.counters.nvmlCalls == calls)
        #expect(DriftReport(plan: try fixture.plan(declared), manifest: declared).inSync)

        // Behind forbc's back (nvidia-smi, another tool): back to best effort.
        try SimulatedNVML(kernel: fixture.kernel).setVGPUScheduler(device: 0, policy: .bestEffort, timesliceNs: 0)
        let drift = try fixture.plan(declared)
        #expect(!DriftReport(plan: drift, manifest: declared).inSync)
        #expect(drift.actions.map(\.value) == ["equalShare/4ms"])
        #expect(try fixture.apply(declared).report.succeeded)
        #expect(scheduler(fixture)?.policy == .equalShare && scheduler(fixture)?.timesliceNs == 4_000_000)

        // Export: the scheduler comes back with the vGPUs, and the exported manifest plans to nothing.
        let exported = try Exporter(inventory: try fixture.inventory(domains: true), state: try fixture.state())
            .manifest()
        #expect(exported.contains("vgpuScheduler: {policy: equalShare, timesliceMs: 4}"))
        #expect(try fixture.plan(try fixture.manifest(text: exported)).isEmpty)
    }

    @Test("a scheduler alone (no vGPUs yet) is set, exported alone, and a policy without time slice keeps it")
    func schedulerAlone() throws {
        let fixture = try SimulatedHostFixture(profile: "nvidia-l40s-vgpu")
        let alone = try manifest(fixture, "{select: {index: 0}, vgpuScheduler: {policy: fixedShare}}")
        #expect(try fixture.apply(alone).report.succeeded)
        #expect(scheduler(fixture)?.policy == .fixedShare && scheduler(fixture)?.timesliceNs == 2_000_000)
        #expect(try fixture.plan(alone).isEmpty)
        let exported = try Exporter(inventory: try fixture.inventory(domains: true), state: try fixture.state())
            .manifest()
        #expect(exported.contains("vgpuScheduler: {policy: fixedShare, timesliceMs: 2}"))
        #expect(try fixture.plan(try fixture.manifest(text: exported)).isEmpty)
    }

    @Test("NVML API reference, nvmlDeviceSetVgpuSchedulerState: 'only when no VM is running' (a running domain's vGPU)")
    func noVMRunning() throws {
        let fixture = try SimulatedHostFixture(profile: "nvidia-l40s-vgpu")
        let vm = "{domain: worker-1, attach: [ml-0], live: true}"
        let first = try manifest(
            fixture, "{select: {index: 0}, \(Self.vgpus), vgpuScheduler: {policy: equalShare}}", vms: vm)
        #expect(try fixture.apply(first).report.succeeded)
        let entry = "{select: {index: 0}, \(Self.vgpus), vgpuScheduler: {policy: fixedShare}}"
        let changed = try manifest(fixture, entry, vms: vm)
        #expect(
            try refusal(fixture, changed) == [
                at(entry) + "the vGPU scheduler of 0000:ca:00.0 (NVIDIA L40S) can change only while no VM "
                    + "runs on its vGPUs (NVML, nvmlDeviceSetVgpuSchedulerState), and domain 'worker-1' runs on "
                    + "one; shut it down, then apply again"
            ])
        #expect(scheduler(fixture)?.policy == .equalShare)
    }

    @Test("NVML API reference, nvmlVgpuSchedulerCapabilities_t: a time slice within minTimeslice and maxTimeslice")
    func timesliceBounds() throws {
        let fixture = try SimulatedHostFixture(profile: "nvidia-l40s-vgpu")
        let entry = "{select: {index: 0}, vgpuScheduler: {policy: equalShare, timesliceMs: 31}}"
        let tooLong = try manifest(fixture, entry)
        #expect(
            try refusal(fixture, tooLong) == [
                at(entry) + "'timesliceMs' is 31; the vGPU scheduler of 0000:ca:00.0 (NVIDIA L40S) takes "
                    + "a time slice of 1 to 30 ms (nvmlVgpuSchedulerCapabilities_t minTimeslice and maxTimeslice)"
            ])
        // The simulated NVML refuses the same call on its own.
        #expect(throws: ForbcError.self) {
            try SimulatedNVML(kernel: fixture.kernel).setVGPUScheduler(
                device: 0, policy: .equalShare, timesliceNs: 31_000_000)
        }
    }

    @Test("a GPU reporting minTimeslice above maxTimeslice, or maxTimeslice 0: a located error, not a trap")
    func invalidTimesliceRange() throws {
        for (low, high) in [(30_000_000, 1_000_000), (0, 0)] {
            let fixture = try SimulatedHostFixture(profile: "nvidia-l40s-vgpu")
            fixture.kernel.mutate { model in
                model.nvml[0].vgpuScheduler?.minTimesliceNs = low
                model.nvml[0].vgpuScheduler?.maxTimesliceNs = high
            }
            let entry = "{select: {index: 0}, vgpuScheduler: {policy: equalShare, timesliceMs: 4}}"
            #expect(
                try refusal(fixture, try manifest(fixture, entry)) == [
                    at(entry) + "'timesliceMs' is 4, but the vGPU scheduler of 0000:ca:00.0 (NVIDIA L40S) reports no "
                        + "valid time slice range (nvmlVgpuSchedulerCapabilities_t minTimeslice \(low) ns, "
                        + "maxTimeslice \(high) ns); leave 'timesliceMs' out, or check the vGPU manager"
                ])
            // Without a time slice there is nothing to check against the range: the policy is planned.
            let policy = try manifest(fixture, "{select: {index: 0}, vgpuScheduler: {policy: equalShare}}")
            #expect(try fixture.plan(policy).actions.map(\.value) == ["equalShare"])
        }
    }

    @Test("NVML API reference, nvmlVgpuSchedulerCapabilities_t: a policy among supportedSchedulers")
    func supportedPolicy() throws {
        let fixture = try SimulatedHostFixture(profile: "nvidia-l40s-vgpu")
        fixture.kernel.mutate { $0.nvml[0].vgpuScheduler?.supported = [.bestEffort, .equalShare] }
        let entry = "{select: {index: 0}, vgpuScheduler: {policy: fixedShare}}"
        let fixed = try manifest(fixture, entry)
        #expect(
            try refusal(fixture, fixed) == [
                at(entry) + "policy 'fixedShare' is not one the vGPU scheduler of 0000:ca:00.0 (NVIDIA "
                    + "L40S) supports (nvmlVgpuSchedulerCapabilities_t lists: bestEffort, equalShare)"
            ])
    }

    @Test("NVIDIA AI Enterprise, Heterogeneous vGPU: only best effort and equal share in heterogeneous mode")
    func heterogeneousSchedulers() throws {
        let fixture = try SimulatedHostFixture(profile: "nvidia-l40s-vgpu")
        fixture.kernel.mutate { $0.nvml[0].vgpuScheduler?.heterogeneous = true }
        let entry = "{select: {index: 0}, vgpuScheduler: {policy: fixedShare}}"
        #expect(
            try refusal(fixture, try manifest(fixture, entry)) == [
                at(entry) + "policy 'fixedShare' is declared for 0000:ca:00.0 (NVIDIA L40S), which is in "
                    + "heterogeneous (mixed-size) vGPU mode; that mode supports the best effort and equal share "
                    + "schedulers only"
            ])
        // Mixed sizes stay refused where the manifest does not declare mixed-size mode, and the message says why.
        let mixed = try manifest(
            fixture, "{select: {index: 0}, vgpu: [{name: a, type: L40S-8C}, {name: b, type: L40S-4C}]}")
        #expect(
            try refusal(fixture, mixed).first?.contains(
                "(the GPU is in mixed-size mode, but the manifest does not declare 'vgpuMode: mixedSize')") == true)
        let equal = try manifest(fixture, "{select: {index: 0}, vgpuScheduler: {policy: equalShare}}")
        #expect(try fixture.apply(equal).report.succeeded)
        #expect(scheduler(fixture)?.policy == .equalShare)
    }

    @Test("NVIDIA AI Enterprise, Scheduling Policies: MIG-backed vGPUs are not time-sliced (a GPU in MIG mode)")
    func migBacked() throws {
        let fixture = try SimulatedHostFixture(profile: "nvidia-a100-40gb")
        fixture.kernel.mutate { model in
            model.nvml[0].vgpuScheduler = SimVGPUScheduler(
                supported: [.bestEffort, .equalShare, .fixedShare], minTimesliceNs: 1_000_000,
                maxTimesliceNs: 30_000_000, defaultTimesliceNs: 2_000_000)
            model.nvml[0].currentMode = true
            model.nvml[0].pendingMode = true
        }
        let entry = "{select: {index: 0}, vgpuScheduler: {policy: equalShare}}"
        let declared = try manifest(fixture, entry)
        #expect(
            try refusal(fixture, declared) == [
                at(entry) + "'vgpuScheduler' is declared for 0000:07:00.0 (NVIDIA A100-SXM4-40GB), which is "
                    + "in MIG mode; the vGPU scheduler time-slices vGPUs, and MIG-backed vGPUs are not time-sliced; "
                    + "turn MIG mode off ('migMode: disabled' in another apply) or remove 'vgpuScheduler'"
            ])
        // The manifest alone says it where MIG is declared with it.
        #expect(throws: DiagnosticsError.self) {
            try manifest(fixture, "{select: {index: 0}, migMode: enabled, vgpuScheduler: {policy: equalShare}}")
        }
    }

    @Test("a GPU whose NVML reports no vGPU scheduler (no vGPU manager) is refused by name")
    func noScheduler() throws {
        let fixture = try SimulatedHostFixture(profile: "nvidia-a100-40gb")
        let entry = "{select: {index: 0}, vgpuScheduler: {policy: equalShare}}"
        let declared = try manifest(fixture, entry)
        #expect(
            try refusal(fixture, declared) == [
                at(entry) + "'vgpuScheduler' is declared for 0000:07:00.0 (NVIDIA A100-SXM4-40GB), but NVML "
                    + "reports no vGPU scheduler there; it needs NVIDIA's vGPU manager (vGPU 16 or later) on the GPU"
            ])
    }

    @Test("vGPU user guide, Changing Scheduling Behavior for Time-Sliced vGPUs: no time slice with best effort")
    func bestEffortTimeslice() throws {
        let fixture = try SimulatedHostFixture(profile: "nvidia-l40s-vgpu")
        do {
            _ = try manifest(fixture, "{select: {index: 0}, vgpuScheduler: {policy: bestEffort, timesliceMs: 2}}")
            Issue.record("a best-effort scheduler with a time slice was accepted")
        } catch let error as DiagnosticsError {
            #expect(
                error.diagnostics.map(\.description) == [
                    "test.yaml:6:77: error: 'spec.gpus[0].vgpuScheduler.timesliceMs' is given with policy "
                        + "'bestEffort'; a time slice is set for 'equalShare' or 'fixedShare' only"
                ])
        }
    }
}
