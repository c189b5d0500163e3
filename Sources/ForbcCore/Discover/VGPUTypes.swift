/// A vGPU type NVML lists as supported on a GPU (`nvmlDeviceGetSupportedVgpus`, `nvmlVgpuTypeGetName`), with the
/// GPU-instance profile a MIG-backed type lives on (`nvmlVgpuTypeGetGpuInstanceProfileId`; nil for a time-sliced
/// type). A VF's `creatable_vgpu_types` lists a MIG-backed type only while a free GPU instance of its profile
/// exists, so the planner needs this static catalogue to plan the instance first.
public struct NVMLVGPUType: Sendable, Codable, Equatable {
    public var id: Int
    /// "NVIDIA A100-3-20C".
    public var name: String
    public var gpuInstanceProfileID: Int?

    public init(id: Int, name: String, gpuInstanceProfileID: Int? = nil) {
        self.id = id
        self.name = name
        self.gpuInstanceProfileID = gpuInstanceProfileID
    }
}
