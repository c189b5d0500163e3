import ForbcCore
import ForbcTestSupport
import Foundation
import Testing

@testable import ForbcSimulator

@Suite("simulated kernel semantics")
struct SimulatedKernelTests {
    func errno(_ body: () throws -> Void) -> Int32? {
        do {
            try body()
            return nil
        } catch let error as ForbcError { return error.errno } catch { return -1 }
    }

    @Test("a UUID written to create makes the device with its mdev_type link and lowers available_instances")
    func mdevCreateRemove() throws {
        let kernel = SimulatedKernel(model: SimulatedProfiles.make("mtty")!)
        let type = SysPath.mdevType("mtty", "mtty-2", "available_instances")
        #expect(try kernel.read(type) == "12\n")
        #expect(try kernel.read(SysPath.mdevType("mtty", "mtty-1", "available_instances")) == "24\n")
        let uuid = "83b8f4f2-509f-382f-3c1e-e6bfe0fa1001"
        try kernel.write(SysPath.mdevType("mtty", "mtty-2", "create"), uuid + "\n")
        #expect(try kernel.list(SysPath.mdevDevices) == [uuid])
        // As the real kernel: the entry links to the device under its parent; mdev_type is relative to it.
        #expect(try kernel.readLink(SysPath.mdev(uuid)) == "../../../devices/virtual/mtty/mtty/\(uuid)")
        #expect(try kernel.readLink(SysPath.mdev(uuid, "mdev_type")) == "../mdev_supported_types/mtty-2")
        #expect(try kernel.read(type) == "11\n")
        // The pool is shared: two ports fewer for the single-port type too.
        #expect(try kernel.read(SysPath.mdevType("mtty", "mtty-1", "available_instances")) == "22\n")
        #expect(try kernel.list(SysPath.mdevType("mtty", "mtty-2", "devices")) == [uuid])
        #expect(errno { try kernel.write(SysPath.mdevType("mtty", "mtty-1", "create"), uuid) } == Errno.EEXIST)
        #expect(errno { try kernel.write(SysPath.mdevType("mtty", "mtty-1", "create"), "not-a-uuid") } == Errno.EINVAL)
        try kernel.write(SysPath.mdev(uuid, "remove"), "0")
        #expect(kernel.exists(SysPath.mdev(uuid)), "writing 0 to remove does nothing")
        try kernel.write(SysPath.mdev(uuid, "remove"), "1")
        #expect(!kernel.exists(SysPath.mdev(uuid)))
        #expect(try kernel.read(type) == "12\n")
        #expect(
            errno { try kernel.write(SysPath.mdevType("mtty", "mtty-2", "available_instances"), "3") } == Errno.EACCES)
        #expect(errno { try kernel.write("/sys/bus/pci/devices/nothing/sriov_numvfs", "3") } == Errno.ENOENT)
    }

    @Test("NVIDIA pools hold one type per GPU and run out with ENOSPC")
    func homogeneousPool() throws {
        let kernel = SimulatedKernel(model: SimulatedProfiles.make("nvidia-t4")!)
        let gpu = "0000:3b:00.0"
        for i in 0..<4 {
            try kernel.write(SysPath.mdevType(gpu, "nvidia-224", "create"), UUIDv5.partition(host: "t", name: "\(i)"))
        }
        #expect(try kernel.read(SysPath.mdevType(gpu, "nvidia-224", "available_instances")) == "0\n")
        #expect(try kernel.read(SysPath.mdevType(gpu, "nvidia-222", "available_instances")) == "0\n")
        #expect(
            errno {
                try kernel.write(SysPath.mdevType(gpu, "nvidia-224", "create"), UUIDv5.partition(host: "t", name: "x"))
            } == Errno.ENOSPC)
        // The other GPU is its own pool.
        #expect(try kernel.read(SysPath.mdevType("0000:d8:00.0", "nvidia-222", "available_instances")) == "16\n")
    }

    @Test("sriov_numvfs follows the kernel: ERANGE above total, EBUSY non-zero to non-zero, through 0")
    func sriov() throws {
        let kernel = SimulatedKernel(model: SimulatedProfiles.make("amd-mi210")!)
        let pf = "0000:c3:00.0"
        let path = SysPath.pci(pf, "sriov_numvfs")
        #expect(try kernel.read(SysPath.pci(pf, "sriov_totalvfs")) == "8")
        #expect(errno { try kernel.write(path, "9") } == Errno.ERANGE)
        #expect(errno { try kernel.write(path, "x") } == Errno.EINVAL)
        try kernel.write(path, "2")
        #expect(try kernel.list(SysPath.pci(pf)).filter { $0.hasPrefix("virtfn") } == ["virtfn0", "virtfn1"])
        #expect(try kernel.readLink(SysPath.pci(pf, "virtfn1")) == "../0000:c3:00.3")
        #expect(try kernel.readLink(SysPath.pci("0000:c3:00.3", "physfn")) == "../\(pf)")
        try kernel.write(path, "2")
        #expect(errno { try kernel.write(path, "4") } == Errno.EBUSY)
        try kernel.write(path, "0")
        try kernel.write(path, "4")
        #expect(try kernel.read(path) == "4")
    }

    @Test("NVIDIA vGPU on VFs: current_vgpu_type takes a creatable id, 0 frees it, a busy VF refuses")
    func vgpuOnVF() throws {
        let kernel = SimulatedKernel(model: SimulatedProfiles.make("nvidia-l40s")!)
        let vf = "0000:ca:00.4"
        let creatable = Discovery.parseCreatable(try kernel.read(SysPath.pci(vf, "nvidia/creatable_vgpu_types")))
        #expect(creatable.first == VGPUType(id: 1155, name: "NVIDIA L40S-1Q"))
        try kernel.write(SysPath.pci(vf, "nvidia/current_vgpu_type"), "1164")
        #expect(try kernel.read(SysPath.pci(vf, "nvidia/current_vgpu_type")) == "1164")
        #expect(Discovery.parseCreatable(try kernel.read(SysPath.pci(vf, "nvidia/creatable_vgpu_types"))).isEmpty)
        #expect(errno { try kernel.write(SysPath.pci(vf, "nvidia/current_vgpu_type"), "1155") } == Errno.EBUSY)
        // The 48Q type filled the GPU: no other VF offers anything.
        #expect(
            Discovery.parseCreatable(try kernel.read(SysPath.pci("0000:ca:00.5", "nvidia/creatable_vgpu_types")))
                .isEmpty)
        // VFs that hold a vGPU cannot be disabled.
        #expect(errno { try kernel.write(SysPath.pci("0000:ca:00.0", "sriov_numvfs"), "0") } == Errno.EBUSY)
        try kernel.write(SysPath.pci(vf, "nvidia/current_vgpu_type"), "0")
        #expect(
            Discovery.parseCreatable(try kernel.read(SysPath.pci("0000:ca:00.5", "nvidia/creatable_vgpu_types"))).count
                == 29)
    }

    @Test("faults fire on the chosen write with the chosen errno, and reads and writes are counted")
    func faults() throws {
        let kernel = SimulatedKernel(model: SimulatedProfiles.make("amd-mi210")!)
        let path = SysPath.pci("0000:c3:00.0", "sriov_numvfs")
        kernel.inject(SimFault(path: path, errno: Errno.EIO))
        #expect(errno { try kernel.write(path, "2") } == Errno.EIO)
        try kernel.write(path, "2")
        kernel.inject(SimFault(writeOrdinal: 2, errno: Errno.EBUSY))
        try kernel.write(path, "2")
        #expect(errno { try kernel.write(path, "0") } == Errno.EBUSY)
        _ = try kernel.read(path)
        #expect(kernel.counters.writes == 4)
        #expect(kernel.counters.successfulWrites == 2)
        #expect(kernel.counters.reads == 1)
    }

    @Test("the simulated host persists and reloads")
    func persistence() throws {
        let dir = makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let kernel = SimulatedKernel(model: SimulatedProfiles.make("mtty")!)
        try kernel.write(SysPath.mdevType("mtty", "mtty-1", "create"), "83b8f4f2-509f-382f-3c1e-e6bfe0fa1001")
        let url = dir.appendingPathComponent("k.json")
        try kernel.save(to: url)
        #expect(try SimulatedKernel.load(from: url).model == kernel.model)
    }
}

