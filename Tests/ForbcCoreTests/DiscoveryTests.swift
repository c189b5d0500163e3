import ForbcCore
import ForbcSimulator
import ForbcTestSupport
import Foundation
import Testing

@Suite("discovery")
struct DiscoveryTests {
    /// Copies the real H100 capture (kept in Tests/Fixtures/nvidia-h100-80gb-hbm3)
    /// into `root`/sys/bus/pci/devices and recreates its recorded links.
    static func copyH100Capture(into root: URL) throws -> Bool {
        let capture = URL(fileURLWithPath: RepositoryPaths.fixture("nvidia-h100-80gb-hbm3"))
        guard FileManager.default.fileExists(atPath: capture.path) else { return false }
        let devices = root.appendingPathComponent("sys/bus/pci/devices")
        try FileManager.default.createDirectory(at: devices, withIntermediateDirectories: true)
        let device = devices.appendingPathComponent("0000:00:06.0")
        try FileManager.default.copyItem(
            at: capture.appendingPathComponent("sysfs/bus/pci/devices/0000:00:06.0"), to: device)
        // LINKS holds "name -> target" lines: the links the capture could not copy as files.
        let links = try String(contentsOf: capture.appendingPathComponent("LINKS"), encoding: .utf8)
        for line in links.split(separator: "\n") {
            let parts = line.components(separatedBy: " -> ")
            guard parts.count == 2 else { continue }
            try? FileManager.default.createSymbolicLink(
                atPath: device.appendingPathComponent(parts[0]).path, withDestinationPath: parts[1])
        }
        return true
    }

    @Test("the real H100 capture is discovered: one H100 80GB HBM3, driver nvidia, no partition capability")
    func realH100Capture() throws {
        let root = makeTemporaryDirectory("h100")
        defer { try? FileManager.default.removeItem(at: root) }
        try #require(try Self.copyH100Capture(into: root), "Tests/Fixtures/nvidia-h100-80gb-hbm3 is missing")
        let inventory = try Discovery(sysfs: RealSysfs(root: root.path)).inventory()
        #expect(inventory.gpus.count == 1)
        let gpu = try #require(inventory.gpus.first)
        #expect(gpu.address == "0000:00:06.0")
        #expect(gpu.model == "NVIDIA H100 80GB HBM3")
        #expect(gpu.vendor == .nvidia && gpu.deviceID == "0x2330" && gpu.subsystemID == "0x16c1")
        #expect(gpu.driver == "nvidia")
        #expect(gpu.numaNode == nil)
        #expect(gpu.sriov == nil && gpu.vfs.isEmpty && !gpu.isMdevParent)
        #expect(inventory.mdevParents.isEmpty && inventory.mdevs.isEmpty)
        #expect(!inventory.simulated)
        // The simulated profile built from the capture discovers the same GPU.
        let simulated = try Discovery(sysfs: SimulatedKernel(model: SimulatedProfiles.make("nvidia-h100")!)).inventory()
        #expect(simulated.gpus == inventory.gpus)
    }

    @Test(
        "real sysfs and the simulated kernel agree: a materialized simulated tree discovers the same",
        arguments: SimulatedProfiles.names)
    func materializedAgrees(profile: String) throws {
        let fixture = try SimulatedHostFixture(profile: profile)
        if FileManager.default.fileExists(atPath: RepositoryPaths.manifest(profile)) {
            try fixture.apply(try fixture.manifest(profile))
        }
        let root = makeTemporaryDirectory("materialized")
        defer { try? FileManager.default.removeItem(at: root) }
        try fixture.kernel.materialize(into: root)
        var real = try Discovery(sysfs: RealSysfs(root: root.path)).inventory()
        var simulated = try fixture.inventory()
        // MIG, the vGPU scheduler and mixed-size mode come from NVML, and MPS from its daemons, not from sysfs.
        for i in simulated.gpus.indices {
            simulated.gpus[i].mig = nil
            simulated.gpus[i].vgpuScheduler = nil
            simulated.gpus[i].vgpuTypes = nil
            simulated.gpus[i].vgpuPlacements = nil
        }
        simulated.mps = nil
        real.simulated = true
        real.source = simulated.source
        #expect(real == simulated)
    }

    @Test("a root whose 'sys' holds no GPU or mdev bus is an empty inventory, not an error")
    func emptyRoot() throws {
        let root = makeTemporaryDirectory("empty")
        defer { try? FileManager.default.removeItem(at: root) }
        try FileManager.default.createDirectory(
            at: root.appendingPathComponent("sys"), withIntermediateDirectories: true)
        let inventory = try Discovery(sysfs: RealSysfs(root: root.path)).inventory()
        #expect(inventory.gpus.isEmpty && inventory.mdevParents.isEmpty && inventory.mdevs.isEmpty)
    }

    @Test("profiles show what their hardware offers")
    func profiles() throws {
        let a40 = try SimulatedHostFixture(profile: "nvidia-a40").inventory()
        #expect(a40.gpus[0].vfs.count == 32)
        #expect(a40.mdevParents.filter(\.isVF).count == 32)
        #expect(a40.mdevParents[0].types.first { $0.name == "NVIDIA A40-8Q" }?.maxInstances == 6)
        let gvtg = try SimulatedHostFixture(profile: "intel-gvtg").inventory()
        #expect(gvtg.gpus[0].address == "0000:00:02.0")
        #expect(
            gvtg.mdevParents[0].types.map(\.id) == [
                "i915-GVTg_V5_1", "i915-GVTg_V5_2", "i915-GVTg_V5_4", "i915-GVTg_V5_8",
            ])
        let mtty = try SimulatedHostFixture(profile: "mtty").inventory()
        #expect(mtty.gpus.isEmpty && mtty.mdevParents.map(\.name) == ["mtty"])
    }
}
