import CNVML
import Foundation

/// The vGPU types NVML supports on a GPU: nvmlDeviceGetSupportedVgpus (twice: the count, then the ids),
/// nvmlVgpuTypeGetName, nvmlVgpuTypeGetGpuInstanceProfileId (NVML_INVALID_GPU_INSTANCE_PROFILE_ID for a
/// time-sliced type).
extension NVMLLibrary {
    public func vgpuTypes(device index: Int) throws -> [NVMLVGPUType] {
        try lock.withLock {
            let device = try handle(index)
            let supported: nvmlDeviceGetSupportedVgpus_fn
            do {
                supported = try symbol("nvmlDeviceGetSupportedVgpus", nvmlDeviceGetSupportedVgpus_fn.self)
            } catch let error as ForbcError where error.code == .unsupported { return [] }
            var count: UInt32 = 0
            let first = supported(device, &count, nil)
            if first == NVMLReturn.notSupported || count == 0 { return [] }
            var ids = [UInt32](repeating: 0, count: Int(count))
            try check("nvmlDeviceGetSupportedVgpus", supported(device, &count, &ids))
            let getName = try symbol("nvmlVgpuTypeGetName", nvmlVgpuTypeGetName_fn.self)
            let getProfile = try symbol(
                "nvmlVgpuTypeGetGpuInstanceProfileId", nvmlVgpuTypeGetGpuInstanceProfileId_fn.self)
            return try ids.prefix(Int(count)).map { id in
                let name = try string("nvmlVgpuTypeGetName") { buffer, length in
                    var size = length
                    return getName(id, buffer, &size)
                }
                // NVML_INVALID_GPU_INSTANCE_PROFILE_ID (0xFFFFFFFF) marks a time-sliced type.
                var profile: UInt32 = 0
                try check("nvmlVgpuTypeGetGpuInstanceProfileId", getProfile(id, &profile))
                return NVMLVGPUType(
                    id: Int(id), name: name,
                    gpuInstanceProfileID: profile == UInt32.max ? nil : Int(profile))
            }
        }
    }
}
