import ForbcCore
import ForbcSimulator
import ForbcTestSupport
import Foundation
import Testing

@Suite("plan and apply on the simulated profiles")
struct ReconcileTests {
    static let profiles = [
        "nvidia-t4", "nvidia-a40", "nvidia-l40s", "amd-mi210", "intel-gvtg", "nvidia-h100", "nvidia-a100-40gb",
        "nvidia-a100-80gb", "mtty",
    ]

    /// Removes one declared partition the way another tool would, through sysfs; returns its name.
    func removeBehindBack(_ fixture: SimulatedHostFixture, plan: Plan) throws -> String? {
        guard let partition = plan.partitions.first(where: { $0.kind != .passthrough }) else { return nil }
        switch partition.kind {
        case .mdev: try fixture.kernel.write(SysPath.mdev(partition.uuid!, "remove"), "1")
        case .vgpuVF: try fixture.kernel.write(SysPath.pci(partition.address!, "nvidia/current_vgpu_type"), "0")
        case .sriovVF: try fixture.kernel.write(SysPath.pci(partition.gpu, "sriov_numvfs"), "0")
        case .mig:
            let instance = try #require(
                fixture.kernel.model.nvml[0].instances.first { $0.placement.start == partition.placement })
            try SimulatedNVML(kernel: fixture.kernel).destroyInstance(device: 0, instanceID: instance.id)
        default: return nil
        }
        return partition.kind == .sriovVF ? plan.partitions.filter { $0.kind == .sriovVF }.first!.name : partition.name
    }

    /// Adds an undeclared partition behind forbc's back; returns the name drift should show.
    func addBehindBack(_ fixture: SimulatedHostFixture, plan: Plan) throws -> String? {
        guard let partition = plan.partitions.first(where: { $0.kind != .passthrough }) else { return nil }
        switch partition.kind {
        case .mdev:
            let uuid = "0badc0de-0000-4000-8000-000000000001"
            let parent = try #require(
                try fixture.inventory().mdevParents.first { parent in
                    (parent.gpu ?? parent.name) == partition.gpu
                        && (parent.types.first { $0.id == partition.type }?.availableInstances ?? 0) > 0
                })
            try fixture.kernel.write(SysPath.mdevType(parent.name, partition.type!, "create"), uuid)
            return uuid
        case .vgpuVF:
            let inventory = try fixture.inventory()
            let vf = try #require(inventory.gpu(partition.gpu)?.vfs.first { $0.vgpu?.current == 0 })
            try fixture.kernel.write(SysPath.pci(vf.address, "nvidia/current_vgpu_type"), partition.type!)
            return vf.address
        case .sriovVF:
            try fixture.kernel.write(SysPath.pci(partition.gpu, "sriov_numvfs"), "0")
            try fixture.kernel.write(SysPath.pci(partition.gpu, "sriov_numvfs"), "7")
            return plan.actions.isEmpty ? "vf-0…vf-3" : nil
        case .mig:
            let profile = try #require(fixture.kernel.model.nvml[0].profiles.first { $0.index == 0 })
            let instance = try SimulatedNVML(kernel: fixture.kernel).createInstance(
                device: 0, profileID: profile.id, placement: MIGPlacement(start: 6, size: 1), computeSlices: nil)
            return "\(fixture.kernel.model.nvml[0].address)/gi\(instance.id)"
        default: return nil
        }
    }

    @Test("apply converges, a second apply writes nothing, drift and export agree", arguments: profiles)
    func converge(profile: String) throws {
        let fixture = try SimulatedHostFixture(profile: profile)
        let manifest = try fixture.manifest(profile)
        let first = try fixture.apply(manifest)
        #expect(first.report.succeeded)
        if profile != "nvidia-h100" { #expect(first.writes + fixture.kernel.counters.nvmlCalls > 0) }
        let converged = try fixture.plan(manifest)
        #expect(converged.isEmpty, "plan after apply: \(converged.actions.map(\.reason))")
        #expect(try fixture.apply(manifest).writes == 0, "a converged host gets zero writes")
        #expect(DriftReport(plan: try fixture.plan(manifest), manifest: manifest).inSync)

        // export → plan of the export shows zero changes
        let exported = try Exporter(inventory: try fixture.inventory(domains: true), state: try fixture.state())
            .manifest()
        let reparsed = try fixture.manifest(text: exported)
        #expect(try fixture.plan(reparsed).isEmpty, "export:\n\(exported)")

        // No partition can be made behind the H100's back: it has no capability.
        guard profile != "nvidia-h100" else { return }
        // removed behind forbc's back → drift names it → apply repairs with the same identity
        let before = try fixture.inventory()
        let removed = try #require(try removeBehindBack(fixture, plan: converged))
        let drift = DriftReport(plan: try fixture.plan(manifest), manifest: manifest)
        #expect(!drift.inSync)
        #expect(drift.items.contains { $0.partition == removed || $0.partition.hasPrefix(removed) }, "\(drift.items)")
        #expect(try fixture.apply(manifest).report.succeeded)
        #expect(try fixture.plan(manifest).isEmpty)
        #expect(try fixture.inventory().mdevs == before.mdevs, "the same UUIDs come back")
        #expect(
            try fixture.inventory().gpus.map { $0.mig?.instances.map(\.placement) }
                == before.gpus.map { $0.mig?.instances.map(\.placement) },
            "MIG instances come back at the same placements")

        // added behind forbc's back → drift names it → apply (prune: all) removes it
        let added = try #require(try addBehindBack(fixture, plan: converged))
        let drift2 = DriftReport(plan: try fixture.plan(manifest), manifest: manifest)
        #expect(!drift2.inSync)
        #expect(drift2.items.contains { $0.partition == added }, "\(drift2.items)")
        #expect(try fixture.apply(manifest).report.succeeded)
        #expect(try fixture.plan(manifest).isEmpty)
        // MIG ids and UUIDs of recreated instances are new (the driver assigns them); the rest is as before.
        #expect(Self.withoutMIGIdentity(try fixture.inventory()) == Self.withoutMIGIdentity(before))
    }

    static func withoutMIGIdentity(_ inventory: Inventory) -> Inventory {
        var copy = inventory
        for i in copy.gpus.indices {
            guard var mig = copy.gpus[i].mig else { continue }
            mig.instances = mig.instances.map {
                MIGInstance(id: 0, profileID: $0.profileID, placement: $0.placement, uuids: [])
            }
            copy.gpus[i].mig = mig
        }
        return copy
    }

    func t4(_ body: String, prune: String = "managed") -> String {
        """
        apiVersion: forbc/v1
        kind: Host
        metadata: {name: t4}
        spec:
          gpus:
        \(body)
          prune: \(prune)
        """
    }

    @Test("a count lowered from 4 to 3 destroys exactly one partition and keeps the others with their UUIDs")
    func countDown() throws {
        let fixture = try SimulatedHostFixture(profile: "nvidia-t4")
        try fixture.apply(
            try fixture.manifest(text: t4("    - select: {index: 0}\n      vgpu: [{name: ml, type: T4-4Q, count: 4}]")))
        let before = Set(try fixture.inventory().mdevs.map(\.uuid))
        let plan = try fixture.plan(
            try fixture.manifest(text: t4("    - select: {index: 0}\n      vgpu: [{name: ml, type: T4-4Q, count: 3}]")))
        #expect(plan.actions.map(\.action) == [.destroy])
        #expect(plan.actions[0].target == "ml-3")
        #expect(plan.actions[0].uuid == UUIDv5.partition(host: "t4", name: "ml-3"))
        try fixture.session.apply(plan)
        let after = Set(try fixture.inventory().mdevs.map(\.uuid))
        #expect(after == before.subtracting([UUIDv5.partition(host: "t4", name: "ml-3")]))
        #expect(after.count == 3)
    }

    @Test(
        "impossible manifests name the reason and change nothing",
        arguments: [
            (
                "    - select: {index: 0}\n      vgpu: [{name: ml, type: T4-4Q, count: 5}]",
                "test.yaml:7:14: error: 'ml-0', 'ml-1', 'ml-2' … 'ml-4' need 5 new instances of 'NVIDIA T4-4Q' on "
                    + "0000:3b:00.0 (NVIDIA Tesla T4), but only 4 can be created "
                    + "(/sys/class/mdev_bus/0000:3b:00.0/mdev_supported_types/nvidia-224/available_instances "
                    + "reads 4)"
            ),
            (
                "    - select: {index: 0}\n      vgpu: [{name: ml, type: A40-4Q}]",
                "test.yaml:7:14: error: type 'A40-4Q' is not offered by 0000:3b:00.0 (NVIDIA Tesla T4); it offers: "
                    + "T4-1Q (nvidia-222), T4-2Q (nvidia-223), T4-4Q (nvidia-224), T4-8Q (nvidia-225), T4-16Q "
                    + "(nvidia-226), T4-1B (nvidia-227), T4-2B (nvidia-228), T4-2B4 (nvidia-229), T4-1A "
                    + "(nvidia-230), T4-2A (nvidia-231), T4-4A (nvidia-232), T4-8A (nvidia-233) and 4 more"
            ),
            (
                "    - select: {pciAddress: \"0000:99:00.0\"}\n      vgpu: [{name: ml, type: T4-4Q}]",
                "test.yaml:6:7: error: select {pciAddress: '0000:99:00.0'} matches no GPU; this host has "
                    + "0000:3b:00.0 (NVIDIA Tesla T4), 0000:d8:00.0 (NVIDIA Tesla T4)"
            ),
            (
                "    - select: {index: 0}\n      vgpu:\n        - {name: a, type: T4-4Q}\n        - {name: b, type: "
                    + "T4-2Q}",
                "test.yaml:9:11: error: NVIDIA time-sliced vGPU holds one type per physical GPU at a time "
                    + "(equal-size mode): 'a' wants 'T4-4Q' and 'b' wants 'T4-2Q' on 0000:3b:00.0 "
                    + "(NVIDIA Tesla T4)"
            ),
            (
                "    - select: {index: 0}\n      sriov: {vfs: 2}",
                "test.yaml:7:14: error: 0000:3b:00.0 (NVIDIA Tesla T4) does not offer SR-IOV (it has no sriov_totalvfs)"
            ),
            (
                "    - select: {all: true}\n      vgpu: [{name: ml, type: T4-16Q}]\n    - select: {index: 1}\n      "
                    + "passthrough: {name: whole}",
                "test.yaml:8:7: error: 0000:d8:00.0 (NVIDIA Tesla T4) is selected by both 'spec.gpus[0]' and "
                    + "'spec.gpus[1]'; one entry partitions a GPU"
            ),
        ])
    func impossible(body: String, expected: String) throws {
        let fixture = try SimulatedHostFixture(profile: "nvidia-t4")
        let model = fixture.kernel.model
        do {
            _ = try fixture.plan(try fixture.manifest(text: t4(body)))
            Issue.record("planned an impossible manifest")
        } catch let error as DiagnosticsError {
            #expect(error.diagnostics.first?.description == expected)
        }
        #expect(fixture.kernel.model == model)
        #expect(fixture.kernel.counters.writes == 0)
    }

    @Test("an A40's pool is its max_instance, not the number of free VFs")
    func a40Pool() throws {
        let fixture = try SimulatedHostFixture(profile: "nvidia-a40")
        let manifest = try fixture.manifest(
            text: t4("    - select: {model: a40}\n      vgpu: [{name: ml, type: A40-8Q, count: 7}]"))
        #expect(throws: DiagnosticsError.self) { try fixture.plan(manifest) }
        let six = try fixture.manifest(
            text: t4("    - select: {model: a40}\n      vgpu: [{name: ml, type: A40-8Q, count: 6}]"))
        #expect(try fixture.apply(six).report.succeeded)
        #expect(try fixture.inventory().mdevs.count == 6)
        #expect(Set(try fixture.inventory().mdevs.map(\.parent)).count == 6, "one vGPU per VF")
    }

    @Test("prune: managed keeps what forbc did not create; none keeps its own; all removes both")
    func prunePolicies() throws {
        let fixture = try SimulatedHostFixture(profile: "nvidia-t4")
        let foreign = "0badc0de-0000-4000-8000-000000000002"
        try fixture.kernel.write(SysPath.mdevType("0000:3b:00.0", "nvidia-224", "create"), foreign)
        try fixture.apply(
            try fixture.manifest(text: t4("    - select: {index: 0}\n      vgpu: [{name: ml, type: T4-4Q, count: 3}]")))
        let fewer = { (prune: String) in
            try fixture.manifest(
                text: self.t4("    - select: {index: 0}\n      vgpu: [{name: ml, type: T4-4Q, count: 2}]", prune: prune)
            )
        }
        #expect(try fixture.plan(try fewer("none")).isEmpty)
        let managed = try fixture.plan(try fewer("managed"))
        #expect(managed.actions.map(\.target) == ["ml-2"])
        let all = try fixture.plan(try fewer("all"))
        #expect(Set(all.actions.map(\.target)) == ["ml-2", foreign])
        // A different type next to a foreign partition that prune keeps is refused, with the reason.
        #expect(throws: DiagnosticsError.self) {
            try fixture.plan(
                try fixture.manifest(text: self.t4("    - select: {index: 0}\n      vgpu: [{name: x, type: T4-2Q}]")))
        }
    }

    @Test("sriov_numvfs goes through 0 to change a non-zero count, and not while a VF is in use")
    func sriovThroughZero() throws {
        let fixture = try SimulatedHostFixture(profile: "amd-mi210")
        let vfs = { (n: Int) in
            try fixture.manifest(
                text: """
                    apiVersion: forbc/v1
                    kind: Host
                    metadata: {name: mi}
                    spec:
                      gpus:
                        - select: {vendor: amd}
                          sriov: {vfs: \(n)}
                    """)
        }
        try fixture.apply(try vfs(4))
        let plan = try fixture.plan(try vfs(2))
        #expect(plan.actions.map(\.value) == ["0", "2"])
        #expect(
            plan.actions.map(\.path) == Array(repeating: "/sys/bus/pci/devices/0000:c3:00.0/sriov_numvfs", count: 2))
        try fixture.session.apply(plan)
        #expect(try fixture.inventory().gpus[0].vfs.map(\.address) == ["0000:c3:00.2", "0000:c3:00.3"])
        fixture.kernel.mutate { $0.devices[0].sriov!.vfDriver = "vfio-pci" }
        do {
            _ = try fixture.plan(try vfs(1))
            Issue.record("changed the VF count under a VM")
        } catch let error as DiagnosticsError {
            #expect(
                error.diagnostics[0].message
                    == "cannot change sriov_numvfs of 0000:c3:00.0 (AMD Instinct MI210) from 2 to 1: VF "
                    + "0000:c3:00.2 is bound to vfio-pci (assigned to a VM); detach and remove it first"
            )
        }
    }

    @Test("destroy removes what the manifest manages and nothing else")
    func destroy() throws {
        let fixture = try SimulatedHostFixture(profile: "nvidia-t4")
        let foreign = "0badc0de-0000-4000-8000-000000000003"
        try fixture.kernel.write(SysPath.mdevType("0000:d8:00.0", "nvidia-236", "create"), foreign)
        let manifest = try fixture.manifest(
            text: t4("    - select: {index: 0}\n      vgpu: [{name: ml, type: T4-4Q, count: 3}]"))
        try fixture.apply(manifest)
        let plan = try Planner(manifest: manifest, inventory: try fixture.inventory(), state: try fixture.state())
            .destroyPlan()
        #expect(plan.actions.count == 3 && plan.actions.allSatisfy { $0.action == .destroy })
        try fixture.session.apply(plan)
        #expect(try fixture.inventory().mdevs.map(\.uuid) == [foreign])
    }

    @Test("apply re-reads before acting: capacity taken after planning stops it cleanly; a rerun converges")
    func changedWorld() throws {
        let fixture = try SimulatedHostFixture(profile: "nvidia-t4")
        let manifest = try fixture.manifest(
            text: t4("    - select: {index: 0}\n      vgpu: [{name: ml, type: T4-8Q, count: 2}]"))
        let plan = try fixture.plan(manifest)
        for i in 0..<2 {
            try fixture.kernel.write(
                SysPath.mdevType("0000:3b:00.0", "nvidia-225", "create"), "0badc0de-0000-4000-8000-00000000001\(i)")
        }
        let report = try fixture.session.apply(plan)
        let failed = try #require(report.failed)
        #expect(failed.error.code == .changedWorld)
        #expect(
            failed.error.message
                == "/sys/class/mdev_bus/0000:3b:00.0/mdev_supported_types/nvidia-225/available_instances reads 0: "
                + "no instance of 'nvidia-225' is free on '0000:3b:00.0'; another tool may have taken it; "
                + "run 'forbc plan' again"
        )
        #expect(report.done.isEmpty && report.notAttempted.count == 1)
        for i in 0..<2 {
            try fixture.kernel.write(SysPath.mdev("0badc0de-0000-4000-8000-00000000001\(i)", "remove"), "1")
        }
        #expect(try fixture.apply(manifest).report.succeeded)
        #expect(try fixture.plan(manifest).isEmpty)
    }

    @Test("one apply at a time per host")
    func lock() throws {
        let fixture = try SimulatedHostFixture(profile: "mtty")
        try fixture.session.store.ensureDirectory()
        let held = try HostLock.acquire(at: fixture.session.store.lockURL)
        defer { held.release() }
        #expect(throws: ForbcError.self) { try fixture.apply(try fixture.manifest("mtty")) }
        #expect(fixture.kernel.counters.writes == 0)
    }

    @Test(
        "two state dirs on this machine are still one kernel: a change to its own sysfs takes the machine's lock too",
        .enabled(if: getuid() == 0, "needs root, to take /run/forbc/apply.lock"))
    func machineLock() throws {
        let directory = makeTemporaryDirectory("machine-lock")
        defer { try? FileManager.default.removeItem(at: directory) }
        let session = HostSession(sysfs: RealSysfs(), store: StateStore(directory: directory))
        #expect(session.isThisHost)
        let held = try #require(try HostLock.acquireMachine(in: HostSession.machineLockFolder))
        var ran = false
        #expect(throws: ForbcError.self) { try session.locked { ran = true } }
        held.release()
        #expect(!ran)
        try session.locked { ran = true }
        #expect(ran)
        // A tree under '--root' or a simulated host is its state dir's alone.
        let tree = HostSession(sysfs: RealSysfs(root: directory.path), store: StateStore(directory: directory))
        #expect(!tree.isThisHost)
        let again = try #require(try HostLock.acquireMachine(in: HostSession.machineLockFolder))
        defer { again.release() }
        try tree.locked {}
        // A folder others may write (another user could create or hold the lock there) is refused, named.
        let open = directory.appendingPathComponent("open").path
        #expect(mkdir(open, 0o755) == 0 && chmod(open, 0o1777) == 0)
        #expect { _ = try HostLock.acquireMachine(in: open) } throws: { error in
            (error as? ForbcError)?.message.hasPrefix("\(open) must be a folder only root may write") == true
        }
    }
}
