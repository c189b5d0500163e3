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
        + "simulator's"

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
        model.nvml = [device]
        return model
    }
}
