import ForbcCore
import Foundation

/// Profiles of NVIDIA's vGPU manager seen through NVML as well as sysfs.
extension SimulatedProfiles {
    /// Where `nvidia-l40s-vgpu`'s numbers come from.
    static let provenanceL40SvGPU =
        "simulated; nvidia-l40s's vGPU types (NVIDIA's vGPU documentation) with the vGPU manager's NVML. Mixed-size "
        + "(heterogeneous) mode through nvmlDeviceGet/SetVgpuHeterogeneousMode, off at start, changed only while no "
        + "VF holds a vGPU (NV_ERR_IN_USE, open-gpu-kernel-modules' NV0080_CTRL_CMD_GPU_SET_VGPU_HETEROGENEOUS_MODE); "
        + "placements as nvmlDeviceGetVgpuTypeSupportedPlacements reports them (nvmlVgpuPlacementList_v2_t: "
        + "placementSize slots from one of placementIds): a type of N GB takes N of 48 slots, starting at the "
        + "placement IDs of NVIDIA's vGPU user guide for the L40S in mixed-size mode (Release 20, section 9.3.5, as "
        + "transcribed in GPUCloudSim's GridVideoCardTags.java: NVIDIA's page itself could not be read here), whose "
        + "count per type is NVIDIA's mixed-size maximum (NVIDIA AI Enterprise 6.2, 'Virtual GPU Types for Supported "
        + "GPUs', Table 39: 48C 1, 24C 2, 16C 2, 12C 4, 8C 4, 6C 8, 4C 8; the 1, 2 and 3 GB IDs are the "
        + "transcription's alone); the same IDs for every series of a size. The driver's choice of placement (the "
        + "lowest free ID) is the simulator's. Scheduler policies best effort (the default), equal share and fixed "
        + "share (NVIDIA AI Enterprise 8.1, 'Scheduling Policies'), set and read through "
        + "nvmlDeviceSet/GetVgpuSchedulerState and bounded by nvmlDeviceGetVgpuSchedulerCapabilities (NVML API "
        + "reference, vGPU Management); the time-slice range 1 to 30 ms and the 2 ms default are the simulator's "
        + "(NVIDIA documents neither: NVML reports the real range, and the RmPVMRL regkey of open-gpu-kernel-modules' "
        + "nvrm_registry.h takes 'T - Timeslice of T ms' in 8 bits without a range)"

    /// NVIDIA's L40S placement IDs in mixed-size mode by frame buffer (GB): NVIDIA vGPU user guide, Release 20,
    /// section 9.3.5, as transcribed in github.com/ahmad-siavashi/gpucloudsim (GridVideoCardTags.java). The number of
    /// IDs per size is NVIDIA's "Maximum vGPUs per GPU in Mixed-Size Mode" (NVIDIA AI Enterprise 6.2, Table 39, for
    /// the C series 4-48 GB). A vGPU of N GB occupies slots [id, id + N) of 48.
    static let l40sMixedSizePlacements: [Int: [Int]] = [
        48: [0], 24: [0, 24], 16: [0, 32], 12: [0, 12, 24, 36], 8: [0, 16, 24, 40],
        6: Array(stride(from: 0, through: 42, by: 6)), 4: [0, 8, 12, 20, 24, 32, 36, 44],
        3: Array(stride(from: 0, through: 45, by: 3)),
        2: [0, 4, 6, 10, 12, 16, 18, 22, 24, 28, 30, 34, 36, 40, 42, 46],
        1: [0, 5, 6, 11, 12, 17, 18, 23, 24, 29, 30, 35, 36, 41, 42, 47],
    ]

    /// The L40S of `nvidia-l40s` (48 GB, Ada, vGPU 17+ on VFs) with its vGPU scheduler in NVML: best effort until
    /// a manifest says otherwise.
    static func nvidiaL40SvGPU() -> SimulatedHostModel {
        var model = nvidiaL40S()
        model.profile = "nvidia-l40s-vgpu"
        model.provenance = provenanceL40SvGPU
        let address = model.devices[0].address
        var device = SimNVMLDevice(
            address: address, index: 0,
            uuid: "GPU-"
                + UUIDv5.make(namespace: UUIDv5.forbcNamespace, name: "l40s-vgpu/0").uuidString.lowercased(),
            name: "NVIDIA L40S", memoryMiB: 48 * 1024, profiles: [])
        device.vgpuScheduler = SimVGPUScheduler(
            supported: [.bestEffort, .equalShare, .fixedShare], minTimesliceNs: 1_000_000,
            maxTimesliceNs: 30_000_000, defaultTimesliceNs: 2_000_000)
        // NVIDIA's placement IDs per frame buffer size (see l40sMixedSizePlacements), for every type of that size.
        let types = model.devices[0].sriov?.vfVGPUTypes ?? []
        device.vgpuPlacementRules = Dictionary(
            uniqueKeysWithValues: types.compactMap { type in
                guard let id = Int(type.id), let ids = l40sMixedSizePlacements[type.cost] else { return nil }
                return (id, VGPUPlacementRule(size: type.cost, ids: ids))
            })
        model.nvml = [device]
        return model
    }

