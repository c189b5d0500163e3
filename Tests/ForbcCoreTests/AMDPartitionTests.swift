import ForbcCore
import ForbcSimulator
import ForbcTestSupport
import Foundation
import Testing

/// AMD Instinct compute and memory partition modes on the simulated `amd-mi300x`. Each rule test names the document
/// it follows: the amdgpu driver's sources (drivers/gpu/drm/amd/amdgpu/) and AMD's MI300X partitioning guides.
@Suite("AMD Instinct partition modes")
struct AMDPartitionTests {
    func host(_ gpus: String) -> String {
        "apiVersion: forbc/v1\nkind: Host\nmetadata: {name: mi300x}\nspec:\n  gpus:\n\(gpus)"
    }

    /// The diagnostics planning `text` gives, and how many writes it made (none, ever).
    func refusal(_ fixture: SimulatedHostFixture, _ text: String, force: Bool = false) throws -> [Diagnostic] {
        let before = fixture.kernel.counters.writes
        defer { #expect(fixture.kernel.counters.writes == before, "an impossible manifest changes nothing") }
        do {
            let manifest = try fixture.manifest(text: text)
            _ = try fixture.session.plan(manifest, force: force)
            return []
        } catch let error as DiagnosticsError {
            return error.diagnostics
        }
    }

    func amd(_ fixture: SimulatedHostFixture, _ index: Int) throws -> AMDPartitionState {
        try #require(try fixture.inventory().gpus.sorted { $0.address < $1.address }[index].amdPartition)
    }

    @Test("amd-mi300x: apply, converged (0 writes), drift after a change behind forbc's back, repair, export")
    func lifecycle() throws {
        let fixture = try SimulatedHostFixture(profile: "amd-mi300x")
        let manifest = try fixture.manifest("amd-mi300x")
        #expect(try fixture.apply(manifest).report.succeeded)
        #expect(try amd(fixture, 0).compute == "CPX" && amd(fixture, 0).memory == "NPS4")
        #expect(try amd(fixture, 1).compute == "QPX" && amd(fixture, 1).memory == "NPS1")
        // The partitions appear as devices of their own: one KFD topology node each, as ROCm sees them.
        #expect(try amd(fixture, 0).kfdNodes == Array(1000..<1008) && amd(fixture, 1).kfdNodes == Array(2000..<2004))
        #expect(try amd(fixture, 2).kfdNodes == [3000])
        #expect(try fixture.apply(manifest).writes == 0, "a converged host gets zero writes")
        #expect(DriftReport(plan: try fixture.plan(manifest), manifest: manifest).inSync)

        // The compute mode changed behind forbc's back (QPX goes with NPS4 too): drift, then a one-write repair.
        try fixture.kernel.write(SysPath.pci("0000:0c:00.0", "current_compute_partition"), "QPX")
        let drift = DriftReport(plan: try fixture.plan(manifest), manifest: manifest)
        #expect(!drift.inSync)
        #expect(drift.items.map(\.partition) == ["cpx-0…cpx-7"], "\(drift.items)")
        #expect(try fixture.apply(manifest).writes == 1)
        #expect(try amd(fixture, 0).compute == "CPX")

        // The memory mode changed behind forbc's back (a request, then a reload): repaired in the documented order.
        try fixture.kernel.write(SysPath.pci("0000:0c:00.0", "current_memory_partition"), "NPS1")
        try fixture.kernel.write("/sys/bus/pci/drivers/amdgpu/unbind", "0000:0c:00.0")
        try fixture.kernel.write("/sys/bus/pci/drivers/amdgpu/bind", "0000:0c:00.0")
        #expect(try amd(fixture, 0).compute == "SPX" && amd(fixture, 0).memory == "NPS1")
        #expect(!DriftReport(plan: try fixture.plan(manifest), manifest: manifest).inSync)
        #expect(try fixture.apply(manifest).report.succeeded)
        #expect(try fixture.plan(manifest).isEmpty)

        let exported = try Exporter(inventory: try fixture.inventory(domains: true), state: try fixture.state())
            .manifest()
        #expect(exported.contains("amdPartition: {name: cpx, compute: CPX, memory: NPS4}"), "\(exported)")
        #expect(try fixture.plan(try fixture.manifest(text: exported)).isEmpty, "export:\n\(exported)")
    }

    @Test("CPX to SPX: a destroying plan; the state forgets cpx-1…cpx-7; export after CPX→SPX→CPX names 'cpx'")
    func fewerPartitions() throws {
        let fixture = try SimulatedHostFixture(profile: "amd-mi300x")
        func mode(_ compute: String, _ memory: String) throws -> Manifest {
            try fixture.manifest(
                text: host(
                    "    - select: {index: 0}\n"
                        + "      amdPartition: {name: cpx, compute: \(compute), memory: \(memory)}\n"))
        }
        func exported() throws -> String {
            try Exporter(inventory: try fixture.inventory(domains: true), state: try fixture.state()).manifest()
        }
        func recorded() throws -> [String] {
            try fixture.state().partitions.filter { $0.kind == .amdXCP }.map(\.name).sorted()
        }
        #expect(try fixture.apply(try mode("CPX", "NPS4")).report.succeeded)
        #expect(try recorded() == (0..<8).map { "cpx-\($0)" })
        let spx = try fixture.plan(try mode("SPX", "NPS1"))
        // The driver reload and the compute mode that leaves one partition of eight: both destroy.
        #expect(
            spx.destroys.map(\.path) == [
                "/sys/bus/pci/drivers/amdgpu/unbind", SysPath.pci("0000:0c:00.0", "current_compute_partition"),
            ])
        #expect(spx.destroys.last?.forgets == (1..<8).map { "cpx-\($0)" })
        #expect(try fixture.apply(try mode("SPX", "NPS1")).report.succeeded)
        #expect(try recorded() == ["cpx-0"])
        let single = try exported()
        #expect(single.contains("amdPartition: {name: cpx, compute: SPX, memory: NPS1}"), "\(single)")
        // Same memory mode, fewer partitions, no reload: the compute mode alone destroys.
        #expect(try fixture.apply(try mode("CPX", "NPS1")).report.succeeded)
        let dpx = try fixture.plan(try mode("DPX", "NPS1"))
        #expect(dpx.destroys.count == 1 && dpx.destroys[0].reason.hasSuffix("; 6 partition(s) go away"))
        // More partitions than now, no reload: nothing destroyed.
        #expect(try fixture.apply(try mode("SPX", "NPS1")).report.succeeded)
        #expect(try fixture.plan(try mode("CPX", "NPS1")).destroys.isEmpty)
        #expect(try fixture.apply(try mode("CPX", "NPS4")).report.succeeded)
        #expect(try recorded() == (0..<8).map { "cpx-\($0)" })
        let text = try exported()
        #expect(text.contains("amdPartition: {name: cpx, compute: CPX, memory: NPS4}"), "\(text)")
        #expect(try fixture.plan(try fixture.manifest(text: text)).isEmpty, "export:\n\(text)")
    }

