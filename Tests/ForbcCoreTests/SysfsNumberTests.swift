import ForbcCore
import ForbcTestSupport
import Foundation
import Testing

@testable import ForbcSimulator

/// Numbers read from sysfs are checked where they are read: a value the kernel cannot write there (a corrupt or
/// hand-made tree) is a located error naming the attribute and the value, never overflowing arithmetic or a loop
/// as long as the number.
@Suite("numbers read from sysfs")
struct SysfsNumberTests {
    @Test(
        "VF addresses: bounded operands, nil past bus ff or for a malformed PF, never a trap",
        arguments: [
            ("0000:c3:00.0", 2, 1, 3, "0000:c3:00.5"), ("0000:10:00.0", 0x80, 8, 1, "0000:10:11.0"),
            ("0000:fe:1f.7", 0x100, 0, 0, "0000:ff:1f.7"), ("0000:10:00.0", Int.max, 1, 1, nil),
            ("0000:10:00.0", 1, Int.max, 2, nil), ("0000:10:00.0", Int.min, 1, 0, nil), ("0000:10:00.0", 1, 1, -1, nil),
            ("0000:10:00.0", 0xFFFF, 1, 0, nil), ("0000:ff:1f.7", 0, 1, 1, nil), ("0000:10:20.0", 1, 1, 0, nil),
            ("0000:10:00", 1, 1, 0, nil), ("bogus", 1, 1, 0, nil),
        ] as [(String, Int, Int, Int, String?)])
    func vfAddress(pf: String, offset: Int, stride: Int, index: Int, expected: String?) {
        #expect(PCIAddressMath.vf(pf, offset: offset, stride: stride, index: index) == expected)
    }

    /// What one mutation of a simulated host makes discovery read, and the attribute it must name.
    struct Case: Sendable, CustomStringConvertible {
        let profile: String
        let attribute: String
        let value: String
        let change: @Sendable (inout SimDevice) -> Void
        var description: String { "\(profile) \(attribute) \(value)" }
    }

    static let cases: [Case] = [
        Case(profile: "amd-mi210", attribute: "sriov_offset", value: "\(Int.max)") { $0.sriov?.offset = Int.max },
        Case(profile: "amd-mi210", attribute: "sriov_stride", value: "65536") { $0.sriov?.stride = 65536 },
        Case(profile: "amd-mi210", attribute: "sriov_offset", value: "-1") { $0.sriov?.offset = -1 },
        Case(profile: "amd-mi210", attribute: "sriov_totalvfs", value: "65536") { $0.sriov?.totalVFs = 65536 },
        Case(profile: "intel-flex170", attribute: "sriov_totalvfs", value: "\(Int.max)") {
            $0.sriov?.totalVFs = Int.max
        },
        Case(profile: "amd-mi210", attribute: "sriov_numvfs", value: "9") { $0.sriov?.numVFs = 9 },
        Case(profile: "amd-mi210", attribute: "numa_node", value: "\(Int.min)") { $0.numaNode = Int.min },
        Case(profile: "amd-mi210", attribute: "numa_node", value: "4096") { $0.numaNode = 4096 },
        Case(profile: "amd-mi210", attribute: "iommu_group", value: "-5") { $0.iommuGroup = -5 },
    ]

    @Test("a value out of the kernel's range is a located error naming the attribute and the value", arguments: cases)
    func outOfRange(_ item: Case) throws {
        let kernel = SimulatedKernel(model: SimulatedProfiles.make(item.profile)!)
        kernel.mutate { item.change(&$0.devices[0]) }
        let address = kernel.model.devices[0].address
        let error = try #require(throws: ForbcError.self) { try Discovery(sysfs: kernel).inventory() }
        #expect(error.path == SysPath.pci(address, item.attribute))
        #expect(error.message.contains("holds '\(item.value)', not a number in"))
    }