@Suite("the simulated host's journal")
struct SimulatedJournalTests {
    @Test("a journal replayed over a model that already holds it (a kill between saving and emptying it) converges")
    func replayOverSavedModel() throws {
        let directory = makeTemporaryDirectory("journal")
        defer { try? FileManager.default.removeItem(at: directory) }
        let model = directory.appendingPathComponent("simulated-host.json")
        let journal = directory.appendingPathComponent("simulated-host.journal")
        let base = try #require(SimulatedProfiles.make("mtty"))
        let kernel = try SimulatedKernel.restore(model: model, journal: journal, base: base)
        let uuid = "11111111-2222-4333-8444-555555555555"
        try kernel.write("/sys/class/mdev_bus/mtty/mdev_supported_types/mtty-2/create", uuid)
        let kept = try Data(contentsOf: journal)
        try kernel.save(to: model)
        try kept.write(to: journal)  // as if killed before the journal was emptied
        let again = try SimulatedKernel.restore(model: model, journal: journal, base: base)
        #expect(again.model.mdevs.map(\.uuid) == [uuid])
        #expect(again.model == kernel.model)
    }

    @Test(
        "a host another command saves while this one reads it is read again once the lock is held",
        arguments: [false, true])
    func saveWhileReading(savedBefore: Bool) throws {
        let directory = makeTemporaryDirectory("journal")
        defer { try? FileManager.default.removeItem(at: directory) }
        let model = directory.appendingPathComponent("simulated-host.json")
        let journal = directory.appendingPathComponent("simulated-host.journal")
        let base = try #require(SimulatedProfiles.make("mtty"))
        let other = try SimulatedKernel.restore(model: model, journal: journal, base: base)
        if savedBefore { try other.save(to: model) }
        let create = "/sys/class/mdev_bus/mtty/mdev_supported_types/mtty-2/create"
        let uuid = "11111111-2222-4333-8444-555555555555"
        // This command has read the files; the other one (holding the lock) changes the host and saves it.
        let reader = try SimulatedKernel.restore(model: model, journal: journal, base: base) {
            #expect(throws: Never.self) {
                try other.write(create, uuid)
                try other.save(to: model)
            }
        }
        #expect(reader.model.mdevs.isEmpty)
        try reader.reload(model: model, journal: journal, base: base)  // as `HostSession.locked` does
        #expect(reader.model.mdevs.map(\.uuid) == [uuid])
    }
}