    @Test("a new name for the same modes is a relabel: no write, the records move, export and drift follow it")
    func rename() throws {
        let fixture = try SimulatedHostFixture(profile: "amd-mi300x")
        func named(_ name: String) throws -> Manifest {
            try fixture.manifest(
                text: host(
                    "    - select: {index: 0}\n      amdPartition: {name: \(name), compute: CPX, memory: NPS4}\n"))
        }
        func recorded() throws -> [String] {
            try fixture.state().partitions.filter { $0.kind == .amdXCP }.map(\.name).sorted()
        }
        #expect(try fixture.apply(try named("cpx")).report.succeeded)
        let plan = try fixture.plan(try named("train"))
        #expect(plan.actions.map(\.action) == [.relabel], "\(plan.actions)")
        #expect(plan.actions.first?.target == "train-0…train-7")
        #expect(plan.actions.first?.forgets.sorted() == (0..<8).map { "cpx-\($0)" }.sorted())
        #expect(!DriftReport(plan: plan, manifest: try named("train")).inSync, "a rename is a change to apply")
        let applied = try fixture.apply(try named("train"))
        #expect(applied.report.done.map(\.action) == [.relabel] && applied.writes == 0)
        #expect(try recorded() == (0..<8).map { "train-\($0)" }.sorted())
        #expect(try fixture.plan(try named("train")).isEmpty)
        let exported = try Exporter(inventory: try fixture.inventory(domains: true), state: try fixture.state())
            .manifest()
        #expect(exported.contains("amdPartition: {name: train, compute: CPX, memory: NPS4}"), "\(exported)")
        // The mode changed behind forbc's back between plan and apply: the relabel refuses, nothing recorded.
        let stale = try fixture.plan(try named("cpx"))
        try fixture.kernel.write(SysPath.pci("0000:0c:00.0", "current_compute_partition"), "QPX")
        let refused = try fixture.session.apply(stale)
        #expect(refused.failed?.error.code == .changedWorld, "\(String(describing: refused.failed))")
        #expect(try recorded() == (0..<8).map { "train-\($0)" }.sorted())
    }

