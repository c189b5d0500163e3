import ForbcCore
import ForbcSimulator
import ForbcTestSupport
import Foundation
import Testing

/// Mixed-size placement read-back (NVML API reference: nvmlDeviceGetActiveVgpus, nvmlVgpuInstanceGetType,
/// nvmlVgpuInstanceGetPlacementId): NVML lists only the active vGPU instances, those of running VMs, per GPU. The
/// simulated NVML lists the vGPUs whose VF `activeVGPUs` names (a VM that uses it runs).
extension VGPUMixedSizeTests {
    static let pair =
        "{select: {index: 0}, vgpuMode: mixedSize, vgpu: [{name: big, type: L40S-24C}, {name: small, type: L40S-4C}]}"
    static let label = "0000:ca:00.0 (NVIDIA L40S)"

    /// The VF forbc recorded for `name`.
    func vf(_ fixture: SimulatedHostFixture, _ name: String) throws -> String {
        try #require(try fixture.state().owned(name: name)?.address)
    }

    /// The VMs of the vGPUs `names` start (`running`) or stop: NVML lists their vGPUs as active, or no longer.
    func vms(_ fixture: SimulatedHostFixture, _ names: [String], running: Bool = true) throws {
        let vfs = try names.map { try vf(fixture, $0) }
        fixture.kernel.mutate { model in
            if running { model.activeVGPUs.formUnion(vfs) } else { model.activeVGPUs.subtract(vfs) }
        }
    }

    /// Each recorded vGPU's placement, confirmed (true) or planned (false).
    func recorded(_ fixture: SimulatedHostFixture) throws -> [String: String] {
        try fixture.state().partitions.reduce(into: [:]) {
            $0[$1.name] = "\($1.placement ?? -1)\($1.placementConfirmed == true ? " confirmed" : " planned")"
        }
    }