    @Test(
        "attributes of a real tree (available_instances, vGPU type ids) are checked the same way",
        arguments: [
            ("nvidia-t4", "available_instances", "-1"), ("mtty", "available_instances", "4294967296"),
            ("nvidia-t4", "available_instances", "many"),
        ])
    func materialized(profile: String, attribute: String, value: String) throws {
        let root = makeTemporaryDirectory("numbers")
        defer { try? FileManager.default.removeItem(at: root) }
        try SimulatedKernel(model: SimulatedProfiles.make(profile)!).materialize(into: root)
        let files = FileManager.default.enumerator(atPath: root.path)!.compactMap { $0 as? String }
        let file = try #require(files.sorted().first { $0.hasSuffix("/" + attribute) })
        try Data(value.utf8).write(to: root.appendingPathComponent(file))
        let error = try #require(throws: ForbcError.self) {
            try Discovery(sysfs: RealSysfs(root: root.path)).inventory()
        }
        #expect(error.path == "/" + file)
        #expect(error.message.contains("holds '\(value)'"))
    }

    @Test(
        "a VF's gpu_instance_id saying 'none' (-1, NVML's 0xFFFFFFFF, words) reads as none; past 32 bits is an error",
        arguments: [("-1", false), ("4294967295", false), ("N/A", false), ("4294967296", true), ("-2", true)])
    func vgpuInstanceNone(value: String, refused: Bool) throws {
        let root = makeTemporaryDirectory("numbers")
        defer { try? FileManager.default.removeItem(at: root) }
        try SimulatedKernel(model: SimulatedProfiles.make("nvidia-a100-vgpu")!).materialize(into: root)
        let files = FileManager.default.enumerator(atPath: root.path)!.compactMap { $0 as? String }
        // A VF without a vGPU has no such file in the simulator; here one says "none" its own way.
        let current = try #require(files.sorted().first { $0.hasSuffix("/nvidia/current_vgpu_type") })
        let file = current.replacingOccurrences(of: "current_vgpu_type", with: "gpu_instance_id")
        try Data(value.utf8).write(to: root.appendingPathComponent(file))
        let discovery = Discovery(sysfs: RealSysfs(root: root.path))
        if refused {
            let error = try #require(throws: ForbcError.self) { try discovery.inventory() }
            #expect(error.path == "/" + file)
        } else {
            let vfs = try discovery.inventory().gpus.flatMap(\.vfs)
            let vf = try #require(vfs.first { file.contains("/\($0.address)/") })
            #expect(vf.vgpu != nil && vf.vgpu?.gpuInstance == nil)
        }
    }

    @Test("i915's VF tree is read for the VF directories it has: a large total VF count reads no more")
    func iovReadsPresentVFs() throws {
        let kernel = SimulatedKernel(model: SimulatedProfiles.make("intel-flex170")!)
        let before = try Discovery(sysfs: kernel).inventory().gpus[0].iov
        kernel.mutate { $0.devices[0].sriov?.totalVFs = 65535 }
        kernel.resetCounters()
        let iov = try #require(try Discovery(sysfs: kernel).inventory().gpus[0].iov)
        #expect(iov.vfs.count == 65535)
        #expect(Array(iov.vfs.prefix(before?.vfs.count ?? 0)) == before?.vfs)
        #expect(kernel.counters.reads < 1000)
    }

    @Test("a VF count whose last VF lies past bus ff is refused at planning, located at the manifest")
    func vfsPastBusFF() throws {
        let fixture = SimulatedHostFixture(model: SimulatedProfiles.make("amd-mi210")!)
        // 0000:c3:00.0 is routing id 0xc300: with offset 0x3cfe, VF 1 is at 0xffff and VF 2 past it.
        fixture.kernel.mutate { $0.devices[0].sriov?.offset = 0x3cfe }
        func manifest(vfs: Int) throws -> Manifest {
            try fixture.manifest(
                text: "apiVersion: forbc/v1\nkind: Host\nmetadata: {name: n}\nspec:\n  gpus:\n"
                    + "    - select: {vendor: amd}\n      sriov: {name: vf, vfs: \(vfs)}\n")
        }
        let two = try fixture.plan(try manifest(vfs: 2))
        #expect(two.actions.flatMap(\.records).map(\.address) == ["0000:ff:1f.6", "0000:ff:1f.7"])
        let error = try #require(throws: (any Error).self) { try fixture.plan(try manifest(vfs: 3)) }
        #expect(String(describing: error).contains("would lie beyond bus ff (sriov_offset 15614, sriov_stride 1)"))
    }

    @Test("export leaves out an i915 VF count past Int rather than trapping", arguments: [UInt64(1024), .max])
    func exportHugeQuota(contexts: UInt64) throws {
        var model = try #require(SimulatedProfiles.make("intel-flex170"))
        model.devices[0].sriov?.numVFs = 1
        let quotas: [String: UInt64] = [
            "lmem_quota": 1 << 30, "ggtt_quota": 1 << 20, "contexts_quota": contexts, "doorbells_quota": 8,
        ]
        for (attribute, value) in quotas { model.devices[0].iov?.vfs[0][attribute] = value }
        let fixture = SimulatedHostFixture(model: model)
        let exported = try Exporter(inventory: try fixture.inventory(), state: try fixture.state()).manifest()
        #expect(exported.contains("perVF: {localMemory: 1G, ggtt: 1M, contexts: 1024") == (contexts == 1024))
    }

    @Test("MIG placement masks are total: a placement past 32 slots or negative takes every slot")
    func placementMask() {
        #expect(MIGPlacement(start: 2, size: 3).mask == 0b11100)
        #expect(MIGPlacement(start: 0, size: 32).mask == .max)
        #expect(MIGPlacement(start: 0, size: 0).mask == 0)
        for (start, size) in [(0, 33), (0, Int.max), (Int.min, 1), (-1, 1), (0, -1), (31, 2), (40, 1)] {
            #expect(MIGPlacement(start: start, size: size).mask == .max)
        }
    }
}
