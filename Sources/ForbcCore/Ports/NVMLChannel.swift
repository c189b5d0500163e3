/// The seam to NVML: real (dlopen of libnvidia-ml.so.1) or simulated.
public protocol NVMLChannel: Sendable {
    /// Every NVML device by PCI address ("0000:00:06.0"), with its MIG state.
    func devices() throws -> [String: MIGState]
    /// nvmlDeviceCreateGpuInstanceWithPlacement, then compute instances over it: those of `computeInstances`
    /// sizes, or `computeCount` (nil: as many as fit) of `computeSlices` slices each (nil: one over the whole
    /// instance). Returns the new instance.
    func createInstance(
        device: Int, profileID: Int, placement: MIGPlacement, computeSlices: Int?, computeCount: Int?,
        computeInstances: [Int]?
    ) throws -> MIGInstance
    /// Destroys the compute instances of a GPU instance, then the instance.
    func destroyInstance(device: Int, instanceID: Int) throws
    /// nvmlDeviceSetMigMode; returns whether the change is pending (a reset applies it).
    func setMIGMode(device: Int, enabled: Bool) throws -> Bool
    /// Resets the GPU, applying a pending MIG mode (only when asked for).
    func resetGPU(device: Int) throws
    /// nvmlDeviceGetVgpuSchedulerCapabilities and nvmlDeviceGetVgpuSchedulerState; nil where the GPU has no vGPU
    /// scheduler (no vGPU manager: NVML_ERROR_NOT_SUPPORTED, or an NVML older than R535).
    func vgpuScheduler(device: Int) throws -> VGPUSchedulerState?
    /// nvmlDeviceGetSupportedVgpus with each type's name and GPU-instance profile; empty where the GPU has no vGPU
    /// manager.
    func vgpuTypes(device: Int) throws -> [NVMLVGPUType]
    /// nvmlDeviceSetVgpuSchedulerState with adaptive round robin off and `timesliceNs` (0: the driver's default).
    func setVGPUScheduler(device: Int, policy: VGPUSchedulerPolicy, timesliceNs: Int) throws
    /// nvmlDeviceGetVgpuHeterogeneousMode and, per supported vGPU type, nvmlDeviceGetVgpuTypeSupportedPlacements
    /// in heterogeneous mode, with each active vGPU's type and placement ID in that mode (nvmlDeviceGetActiveVgpus,
    /// nvmlVgpuInstanceGetPlacementId); nil where the GPU has no such mode (no vGPU manager, an NVML before R550,
    /// MIG mode).
    func vgpuPlacements(device: Int) throws -> VGPUPlacementState?
    /// nvmlDeviceGetVgpuTypeCreatablePlacements in heterogeneous mode: the placement IDs where a vGPU of the type can
    /// be created now.
    func creatablePlacements(device: Int, type: Int) throws -> [Int]
    /// nvmlDeviceSetVgpuHeterogeneousMode (refused while the GPU holds a vGPU).
    func setVGPUHeterogeneousMode(device: Int, enabled: Bool) throws
    var summary: String { get }
}

extension NVMLChannel {
    /// A GPU instance with as many compute instances of `computeSlices` as fit.
    public func createInstance(device: Int, profileID: Int, placement: MIGPlacement, computeSlices: Int?) throws
        -> MIGInstance
    {
        try createInstance(
            device: device, profileID: profileID, placement: placement, computeSlices: computeSlices, computeCount: nil,
            computeInstances: nil)
    }
}

/// NVML return codes forbc reports by name.
public enum NVMLReturn {
    public static let names: [Int32: String] = [
        1: "NVML_ERROR_UNINITIALIZED", 2: "NVML_ERROR_INVALID_ARGUMENT", 3: "NVML_ERROR_NOT_SUPPORTED",
        4: "NVML_ERROR_NO_PERMISSION", 6: "NVML_ERROR_NOT_FOUND", 7: "NVML_ERROR_INSUFFICIENT_SIZE",
        9: "NVML_ERROR_DRIVER_NOT_LOADED", 12: "NVML_ERROR_LIBRARY_NOT_FOUND", 13: "NVML_ERROR_FUNCTION_NOT_FOUND",
        15: "NVML_ERROR_GPU_IS_LOST", 19: "NVML_ERROR_IN_USE", 22: "NVML_ERROR_VGPU_ECC_NOT_SUPPORTED",
        23: "NVML_ERROR_INSUFFICIENT_RESOURCES", 25: "NVML_ERROR_ARGUMENT_VERSION_MISMATCH", 999: "NVML_ERROR_UNKNOWN",
    ]
    public static let invalidArgument: Int32 = 2, notSupported: Int32 = 3, notFound: Int32 = 6, inUse: Int32 = 19
    public static let insufficientSize: Int32 = 7, functionNotFound: Int32 = 13, argumentVersionMismatch: Int32 = 25
    public static let insufficientResources: Int32 = 23

    public static func error(_ call: String, _ code: Int32, detail: String? = nil) -> ForbcError {
        ForbcError(
            code == notSupported ? .unsupported : .system,
            "NVML: \(call) failed: \(detail ?? names[code] ?? "error \(code)") (\(names[code] ?? "\(code)"))",
            errno: code)
    }
}
