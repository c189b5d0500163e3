import ForbcCore
import ForbcSimulator
import ForbcTestSupport
import Foundation
import Testing

/// Issue 13: MIG's lifecycle around the layouts — kind changes and dropped GPUs prune, MIG mode is declared,
/// renamed instances are relabelled, and the smaller findings.
@Suite("MIG lifecycle")
struct MIGLifecycleTests {
    func manifest(_ fixture: SimulatedHostFixture, _ entries: [String], prune: String = "managed") throws -> Manifest {
        try fixture.manifest(
            text: """
                apiVersion: forbc/v1
                kind: Host
                metadata: {name: m}
                spec:
                  prune: \(prune)
                  gpus:
                \(entries.map { "    - \($0)" }.joined(separator: "\n"))
                """)
    }

    func steps(_ plan: Plan) -> [String] { plan.actions.map { "\($0.action.rawValue) \($0.target)" } }

    func migRecords(_ fixture: SimulatedHostFixture) throws -> [String] {
        try fixture.state().partitions.filter { $0.kind == .mig }.map(\.name).sorted()
    }

    func inSync(_ fixture: SimulatedHostFixture, _ manifest: Manifest) throws -> Bool {
        DriftReport(plan: try fixture.plan(manifest), manifest: manifest).inSync
    }

    @Test(
        "item 1: a GPU whose entry turns to passthrough, or leaves the manifest, loses forbc's MIG instances",
        arguments: ["managed", "all"])
    func orphans(prune: String) throws {
        let fixture = try SimulatedHostFixture(profile: "nvidia-a100-40gb")
        let mig = try manifest(
            fixture, ["{select: {index: 0}, mig: [{name: a, profile: 3g.20gb, count: 2}]}"], prune: prune)
        #expect(try fixture.apply(mig).report.succeeded)
        #expect(fixture.kernel.model.nvml[0].instances.count == 2)
        let whole = try manifest(fixture, ["{select: {index: 0}, passthrough: {name: whole}}"], prune: prune)
        let plan = try fixture.plan(whole)
        #expect(steps(plan) == ["destroy a-0", "destroy a-1"])
        #expect(
            (plan.actions.first?.reason ?? "").hasPrefix(
                "forbc created it as 'a-0' and the manifest no longer declares it"))
        #expect(try !inSync(fixture, whole))
        #expect(try fixture.apply(whole).report.succeeded)
        #expect(fixture.kernel.model.nvml[0].instances.isEmpty)
        #expect(try migRecords(fixture).isEmpty)
        #expect(try inSync(fixture, whole))