    @Test("SR-IOV: a new name for the same VF count is a relabel: no write, the records and the export follow it")
    func renameVFs() throws {
        let fixture = try SimulatedHostFixture(profile: "amd-mi210")
        func named(_ name: String) throws -> Manifest {
            try fixture.manifest(text: host("    - select: {vendor: amd}\n      sriov: {name: \(name), vfs: 4}\n"))
        }
        #expect(try fixture.apply(try named("vf")).report.succeeded)
        let plan = try fixture.plan(try named("tenant"))
        #expect(plan.actions.map(\.action) == [.relabel] && plan.actions.first?.target == "tenant-0…tenant-3")
        #expect(try fixture.apply(try named("tenant")).writes == 0)
        let names = try fixture.state().partitions.filter { $0.kind == .sriovVF }.map(\.name).sorted()
        #expect(names == (0..<4).map { "tenant-\($0)" })
        #expect(try fixture.plan(try named("tenant")).isEmpty)
        let exported = try Exporter(inventory: try fixture.inventory(domains: true), state: try fixture.state())
            .manifest()
        #expect(exported.contains("sriov: {name: tenant, vfs: 4"), "\(exported)")
    }

    @Test("each compute partition is a target of its own: ROCR_VISIBLE_DEVICES in KFD's order")
    func access() throws {
        let fixture = try SimulatedHostFixture(profile: "amd-mi300x")
        let plan = try fixture.plan(try fixture.manifest("amd-mi300x"))
        let partitions = plan.partitions.filter { $0.kind == .amdXCP }
        #expect(partitions.map(\.name) == (0..<8).map { "cpx-\($0)" } + (0..<4).map { "qpx-\($0)" })
        #expect(partitions.map(\.access) == (0..<12).map { "ROCR_VISIBLE_DEVICES=\($0)" })
    }

    static let refusedCombinations: [(String, String)] = [
        ("SPX", "NPS4"), ("SPX", "NPS2"), ("DPX", "NPS4"), ("QPX", "NPS2"), ("CPX", "NPS2"), ("CPX", "NPS8"),
    ]

    @Test(
        "aqua_vanjaram.c __aqua_vanjaram_is_valid_mode: a combination amdgpu never makes is refused at validate",
        arguments: refusedCombinations)
    func combination(compute: String, memory: String) throws {
        let fixture = try SimulatedHostFixture(profile: "amd-mi300x")
        let found = try refusal(
            fixture, host("    - select: {index: 0}\n      amdPartition: {compute: \(compute), memory: \(memory)}\n"))
        #expect(found.count == 1)
        #expect(found.first?.message.contains("which the amdgpu driver refuses (aqua_vanjaram.c") == true, "\(found)")
        #expect(found.first?.location?.line == 7)
    }

