import ForbcCore
import Foundation

/// Profiles of NVIDIA's vGPU manager seen through NVML as well as sysfs.
extension SimulatedProfiles {
    /// Where `nvidia-l40s-vgpu`'s scheduler numbers come from.
    static let provenanceL40SvGPU =
        "simulated; nvidia-l40s's vGPU types (NVIDIA's vGPU documentation) with the vGPU manager's NVML: "
        + "scheduler policies best effort, equal share and fixed share (NVIDIA AI Enterprise, 'Scheduling "
        + "Policies'), set and read through nvmlDeviceSet/GetVgpuSchedulerState and bounded by "
        + "nvmlDeviceGetVgpuSchedulerCapabilities (NVML API reference, vGPU Management); time slice 1 to 30 ms "
        + "after the vGPU user guide's RmPVMRL time slice range (0x01-0x1E ms); the 2 ms default is the "
        + "simulator's. Mixed-size (heterogeneous) mode through nvmlDeviceGet/SetVgpuHeterogeneousMode, off at "
        + "start, changed only while no VF holds a vGPU (NV_ERR_IN_USE, open-gpu-kernel-modules' "
        + "NV0080_CTRL_CMD_GPU_SET_VGPU_HETEROGENEOUS_MODE); placements per type as "
        + "nvmlDeviceGetVgpuTypeSupportedPlacements reports them (nvmlVgpuPlacementList_v2_t: placementSize "
        + "slots from one of placementIds). The placement numbers are NOT NVIDIA's: its table for the L40S in "
        + "mixed-size mode could not be read here, so a type of N GB takes N slots of 48 and starts at multiples "
        + "of N (the simulator's rule), and NVIDIA's note that mixed-size mode allows fewer vGPUs of some types "
        + "than equal-size mode is not reproduced; the driver's choice of placement (the lowest free ID) is the "
        + "simulator's too"

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
        // The simulator's placement rule (not NVIDIA's numbers, see the provenance): a type of N GB occupies N of
        // 48 slots and starts at a multiple of N.
        let types = model.devices[0].sriov?.vfVGPUTypes ?? []
        device.vgpuPlacementRules = Dictionary(
            uniqueKeysWithValues: types.compactMap { type in
                Int(type.id).map {
                    (
                        $0,
                        VGPUPlacementRule(
                            size: type.cost, ids: Array(stride(from: 0, through: 48 - type.cost, by: type.cost)))
                    )
                }
            })
        model.nvml = [device]
        return model
    }

    /// Where `nvidia-a100-vgpu`'s numbers come from.
    static let provenanceA100vGPU =
        "simulated; NVIDIA vGPU user guide, 'Virtual GPU Types for Supported GPUs', NVIDIA A100 PCIe 40GB: "
        + "time-sliced C-series A100-4C/5C/8C/10C/20C/40C (10, 8, 5, 4, 2, 1 per GPU) and the MIG-backed types "
        + "A100-1-5C, A100-1-5CME, A100-2-10C, A100-3-20C, A100-4-20C, A100-7-40C on the GPU instances of "
        + "1g.5gb, 1g.5gb+me, 2g.10gb, 3g.20gb, 4g.20gb, 7g.40gb (as many per GPU as the MIG user guide allows "
        + "instances of the profile); MIG profiles from the MIG user guide; a MIG-backed vGPU on an SR-IOV VF "
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
            ("A100-7-40C", 0),
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