    @Test("nvmlDeviceGetActiveVgpus lists running VMs' vGPUs only: before the VMs start nothing is concluded")
    func notActive() throws {
        let fixture = try SimulatedHostFixture(profile: "nvidia-l40s-vgpu")
        let declared = try manifest(fixture, Self.layout)
        #expect(try fixture.apply(declared).report.succeeded)
        #expect(try fixture.inventory().gpus[0].vgpuPlacements?.active == [])
        // With no VM running NVML shows no placement: nothing is concluded, nothing planned, no drift.
        let plan = try fixture.plan(declared)
        #expect(plan.actions.isEmpty)
        #expect(
            plan.notes == [
                "the mixed-size placement of 4 vGPUs on \(Self.label) could not be checked: NVML lists only active "
                    + "vGPUs (those of running VMs; nvmlDeviceGetActiveVgpus) and 4 of the GPU's vGPUs of their types "
                    + "are not active"
            ])
        let drift = DriftReport(plan: plan, manifest: declared)
        #expect(drift.inSync && drift.notes == plan.notes)
        #expect(try fixture.apply(declared).report.done.isEmpty)
        #expect(try recorded(fixture)["small-1"] == "44 planned")
        // Per type: the L40S-24C's VM runs (checked, confirmed); one of two L40S-4C VMs runs (not checked).
        try vms(fixture, ["big", "small-0"])
        let some = try fixture.plan(declared)
        #expect(some.actions.isEmpty)
        #expect(some.notes.first?.hasPrefix("the mixed-size placement of 3 vGPUs on \(Self.label) could not") == true)
        #expect(some.notes.first?.hasSuffix("and 2 of the GPU's vGPUs of their types are not active") == true)
        #expect(try fixture.apply(declared).report.succeeded)
        #expect(
            try recorded(fixture) == [
                "big": "0 confirmed", "mid": "24 planned", "small-0": "36 planned", "small-1": "44 planned",
            ])
    }

    @Test("nvmlVgpuInstanceGetPlacementId: with every VM running, a vGPU moved from its confirmed placement is drift")
    func placementDrift() throws {
        let fixture = try SimulatedHostFixture(profile: "nvidia-l40s-vgpu")
        let declared = try manifest(fixture, Self.pair)
        #expect(try fixture.apply(declared).report.succeeded)
        #expect(placements(fixture) == [0, 24])
        try vms(fixture, ["big", "small"])
        #expect(try fixture.inventory().gpus[0].vgpuPlacements?.active?.map(\.placement) == [0, 24])
        let confirming = try fixture.plan(declared)
        #expect(confirming.actions.isEmpty && confirming.notes.isEmpty)
        #expect(try fixture.apply(declared).report.succeeded)
        #expect(try recorded(fixture) == ["big": "0 confirmed", "small": "24 confirmed"])
        // Behind forbc's back the 4C is made again at placement 44 on the same VF (same type, same VF).
        let vf = try vf(fixture, "small")
        fixture.kernel.mutate { $0.vgpuPlacements?[vf] = 44 }
        let drift = try fixture.plan(declared)
        #expect(!DriftReport(plan: drift, manifest: declared).inSync)
        #expect(drift.actions.map { "\($0.action.rawValue) \($0.target)" } == ["destroy small", "create small"])
        #expect(
            drift.actions.first?.reason
                == "NVML reports no vGPU of type 1177 at its recorded placement ID 24 "
                + "(nvmlVgpuInstanceGetPlacementId): it was moved")
        #expect(try fixture.apply(declared).report.succeeded)
        #expect(placements(fixture) == [0, 24] && fixture.kernel.model.vgpus[vf] == 1177)
        // The new vGPU's VM has not got it yet: not active, so planned again, and converged.
        #expect(try fixture.plan(declared).actions.isEmpty)
        #expect(try recorded(fixture) == ["big": "0 confirmed", "small": "24 planned"])
    }

    @Test("a moved vGPU among running VMs, while a VM of its type is stopped, is not destroyed (placement unknown)")
    func partlyActive() throws {
        let fixture = try SimulatedHostFixture(profile: "nvidia-l40s-vgpu")
        let declared = try manifest(
            fixture,
            "{select: {index: 0}, vgpuMode: mixedSize, vgpu: [{name: big, type: L40S-24C}, "
                + "{name: small, type: L40S-4C, count: 2}]}")
        #expect(try fixture.apply(declared).report.succeeded)
        try vms(fixture, ["big", "small-0", "small-1"])
        #expect(try fixture.apply(declared).report.succeeded)
        #expect(try recorded(fixture) == ["big": "0 confirmed", "small-0": "24 confirmed", "small-1": "32 confirmed"])
        try vms(fixture, ["small-1"], running: false)
        let moved = try vf(fixture, "small-0")
        fixture.kernel.mutate { $0.vgpuPlacements?[moved] = 44 }
        let unknown = try fixture.plan(declared)
        #expect(unknown.actions.isEmpty && DriftReport(plan: unknown, manifest: declared).inSync)
        #expect(unknown.notes.first?.hasPrefix("the mixed-size placement of 2 vGPUs on \(Self.label)") == true)
        #expect(unknown.notes.first?.hasSuffix("and 1 of the GPU's vGPUs of their types is not active") == true)
        // Once that VM runs again the read-back is complete: small-0 is not at its confirmed placement.
        try vms(fixture, ["small-1"])
        #expect(
            try fixture.plan(declared).actions.map { "\($0.action.rawValue) \($0.target)" } == [
                "destroy small-0", "create small-0",
            ])
    }

    @Test("the driver's placement, not the planned one: a complete read-back records it instead of destroying")
    func driverPlacement() throws {
        let fixture = try SimulatedHostFixture(profile: "nvidia-l40s-vgpu")
        let declared = try manifest(fixture, Self.pair)
        #expect(try fixture.apply(declared).report.succeeded)
        #expect(try recorded(fixture) == ["big": "0 planned", "small": "24 planned"])
        // The driver chose placement 44 for the 4C (it places on its own), then both VMs start.
        let vf = try vf(fixture, "small")
        fixture.kernel.mutate { $0.vgpuPlacements?[vf] = 44 }
        try vms(fixture, ["big", "small"])
        let plan = try fixture.plan(declared)
        #expect(plan.actions.isEmpty && DriftReport(plan: plan, manifest: declared).inSync)
        #expect(
            plan.notes == [
                "the driver placed 'small' (vGPU type 1177) on \(Self.label) at placement ID 44, not at 24 as forbc "
                    + "planned (nvmlVgpuInstanceGetPlacementId); apply records the driver's placement"
            ])
        // A new 4C goes where the slots are free by the driver's placement (24), not by the planned one (32).
        let more = Self.pair.replacingOccurrences(of: "}]}", with: "}, {name: extra, type: L40S-4C}]}")
        #expect(
            try fixture.plan(try manifest(fixture, more)).actions.map(\.reason) == [
                "declared, not present; mixed-size placement ID 24"
            ])
        #expect(try fixture.apply(declared).report.done.isEmpty)
        #expect(try recorded(fixture) == ["big": "0 confirmed", "small": "44 confirmed"])
        let again = try fixture.plan(declared)
        #expect(again.actions.isEmpty && again.notes.isEmpty)
        // Now confirmed, a move is drift.
        fixture.kernel.mutate { $0.vgpuPlacements?[vf] = 24 }
        #expect(try fixture.plan(declared).actions.map(\.target) == ["small", "small"])
    }

    @Test("a planned placement the read-back cannot attribute stays planned; only the confirmed one is destroyed")
    func ambiguous() throws {
        let fixture = try SimulatedHostFixture(profile: "nvidia-l40s-vgpu")
        let declared = try manifest(
            fixture,
            "{select: {index: 0}, vgpuMode: mixedSize, vgpu: [{name: big, type: L40S-24C}, "
                + "{name: small, type: L40S-4C, count: 2}]}")
        #expect(try fixture.apply(declared).report.succeeded)
        try vms(fixture, ["big", "small-0", "small-1"])
        #expect(try fixture.apply(declared).report.succeeded)
        // small-1 recorded as planned at 36 (never confirmed; it is at 32), and small-0 moved from 24 to 44.
        var state = try fixture.state()
        let i = try #require(state.partitions.firstIndex { $0.name == "small-1" })
        state.partitions[i].placement = 36
        state.partitions[i].placementConfirmed = nil
        try fixture.session.store.save(state)
        let moved = try vf(fixture, "small-0")
        fixture.kernel.mutate { $0.vgpuPlacements?[moved] = 44 }
        let plan = try fixture.plan(declared)
        #expect(plan.actions.map { "\($0.action.rawValue) \($0.target)" } == ["destroy small-0", "create small-0"])
        #expect(
            plan.notes == [
                "NVML lists no vGPU of type 1177 at the placement ID forbc planned for 'small-1' (36) on "
                    + "\(Self.label), and cannot tell which of the other placements (32, 44) is theirs; they stay as "
                    + "planned (nothing is destroyed)"
            ])
    }
    @Test("two planned vGPUs of one type both placed elsewhere by the driver stay planned: no guess is confirmed")
    func twoPlacedElsewhere() throws {
        let fixture = try SimulatedHostFixture(profile: "nvidia-l40s-vgpu")
        let declared = try manifest(
            fixture,
            "{select: {index: 0}, vgpuMode: mixedSize, vgpu: [{name: big, type: L40S-24C}, "
                + "{name: small, type: L40S-4C, count: 2}]}")
        #expect(try fixture.apply(declared).report.succeeded)
        #expect(try recorded(fixture) == ["big": "0 planned", "small-0": "24 planned", "small-1": "32 planned"])
        // The driver placed small-0 at 44 and small-1 at 36: in the other order than the sorted leftovers.
        let (first, second) = (try vf(fixture, "small-0"), try vf(fixture, "small-1"))
        fixture.kernel.mutate {
            $0.vgpuPlacements?[first] = 44
            $0.vgpuPlacements?[second] = 36
        }
        try vms(fixture, ["big", "small-0", "small-1"])
        let plan = try fixture.plan(declared)
        #expect(plan.actions.isEmpty)
        #expect(
            plan.notes == [
                "NVML lists no vGPU of type 1177 at the placement ID forbc planned for 'small-0', 'small-1' (24, 32) "
                    + "on \(Self.label), and cannot tell which of the other placements (36, 44) are theirs; they "
                    + "stay as planned (nothing is destroyed)"
            ])
        #expect(try fixture.apply(declared).report.succeeded)
        #expect(try recorded(fixture) == ["big": "0 confirmed", "small-0": "24 planned", "small-1": "32 planned"])
        // small-0's vGPU is made again at 24 behind forbc's back; small-1 did not move and is not destroyed.
        fixture.kernel.mutate { $0.vgpuPlacements?[first] = 24 }
        let after = try fixture.plan(declared)
        #expect(after.actions.isEmpty, "\(after.actions.map { "\($0.action.rawValue) \($0.target)" })")
        #expect(try fixture.apply(declared).report.succeeded)
        // Now each is unambiguous: small-0 shows at its planned 24, small-1 is the type's only one left (36).
        #expect(try recorded(fixture) == ["big": "0 confirmed", "small-0": "24 confirmed", "small-1": "36 confirmed"])
    }
}