        // The GPU dropped from the manifest altogether.
        #expect(try fixture.apply(mig).report.succeeded)
        let other = try manifest(fixture, ["{select: {index: 1}, passthrough: {name: whole}}"], prune: prune)
        #expect(steps(try fixture.plan(other)) == ["destroy a-0", "destroy a-1"])
        #expect(try fixture.apply(other).report.succeeded)
        #expect(fixture.kernel.model.nvml[0].instances.isEmpty)
        #expect(try migRecords(fixture).isEmpty)
        // With 'prune: none' they stay.
        #expect(try fixture.apply(mig).report.succeeded)
        #expect(
            try fixture.plan(try manifest(fixture, ["{select: {index: 0}, passthrough: {name: w}}"], prune: "none"))
                .isEmpty)
    }

    @Test("item 2: 'migMode' is enabled or disabled, and does not contradict the entry's kind")
    func migModeManifest() throws {
        let fixture = try SimulatedHostFixture(profile: "nvidia-a100-40gb")
        #expect(try manifest(fixture, ["{select: {index: 0}, migMode: disabled}"]).gpus[0].migMode == false)
        #expect(try manifest(fixture, ["{select: {index: 0}, passthrough: {name: w}}"]).gpus[0].migMode == nil)
        for (entry, message) in [
            (
                "{select: {index: 0}, migMode: off}",
                "'spec.gpus[0].migMode' is 'off'; it must be one of: enabled, disabled"
            ),
            (
                "{select: {index: 0}, mig: [], migMode: disabled}",
                "'spec.gpus[0]' declares 'mig' with 'migMode: disabled'; remove one of them"
            ),
            (
                "{select: {index: 0}, passthrough: {name: w}, migMode: enabled}",
                "'spec.gpus[0]' declares 'passthrough' with 'migMode: enabled'; MIG instances are declared under 'mig'"
            ),
        ] {
            do {
                _ = try manifest(fixture, [entry])
                Issue.record("accepted \(entry)")
            } catch let error as DiagnosticsError {
                #expect(error.diagnostics.map(\.message) == [message])
            }
        }
    }

    @Test("item 2: 'mig: []' and 'migMode: enabled' declare the mode on without instances")
    func enabledWithoutInstances() throws {
        let fixture = try SimulatedHostFixture(profile: "nvidia-a100-40gb")
        for entry in ["{select: {index: 0}, mig: []}", "{select: {index: 0}, migMode: enabled}"] {
            let m = try manifest(fixture, [entry])
            #expect(m.gpus[0].migMode == true)
            let plan = try fixture.plan(m)
            if !fixture.kernel.model.nvml[0].currentMode {
                #expect(plan.actions.map(\.value) == ["1"])
                #expect(try fixture.apply(m).report.succeeded)
            }
            #expect(fixture.kernel.model.nvml[0].currentMode)
            #expect(try fixture.plan(m).isEmpty)
        }
        // Forbc's instances go when the list empties; the mode stays on.
        #expect(
            try fixture.apply(try manifest(fixture, ["{select: {index: 0}, mig: [{name: a, profile: 1g.5gb}]}"]))
                .report.succeeded)
        let empty = try manifest(fixture, ["{select: {index: 0}, mig: []}"])
        #expect(steps(try fixture.plan(empty)) == ["destroy a"])
        #expect(try fixture.apply(empty).report.succeeded)
        #expect(fixture.kernel.model.nvml[0].currentMode && fixture.kernel.model.nvml[0].instances.isEmpty)
    }

    @Test(
        "item 2: 'migMode: disabled' destroys forbc's instances, then turns the mode off; refused in use unless --force"
    )
    func disable() throws {
        let fixture = try SimulatedHostFixture(profile: "nvidia-a100-40gb")
        let mig = try manifest(fixture, ["{select: {index: 0}, mig: [{name: a, profile: 3g.20gb, count: 2}]}"])
        #expect(try fixture.apply(mig).report.succeeded)
        let off = try manifest(fixture, ["{select: {index: 0}, passthrough: {name: whole}, migMode: disabled}"])
        let plan = try fixture.plan(off)
        #expect(steps(plan) == ["destroy a-0", "destroy a-1", "configure 0000:07:00.0"])
        #expect(plan.actions.last?.value == "0")
        fixture.kernel.mutate { $0.nvml[0].instances[0].processes = 1 }
        do {
            _ = try fixture.plan(off)
            Issue.record("planned to destroy an instance in use")
        } catch let error as DiagnosticsError {
            #expect(
                error.diagnostics[0].message
                    == "MIG instance 'a-0' on 0000:07:00.0 (NVIDIA A100-SXM4-40GB) runs 1 process(es); forbc never "
                    + "destroys an instance in use: stop them, or pass '--force'")
        }
        #expect(try fixture.session.plan(off, force: true).actions.count == 3)
        fixture.kernel.mutate { $0.nvml[0].instances[0].processes = 0 }
        #expect(try fixture.apply(off).report.succeeded)
        #expect(!fixture.kernel.model.nvml[0].currentMode && fixture.kernel.model.nvml[0].instances.isEmpty)
        #expect(try migRecords(fixture).isEmpty)
        #expect(try inSync(fixture, off))
        // An instance forbc did not create keeps the mode on unless prune is 'all'.
        #expect(try fixture.apply(try manifest(fixture, ["{select: {index: 0}, mig: []}"])).report.succeeded)
        let foreign = try SimulatedNVML(kernel: fixture.kernel).createInstance(
            device: 0, profileID: 19, placement: MIGPlacement(start: 6, size: 1), computeSlices: nil)
        let offAlone = try manifest(fixture, ["{select: {index: 0}, migMode: disabled}"])
        #expect(throws: DiagnosticsError.self) { try fixture.plan(offAlone) }
        let offAll = try manifest(fixture, ["{select: {index: 0}, migMode: disabled}"], prune: "all")
        #expect(steps(try fixture.plan(offAll)) == ["destroy 0000:07:00.0/gi\(foreign.id)", "configure 0000:07:00.0"])
        #expect(try fixture.apply(offAll).report.succeeded)
        #expect(try fixture.plan(offAll).isEmpty)
    }

    @Test("item 2: turning MIG off on the H100 (in a VM) stays pending until a reset, as turning it on does")
    func disablePending() throws {
        let fixture = try SimulatedHostFixture(profile: "nvidia-h100")
        let mig = try manifest(fixture, ["{select: {index: 0}, mig: [{name: a, profile: 3g.40gb}]}"])
        #expect(try fixture.session.apply(try fixture.plan(mig), resetGPU: true).succeeded)
        let off = try manifest(fixture, ["{select: {index: 0}, migMode: disabled}"])
        let stopped = try fixture.session.apply(try fixture.plan(off))
        #expect(
            stopped.failed?.error.message
                == "MIG mode of 0000:00:06.0 is pending a GPU reset; reset it (apply --reset-gpu) or restart the VM "
                + "or host, then run apply again")
        #expect(fixture.kernel.model.nvml[0].currentMode && !fixture.kernel.model.nvml[0].pendingMode)
        let again = try fixture.plan(off)
        #expect(again.actions.map(\.action) == [.configure])
        #expect((again.actions.first?.reason ?? "").contains("pending a GPU reset"))
        #expect(try fixture.session.apply(again, resetGPU: true).succeeded)
        #expect(!fixture.kernel.model.nvml[0].currentMode)
        #expect(try fixture.plan(off).isEmpty)
    }

    @Test("item 3: a renamed instance is relabelled, never destroyed and recreated; swaps keep both records")
    func relabel() throws {
        let fixture = try SimulatedHostFixture(profile: "nvidia-a100-40gb")
        let before = try manifest(
            fixture,
            ["{select: {index: 0}, mig: [{name: a, profile: 3g.20gb}, {name: b, profile: 2g.10gb}]}"])
        #expect(try fixture.apply(before).report.succeeded)
        let uuids = fixture.kernel.model.nvml[0].instances.map(\.uuids)
        let renamed = try manifest(
            fixture,
            ["{select: {index: 0}, mig: [{name: big, profile: 3g.20gb}, {name: b, profile: 2g.10gb}]}"])
        let plan = try fixture.plan(renamed)
        #expect(steps(plan) == ["relabel big"])
        #expect(
            plan.actions.first?.reason
                == "forbc created it as 'a'; the manifest names it 'big' now, so it is kept and relabelled")
        #expect(try !inSync(fixture, renamed))
        let writes = fixture.kernel.counters.nvmlCalls
        #expect(try fixture.apply(renamed).report.succeeded)
        #expect(fixture.kernel.counters.nvmlCalls == writes, "a relabel makes no NVML call")
        #expect(fixture.kernel.model.nvml[0].instances.map(\.uuids) == uuids)
        #expect(try migRecords(fixture) == ["b", "big"])
        #expect(try fixture.plan(renamed).isEmpty)
        #expect(try inSync(fixture, renamed))
        let exported = try Exporter(inventory: try fixture.inventory(domains: true), state: try fixture.state())
            .manifest()
        #expect(exported.contains("name: big"), "\(exported)")
        // Two instances swap names: both relabelled, both records kept.
        let swapped = try manifest(
            fixture,
            ["{select: {index: 0}, mig: [{name: b, profile: 3g.20gb}, {name: big, profile: 2g.10gb}]}"])
        #expect(steps(try fixture.plan(swapped)) == ["relabel b", "relabel big"])
        #expect(try fixture.apply(swapped).report.succeeded)
        #expect(try migRecords(fixture) == ["b", "big"])
        #expect(try fixture.plan(swapped).isEmpty)
        #expect(fixture.kernel.model.nvml[0].instances.map(\.uuids) == uuids)
    }

    @Test("item 3: adoption picks the instance that need not move (a 4g.20gb only fits at slot 0)")
    func adoptionByPlacement() throws {
        let fixture = try SimulatedHostFixture(profile: "nvidia-a100-40gb")
        let entry =
            "{select: {index: 0}, mig: [{name: x, profile: 1g.5gb, placement: 0}, "
            + "{name: y, profile: 1g.5gb, placement: 6}]}"
        let before = try manifest(fixture, [entry])
        #expect(try fixture.apply(before).report.succeeded)
        let kept = try #require(fixture.kernel.model.nvml[0].instances.first { $0.placement.start == 6 })
        let after = try manifest(
            fixture, ["{select: {index: 0}, mig: [{name: z, profile: 1g.5gb}, {name: big, profile: 4g.20gb}]}"])
        #expect(steps(try fixture.plan(after)) == ["destroy x", "relabel z", "create big"])
        #expect(try fixture.apply(after).report.succeeded)
        #expect(fixture.kernel.model.nvml[0].instances.contains(kept))
        #expect(try migRecords(fixture) == ["big", "z"])
        #expect(try fixture.plan(after).isEmpty)
        // A pinned partition and an unpinned one of the same profile: each keeps the instance it can.
        let pinned = try SimulatedHostFixture(profile: "nvidia-a100-40gb")
        #expect(try pinned.apply(try manifest(pinned, [entry])).report.succeeded)
        let swapped = try manifest(
            pinned,
            ["{select: {index: 0}, mig: [{name: z2, profile: 1g.5gb}, {name: z1, profile: 1g.5gb, placement: 0}]}"])
        #expect(steps(try pinned.plan(swapped)) == ["relabel z2", "relabel z1"])
        #expect(try pinned.apply(swapped).report.succeeded)
        #expect(try pinned.plan(swapped).isEmpty)
    }

    @Test("item 3: '{all: true}' numbering that shifts across GPUs relabels instead of recreating")
    func relabelAcrossGPUs() throws {
        let fixture = try SimulatedHostFixture(profile: "nvidia-a100-40gb")
        let four = try manifest(fixture, ["{select: {all: true}, mig: [{name: a, profile: 3g.20gb, count: 2}]}"])
        #expect(try fixture.apply(four).report.succeeded)
        let second = fixture.kernel.model.nvml[1].instances.map(\.uuids)
        let two = try manifest(fixture, ["{select: {all: true}, mig: [{name: a, profile: 3g.20gb}]}"])
        let plan = try fixture.plan(two)
        #expect(steps(plan) == ["destroy a-1", "destroy a-3", "relabel a-1"])
        #expect(try fixture.apply(two).report.succeeded)
        #expect(try migRecords(fixture) == ["a-0", "a-1"])
        #expect(second.contains(try #require(fixture.kernel.model.nvml[1].instances.first?.uuids)))
        #expect(try fixture.plan(two).isEmpty)
    }

    @Test("item 4: compute instances NVML offers need not divide the GPU instance; partial sets by 'computeCount'")
    func computeInstances() throws {
        let fixture = try SimulatedHostFixture(profile: "nvidia-a100-40gb")
        let m = try manifest(
            fixture,
            [
                "{select: {index: 0}, mig: [{name: big, profile: 4g.20gb, computeSlices: 2, computeCount: 1}, "
                    + "{name: small, profile: 3g.20gb, computeSlices: 2}]}",
                "{select: {index: 1}, mig: [{name: whole, profile: 7g.40gb, computeSlices: 2}]}",
            ])
        #expect(try fixture.apply(m).report.succeeded)
        #expect(fixture.kernel.model.nvml[0].instances.map(\.uuids.count) == [1, 1])
        #expect(fixture.kernel.model.nvml[1].instances.map(\.uuids.count) == [3])
        #expect(try fixture.plan(m).isEmpty)
        let exported = try Exporter(inventory: try fixture.inventory(domains: true), state: try fixture.state())
            .manifest()
        #expect(try fixture.plan(try fixture.manifest(text: exported)).isEmpty, "\(exported)")
        for (entry, message) in [
            (
                "{name: a, profile: 4g.20gb, computeSlices: 3}",
                "'a': a 4-slice '4g.20gb' offers compute instances of 1, 2, 4 slices, not 3"
            ),
            (
                "{name: a, profile: 3g.20gb, computeSlices: 1, computeCount: 4}",
                "'a': 4 × 1-slice compute instances exceed the 3 that fit in a 3-slice '3g.20gb'"
            ),
        ] {
            let other = try SimulatedHostFixture(profile: "nvidia-a100-40gb")
            do {
                _ = try other.plan(try manifest(other, ["{select: {index: 0}, mig: [\(entry)]}"]))
                Issue.record("planned \(entry)")
            } catch let error as DiagnosticsError {
                #expect(error.diagnostics.map(\.message) == [message])
            }
        }
        #expect(throws: DiagnosticsError.self) {
            try manifest(fixture, ["{select: {index: 0}, mig: [{name: a, profile: 3g.20gb, computeCount: 1}]}"])
        }
    }

    @Test("item 4: mixed compute-instance sizes, placed like GPU instances ([2, 1] on a 3g; [2, 2] does not fit)")
    func mixedComputeInstances() throws {
        let fixture = try SimulatedHostFixture(profile: "nvidia-a100-40gb")
        let m = try manifest(
            fixture,
            [
                "{select: {index: 0}, mig: [{name: a, profile: 4g.20gb, computeInstances: [2, 1, 1]}, "
                    + "{name: b, profile: 3g.20gb, computeInstances: [2, 1]}]}"
            ])
        #expect(try fixture.apply(m).report.succeeded)
        #expect(fixture.kernel.model.nvml[0].instances.map(\.uuids.count) == [3, 2])
        #expect(try fixture.plan(m).isEmpty)
        let exported = try Exporter(inventory: try fixture.inventory(domains: true), state: try fixture.state())
            .manifest()
        #expect(exported.contains("computeInstances: [2, 1, 1]"), "\(exported)")
        #expect(try fixture.plan(try fixture.manifest(text: exported)).isEmpty, "\(exported)")
        // Other compute instances for a kept name: the instance is recreated, saying why.
        let whole = try manifest(
            fixture,
            [
                "{select: {index: 0}, mig: [{name: a, profile: 4g.20gb, computeInstances: [2, 1, 1]}, "
                    + "{name: b, profile: 3g.20gb}]}"
            ])
        let plan = try fixture.plan(whole)
        #expect(steps(plan) == ["destroy b", "create b"])
        #expect(
            plan.actions.first?.reason
                == "'b' is declared with compute instances of 3 slices and has 2 + 1; it is recreated")
        #expect(try !inSync(fixture, whole))
        #expect(try fixture.apply(whole).report.succeeded)
        #expect(fixture.kernel.model.nvml[0].instances.map(\.uuids.count) == [3, 1])
        #expect(try inSync(fixture, whole))
        for (entry, message) in [
            (
                "{name: a, profile: 3g.20gb, computeInstances: [2, 2]}",
                "'a': compute instances of 2 + 2 slices do not fit the compute placements of a 3-slice '3g.20gb'"
            ),
            (
                "{name: a, profile: 7g.40gb, computeInstances: [4, 4]}",
                "'a': compute instances of 4 + 4 slices do not fit the compute placements of a 7-slice '7g.40gb'"
            ),
            (
                "{name: a, profile: 4g.20gb, computeInstances: [3, 1]}",
                "'a': a 4-slice '4g.20gb' offers compute instances of 1, 2, 4 slices, not 3"
            ),
        ] {
            let other = try SimulatedHostFixture(profile: "nvidia-a100-40gb")
            do {
                _ = try other.plan(try manifest(other, ["{select: {index: 0}, mig: [\(entry)]}"]))
                Issue.record("planned \(entry)")
            } catch let error as DiagnosticsError {
                #expect(error.diagnostics.map(\.message) == [message])
            }
        }
        #expect(throws: DiagnosticsError.self) {
            try manifest(
                fixture,
                ["{select: {index: 0}, mig: [{name: a, profile: 3g.20gb, computeSlices: 1, computeInstances: [1]}]}"])
        }
    }

    @Test("item 5: one diagnostic per unknown profile, unrecorded instances named per GPU, '+me' beside six 1g")
    func smaller() throws {
        let fixture = try SimulatedHostFixture(profile: "nvidia-a100-40gb")
        do {
            _ = try fixture.plan(
                try manifest(fixture, ["{select: {index: 0}, mig: [{name: a, profile: 9g.99gb, count: 3}]}"]))
            Issue.record("planned an unknown profile")
        } catch let error as DiagnosticsError {
            #expect(error.diagnostics.count == 1, "\(error.diagnostics.map(\.message))")
        }
        // Instances forbc has no record of, one per GPU, both GPU instance 1: two distinct names in one plan.
        let nvml = SimulatedNVML(kernel: fixture.kernel)
        for device in 0...1 {
            _ = try nvml.setMIGMode(device: device, enabled: true)
            _ = try nvml.createInstance(
                device: device, profileID: 19, placement: MIGPlacement(start: 0, size: 1), computeSlices: nil)
        }
        let prune = try manifest(fixture, ["{select: {all: true}, mig: []}"], prune: "all")
        #expect(steps(try fixture.plan(prune)) == ["destroy 0000:07:00.0/gi1", "destroy 0000:0f:00.0/gi1"])
        #expect(try fixture.apply(prune).report.succeeded)
        // NVIDIA's MIG user guide lists '1g.5gb+me' as "1 (a single 1g profile can include media extensions)":
        // the +me instance is one of the seven 1g instances, so six 1g.5gb beside it fit and seven do not.
        let six = try manifest(
            fixture,
            ["{select: {index: 0}, mig: [{name: s, profile: 1g.5gb, count: 6}, {name: me, profile: 1g.5gb+me}]}"])
        #expect(try fixture.apply(six).report.succeeded)
        #expect(fixture.kernel.model.nvml[0].instances.count == 7)
        let seven = try manifest(
            fixture,
            ["{select: {index: 0}, mig: [{name: s, profile: 1g.5gb, count: 7}, {name: me, profile: 1g.5gb+me}]}"])
        #expect(throws: DiagnosticsError.self) { try fixture.plan(seven) }
    }
}