    @Test("aqua_vanjaram.c: a compute mode alone must suit the memory mode the GPU has (SPX on a GPU in NPS4)")
    func computeAlone() throws {
        let fixture = try SimulatedHostFixture(profile: "amd-mi300x")
        try fixture.apply(
            try fixture.manifest(
                text: host("    - select: {index: 0}\n      amdPartition: {compute: CPX, memory: NPS4}\n")))
        let found = try refusal(fixture, host("    - select: {index: 0}\n      amdPartition: {compute: SPX}\n"))
        #expect(
            found.map(\.message) == [
                "compute partition mode 'SPX' does not go with memory partition mode 'NPS4' of 0000:0c:00.0 "
                    + "(AMD Instinct MI300X) (aqua_vanjaram.c: SPX needs NPS1); declare 'memory' too"
            ])
    }

    @Test("amdgpu_gmc.c available_memory_partition: a memory mode the device does not offer (NPS2) is refused")
    func memoryNotOffered() throws {
        let fixture = try SimulatedHostFixture(profile: "amd-mi300x")
        let found = try refusal(
            fixture, host("    - select: {index: 0}\n      amdPartition: {compute: DPX, memory: NPS2}\n"))
        #expect(
            found.first?.message.contains("offers memory partition modes NPS1, NPS4 (available_memory_partition)")
                == true, "\(found)")
    }

    @Test("amdgpu_gfx.c available_compute_partition: a compute mode the device does not offer (TPX, 8 XCCs) is refused")
    func computeNotOffered() throws {
        let fixture = try SimulatedHostFixture(profile: "amd-mi300x")
        let found = try refusal(fixture, host("    - select: {index: 0}\n      amdPartition: {compute: TPX}\n"))
        #expect(found.first?.message.contains("offers compute partition modes SPX, DPX, QPX, CPX") == true, "\(found)")
        #expect(found.first?.location?.line == 7)
    }

    @Test("amdgpu_gmc.c 'reload driver to complete the change': the memory mode first, a reload, then the compute mode")
    func order() throws {
        let fixture = try SimulatedHostFixture(profile: "amd-mi300x")
        let plan = try fixture.plan(
            try fixture.manifest(
                text: host("    - select: {index: 0}\n      amdPartition: {compute: CPX, memory: NPS4}\n")))
        #expect(
            plan.actions.map(\.path) == [
                "/sys/bus/pci/devices/0000:0c:00.0/current_memory_partition", "/sys/bus/pci/drivers/amdgpu/unbind",
                "/sys/bus/pci/drivers/amdgpu/bind", "/sys/bus/pci/devices/0000:0c:00.0/current_compute_partition",
            ])
        // The request alone changes nothing until the device is loaded again.
        try fixture.kernel.write(SysPath.pci("0000:0c:00.0", "current_memory_partition"), "NPS4")
        #expect(try amd(fixture, 0).memory == "NPS1")
        try fixture.kernel.write("/sys/bus/pci/drivers/amdgpu/unbind", "0000:0c:00.0")
        try fixture.kernel.write("/sys/bus/pci/drivers/amdgpu/bind", "0000:0c:00.0")
        #expect(try amd(fixture, 0).memory == "NPS4")
    }

    @Test("amdgpu_amdkfd_check_and_lock_kfd: refused while KFD processes use the GPU; with --force the driver decides")
    func inUse() throws {
        let fixture = try SimulatedHostFixture(profile: "amd-mi300x")
        fixture.kernel.mutate { $0.devices[1].amd?.kfdProcesses = [4242] }
        #expect(try amd(fixture, 1).kfdProcesses == [4242], "discovery reads /sys/class/kfd/kfd/proc")
        #expect(try amd(fixture, 0).kfdProcesses == [])
        let text = host("    - select: {index: 1}\n      amdPartition: {compute: CPX}\n")
        let found = try refusal(fixture, text)
        #expect(
            found.map(\.message) == [
                "cannot change the partition modes of 0000:22:00.0 (AMD Instinct MI300X): 1 KFD process(es) use it "
                    + "(pid 4242, /sys/class/kfd/kfd/proc); amdgpu refuses a mode change while the device is in use: "
                    + "stop them, or pass '--force'"
            ])
        // --force plans it; amdgpu itself still refuses the compute switch with EBUSY, and apply says so.
        let session = fixture.session
        let report = try session.apply(try session.plan(try fixture.manifest(text: text), force: true))
        #expect(report.failed?.error.errno == Errno.EBUSY)
        #expect(try amd(fixture, 1).compute == "SPX")
    }

    @Test("amdgpu_gfx.c: the partition files are amdgpu's; a GPU bound to vfio-pci (held by a VM) is refused")
    func heldByVM() throws {
        let fixture = try SimulatedHostFixture(profile: "amd-mi300x")
        fixture.kernel.mutate { $0.devices[2].driver = "vfio-pci" }
        let found = try refusal(fixture, host("    - select: {index: 2}\n      amdPartition: {compute: CPX}\n"))
        #expect(
            found.map(\.message) == [
                "0000:38:00.0 (AMD Instinct MI300X) is bound to 'vfio-pci', not amdgpu (a VM may hold it): its "
                    + "partition modes are amdgpu's; give it back to amdgpu first"
            ])
    }

    @Test("amdgpu_gmc.c 'all devices in the hive should request the same mode': no memory change in an XGMI hive")
    func hive() throws {
        let fixture = try SimulatedHostFixture(profile: "amd-mi300x")
        fixture.kernel.mutate { $0.devices[0].amd?.hive = "0x5f3a1c" }
        #expect(try amd(fixture, 0).hive == "0x5f3a1c" && amd(fixture, 1).hive == nil)
        let found = try refusal(
            fixture, host("    - select: {index: 0}\n      amdPartition: {compute: CPX, memory: NPS4}\n"))
        #expect(found.first?.message.hasPrefix("0000:0c:00.0 (AMD Instinct MI300X) is in XGMI hive 0x5f3a1c") == true)
        // A compute mode alone is a change of that GPU only.
        let plan = try fixture.plan(
            try fixture.manifest(text: host("    - select: {index: 0}\n      amdPartition: {compute: CPX}\n")))
        #expect(plan.actions.map(\.value) == ["CPX"])
    }

    @Test("a GPU without amdgpu's partition files is refused where 'amdPartition' is written")
    func notInstinct() throws {
        let fixture = try SimulatedHostFixture(profile: "amd-mi210")
        let found = try refusal(fixture, host("    - select: {vendor: amd}\n      amdPartition: {compute: CPX}\n"))
        #expect(found.first?.message.contains("has no compute partition modes (no current_compute_partition") == true)
    }
}