    /// Where `nvidia-a100-vgpu`'s numbers come from.
    static let provenanceA100vGPU =
        "simulated; NVIDIA AI Enterprise 6.2, 'Virtual GPU Types for Supported GPUs', NVIDIA A100 PCIe 40GB: "
        + "Table 72, time-sliced A100-4C/5C/8C/10C/20C/40C (10, 8, 5, 4, 2, 1 per GPU in equal-size mode), and "
        + "Table 71, the MIG-backed types A100-1-5C (7), A100-1-5CME (1), A100-1-10C (4), A100-2-10C (3), "
        + "A100-3-20C (2), A100-4-20C (1), A100-7-40C (1) on the GPU instances of 1g.5gb, 1g.5gb+me, 1g.10gb, "
        + "2g.10gb, 3g.20gb, 4g.20gb, 7g.40gb (as many as the MIG user guide allows instances of the profile, which "
        + "is the table's maximum for each); MIG profiles from the MIG user guide; a MIG-backed vGPU on an SR-IOV VF "
        + "('Creating an NVIDIA vGPU on a Linux with KVM Hypervisor', GPUs that support SR-IOV); 16 VFs and the "
        + "type ids are the simulator's"

    /// One A100 PCIe 40GB on bare metal with NVIDIA's vGPU manager: 16 VFs with vGPU 17+ sysfs, MIG through NVML
    /// (a mode change applies at once when idle), time-sliced C types with MIG off and MIG-backed types on.
    static func nvidiaA100vGPU() -> SimulatedHostModel {
        let timeSliced = nvidiaTypes(
            board: "A100", totalGiB: 40, firstID: 700, idPrefix: "",
            [
                Series(
                    suffix: "C", heads: 1, frl: 60, resolution: "4096x2160",
                    sizes: [4, 5, 8, 10, 20, 40].map { ("\($0)", $0) })
            ])
        // MIG-backed C types: NAME → GPU-instance profile id of MIGTables.a100x40GB.
        let migBacked = [
            ("A100-1-5C", 19), ("A100-1-5CME", 20), ("A100-2-10C", 14), ("A100-3-20C", 9), ("A100-4-20C", 5),
            ("A100-7-40C", 0), ("A100-1-10C", 15),
        ].enumerated().map { i, type in SimMIGBackedType(id: 720 + i, name: "NVIDIA \(type.0)", profileID: type.1) }
        var sriov = SimSRIOV(
            totalVFs: 16, numVFs: 16, vfDevice: "0x20f1", offset: 4, stride: 1, vfDriver: "nvidia",
            vfVGPUTypes: timeSliced, vfIOMMUGroupBase: 400)
        sriov.vfMIGBackedTypes = migBacked
        let gpu = SimDevice(
            address: "0000:17:00.0", vendor: "0x10de", device: "0x20f1", subsystemVendor: "0x10de",
            subsystemDevice: "0x145f", driver: "nvidia", numaNode: 0, iommuGroup: 45, sriov: sriov,
            pool: .homogeneous, poolUnits: 40)
        let nvml = SimNVMLDevice(
            address: gpu.address, index: 0,
            uuid: "GPU-" + UUIDv5.make(namespace: UUIDv5.forbcNamespace, name: "a100-vgpu/0").uuidString.lowercased(),
            name: "NVIDIA A100-PCIE-40GB", memoryMiB: 40960, modeChangeNeedsReset: false, profiles: MIGTables.a100x40GB)
        return SimulatedHostModel(
            profile: "nvidia-a100-vgpu", provenance: provenanceA100vGPU, devices: [gpu], nvml: [nvml])
    }
}
