import ForbcCore
import Foundation

/// The simulated hosts of the vendor drivers' own partitioning: AMD Instinct MI300X partition modes and Intel Data
/// Center GPU Flex 170 SR-IOV provisioning. Every number cites its source; where a number is the simulator's own
/// choice, the comment says so.
extension SimulatedProfiles {
    /// AMD's sources for the MI300X profile.
    static let provenanceMI300X =
        "simulated; 8 XCDs per MI300X (AMD SMI, 'GPU partitioning', Physical die types), compute modes SPX/DPX/QPX/CPX "
        + "and memory modes NPS1/NPS4 (AMD Instinct MI300X GPU partitioning overview and quick start guide, "
        + "instinct.docs.amd.com), which compute mode goes with which memory mode, the request-then-reload "
        + "memory change and EBUSY while KFD processes run from the amdgpu driver (aqua_vanjaram.c, amdgpu_gmc.c, "
        + "amdgpu_gfx.c); PCI addresses and KFD gpu_ids are the simulator's"

    /// Eight Instinct MI300X OAM modules (one 8-GPU platform). Each has 8 XCDs ("An MI300X has 8 XCDs", AMD SMI
    /// partitioning guide) and 192 GB HBM3; it boots in SPX and NPS1, offers compute modes SPX, DPX, QPX, CPX (AMD's
    /// MI300X partitioning overview) and memory modes NPS1 and NPS4 ("NPS4 mode … creates four memory partitions
    /// of 48GB each", MI300X quick start guide). The PCI class is a processing accelerator (0x1200), as lspci shows
    /// Instinct MI300X. Not modelled: the XGMI hive (on a real 8-GPU platform all GPUs of the hive request one
    /// memory mode and are reloaded together, amdgpu_gmc.c), and the render nodes of the partitions.
    static func amdMI300X() -> SimulatedHostModel {
        // The simulator's choice of bus numbers (those of a common 8-GPU platform) and NUMA nodes.
        let buses = ["0c", "22", "38", "5c", "9f", "af", "bf", "df"]
        let devices = buses.enumerated().map { i, bus in
            var device = SimDevice(
                address: "0000:\(bus):00.0", vendor: "0x1002", device: "0x74a1", subsystemVendor: "0x1002",
                subsystemDevice: "0x74a1", classCode: "0x120000", revision: "0x00", driver: "amdgpu",
                numaNode: i < 4 ? 0 : 1, iommuGroup: 40 + i, pool: .shared, poolUnits: 0)
            device.amd = SimAMDPartition(
                xccs: 8, compute: "SPX", memory: "NPS1", computeModes: ["SPX", "DPX", "QPX", "CPX"],
                memoryModes: ["NPS1", "NPS4"], gpuIDBase: 1000 * (i + 1))
            return device
        }
        return SimulatedHostModel(profile: "amd-mi300x", provenance: provenanceMI300X, devices: devices)
    }

    /// Intel's sources for the Flex 170 profile.
    static let provenanceFlex170 =
        "simulated; Data Center GPU Flex 170 with 16 GB GDDR6 and up to 31 VFs (Intel's product specifications), "
        + "i915's prelim_iov/ provisioning tree as intel-gpu-i915-backports makes it (i915_sriov_sysfs.c: "
        + "'prelim_' 'iov', pf, vfN; gt/iov/intel_iov_sysfs.c: 'gt' on a single-tile device, VF files lmem_quota, "
        + "ggtt_quota, contexts_quota, doorbells_quota, exec_quantum_ms, preempt_timeout_us, PF files "
        + "available/*_max_quota), provisioning before enabling and automatic provisioning when no quota is given "
        + "(xe driver ABI sysfs-driver-intel-xe-sriov; i915 marks provisioning manual once a quota is written, "
        + "intel_iov_provisioning.c); the PF's own reservations, the alignments and the PCI address are the "
        + "simulator's"

    /// One Intel Data Center GPU Flex 170 (device 0x56c0, 16 GB GDDR6, SR-IOV with up to 31 VFs: Intel's product
    /// specifications) under i915 with `prelim_iov/`. What the PF offers for VFs: 16 GiB of local memory less 512 MiB
    /// it keeps, 4 GiB of GGTT (the 32-bit global GTT) less 256 MiB, 64 K GuC context ids less 1,024, 256 GuC
    /// doorbells less 16: the reservations are the simulator's (no document gives them).
    static func intelFlex170() -> SimulatedHostModel {
        let sriov = SimSRIOV(
            totalVFs: 31, numVFs: 0, vfDevice: "0x56c0", offset: 1, stride: 1, vfDriver: nil, vfIOMMUGroupBase: 500)
        var gpu = SimDevice(
            address: "0000:4d:00.0", vendor: "0x8086", device: "0x56c0", subsystemVendor: "0x8086",
            subsystemDevice: "0x4905", classCode: "0x038000", revision: "0x08", driver: "i915", numaNode: 0,
            iommuGroup: 90, sriov: sriov, pool: .shared, poolUnits: 0)
        let gib: UInt64 = 1 << 30
        let mib: UInt64 = 1 << 20
        gpu.iov = SimIOV(
            card: 1,
            available: [
                "lmem_quota": 16 * gib - 512 * mib, "ggtt_quota": 4 * gib - 256 * mib, "contexts_quota": 65536 - 1024,
                "doorbells_quota": 256 - 16,
            ],
            totalVFs: 31, alignment: ["lmem_quota": 2 * mib, "ggtt_quota": 64 << 10])
        return SimulatedHostModel(profile: "intel-flex170", provenance: provenanceFlex170, devices: [gpu])
    }
}
