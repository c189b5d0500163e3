import ForbcCore
import ForbcSimulator
import ForbcTestSupport
import Foundation
import Testing

@Suite("MIG plans and applies on simulated GPUs")
struct MIGPlanTests {
    func manifest(_ fixture: SimulatedHostFixture, _ mig: String, select: String = "{index: 0}") throws -> Manifest {
        try fixture.manifest(
            text: """
                apiVersion: forbc/v1
                kind: Host
                metadata: {name: m}
                spec:
                  gpus:
                    - select: \(select)
                      mig: \(mig)
                """)
    }

    func instances(_ fixture: SimulatedHostFixture, gpu: Int = 0) -> [MIGInstance] {
        fixture.kernel.model.nvml[gpu].instances
    }

    @Test("from {a: 3g, b: 3g} to {a: 3g, c: 2g, d: 1g}: only 'b' is destroyed; 'a' keeps its instance and UUID")
    func keepNeighbours() throws {
        let fixture = try SimulatedHostFixture(profile: "nvidia-a100-80gb")
        try fixture.apply(try manifest(fixture, "[{name: a, profile: 3g.40gb}, {name: b, profile: 3g.40gb}]"))
        let a = try #require(instances(fixture).first { $0.placement.start == 0 })
        let next = try manifest(
            fixture, "[{name: a, profile: 3g.40gb}, {name: c, profile: 2g.20gb}, {name: d, profile: 1g.10gb}]")
        let plan = try fixture.plan(next)
        #expect(plan.actions.map { "\($0.action.rawValue) \($0.target)" } == ["destroy b", "create c", "create d"])
        #expect(try fixture.apply(next).report.succeeded)
        #expect(instances(fixture).first { $0.placement.start == 0 } == a)
        #expect(try fixture.plan(next).isEmpty)
    }

    @Test("a kept instance that must move is named with the reason, and refused while in use unless --force")
    func mustMove() throws {
        let fixture = try SimulatedHostFixture(profile: "nvidia-a100-80gb")
        // 'small' lands on slot 0 … and then a 4g.40gb (only at 0) is wanted beside it.
        try fixture.apply(try manifest(fixture, "[{name: small, profile: 1g.10gb}]"))
        #expect(instances(fixture).map(\.placement.start) == [0])
        let wider = try manifest(fixture, "[{name: small, profile: 1g.10gb}, {name: big, profile: 4g.40gb}]")
        let plan = try fixture.plan(wider)
        #expect(
            plan.actions.map { "\($0.action.rawValue) \($0.target)" } == [
                "destroy small", "create big", "create small",
            ])
        #expect(plan.actions[0].reason == "the wanted layout cannot be reached with 'small' at slot 0: it must move")
        fixture.kernel.mutate { $0.nvml[0].instances[0].processes = 2 }
        do {
            _ = try fixture.plan(wider)
            Issue.record("planned to move an instance in use")
        } catch let error as DiagnosticsError {
            #expect(
                error.diagnostics[0].message
                    == "'small' (1g.10gb at slot 0) must move for the wanted layout to fit, but it runs 2 "
                    + "process(es); stop them, or pass '--force'"
            )
        }
        #expect(try fixture.session.plan(wider, force: true).actions.count == 3)
    }

    @Test("impossible layouts change nothing and say why")
    func impossible() throws {
        let fixture = try SimulatedHostFixture(profile: "nvidia-a100-40gb")
        for (mig, why) in [
            (
                "[{name: a, profile: 4g.20gb, count: 2}]",
                "2 × '4g.20gb' exceed the 1 instance of '4g.20gb' the GPU allows"
            ),
            (
                "[{name: a, profile: 1g.5gb, count: 8}]",
                "8 × '1g.5gb' exceed the 7 instances of '1g.5gb' the GPU allows"
            ),
            (
                "[{name: a, profile: 4g.20gb}, {name: b, profile: 3g.20gb}, {name: c, profile: 1g.5gb}]",
                "they need 9 memory slices and the GPU has 8"
            ),
        ] {
            do {
                _ = try fixture.plan(try manifest(fixture, mig))
                Issue.record("planned \(mig)")
            } catch let error as DiagnosticsError {
                #expect(error.diagnostics[0].message.hasSuffix(": \(why)"), "\(error.diagnostics[0].message)")
            }
        }
        #expect(fixture.kernel.counters.nvmlCalls == 0)
        // A profile the GPU does not offer, and a GPU without NVML.
        #expect(throws: DiagnosticsError.self) {
            try fixture.plan(try manifest(fixture, "[{name: a, profile: 3g.40gb}]"))
        }
        let t4 = try SimulatedHostFixture(profile: "nvidia-t4")
        do {
            _ = try t4.plan(try manifest(t4, "[{name: a, profile: 1g.5gb}]"))
        } catch let error as DiagnosticsError {
            #expect(
                error.diagnostics[0].message
                    == "0000:3b:00.0 (NVIDIA Tesla T4) has no MIG capability: NVML does not know this GPU (is "
                    + "NVIDIA's driver loaded?)"
            )
        }
    }

    @Test("MIG mode pending a reset: the plan says so, apply stops there, --reset-gpu goes on, a rerun converges")
    func pendingMode() throws {
        let fixture = try SimulatedHostFixture(profile: "nvidia-h100")
        let mig = try fixture.manifest("nvidia-h100-mig")
        let plan = try fixture.plan(mig)
        #expect(plan.actions.map(\.action) == [.configure, .create, .create, .create, .create])
        #expect(plan.actions[0].reason.contains("pending until a GPU reset"))
        #expect(plan.actions.first { $0.target == "train" }?.value == "3g.40gb@4")
        let stopped = try fixture.session.apply(plan)
        #expect(
            stopped.failed?.error.message
                == "MIG mode of 0000:00:06.0 is pending a GPU reset; reset it (apply --reset-gpu) or restart the VM "
                + "or host, then run apply again"
        )
        #expect(stopped.done.map(\.action) == [.configure])
        #expect(fixture.kernel.model.nvml[0].pendingMode && !fixture.kernel.model.nvml[0].currentMode)
        let session = fixture.session
        #expect(try session.apply(try session.plan(mig), resetGPU: true).succeeded)
        #expect(try fixture.plan(mig).isEmpty)
        let partitions = try fixture.plan(mig).partitions
        #expect(partitions.allSatisfy { $0.access?.hasPrefix("CUDA_VISIBLE_DEVICES=MIG-") == true })
        // Export round trip.
        let exported = try Exporter(inventory: try fixture.inventory(domains: true), state: try fixture.state())
            .manifest()
        #expect(try fixture.plan(try fixture.manifest(text: exported)).isEmpty, "\(exported)")
        // Processes on the GPU block a mode change.
        let other = try SimulatedHostFixture(profile: "nvidia-h100")
        other.kernel.mutate { $0.nvml[0].processes = 1 }
        #expect(throws: DiagnosticsError.self) { try other.plan(mig) }
    }

    @Test("an NVML failure mid-apply is reported with its call and code; a rerun converges")
    func nvmlFault() throws {
        let fixture = try SimulatedHostFixture(profile: "nvidia-a100-40gb")
        let manifest = try fixture.manifest("nvidia-a100-40gb")
        fixture.kernel.inject(SimFault(path: "nvml:nvmlDeviceCreateGpuInstanceWithPlacement", errno: 23))
        let report = try fixture.apply(manifest).report
        #expect(
            report.failed?.error.message
                == "NVML: nvmlDeviceCreateGpuInstanceWithPlacement failed: NVML_ERROR_INSUFFICIENT_RESOURCES "
                + "(NVML_ERROR_INSUFFICIENT_RESOURCES)"
        )
        #expect(try fixture.apply(manifest).report.succeeded)
        #expect(try fixture.plan(manifest).isEmpty)
        #expect(
            instances(fixture).map(\.uuids.count) == [3, 1],
            "the 3g instance is split into three 1-slice compute instances")
    }

    @Test(
        "the MIG manifests converge, plan nothing more and round-trip through export",
        arguments: ["nvidia-a100-40gb", "nvidia-a100-80gb"])
    func converge(profile: String) throws {
        let fixture = try SimulatedHostFixture(profile: profile)
        let manifest = try fixture.manifest(profile)
        #expect(try fixture.apply(manifest).report.succeeded)
        #expect(try fixture.plan(manifest).isEmpty)
        #expect(try fixture.apply(manifest).writes == 0)
        let before = fixture.kernel.counters.nvmlCalls
        _ = try fixture.apply(manifest)
        #expect(fixture.kernel.counters.nvmlCalls == before, "a converged host gets no NVML change")
        let exported = try Exporter(inventory: try fixture.inventory(domains: true), state: try fixture.state())
            .manifest()
        #expect(try fixture.plan(try fixture.manifest(text: exported)).isEmpty)
        // Destroy removes the MIG instances.
        let destroy = try fixture.session.destroyPlan(manifest)
        #expect(destroy.actions.filter { $0.kind == .mig && $0.action == .destroy }.count == 2)
        // … and, every instance gone, turns MIG mode off again (the manifest declared it).
        #expect(destroy.actions.filter { $0.action == .configure }.map(\.value) == ["0"])
        #expect(try fixture.session.apply(destroy).succeeded)
        #expect(instances(fixture).isEmpty)
        #expect(!fixture.kernel.model.nvml[0].currentMode)
    }
}
