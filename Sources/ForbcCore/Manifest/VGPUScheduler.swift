/// NVIDIA's time-sliced vGPU scheduler of one physical GPU, as a manifest declares it and as NVML reports it.
///
/// The interface is NVML's (R535 / vGPU 16 and later): `nvmlDeviceGetVgpuSchedulerCapabilities`,
/// `nvmlDeviceGetVgpuSchedulerState` and `nvmlDeviceSetVgpuSchedulerState`
/// (https://docs.nvidia.com/deploy/nvml-api/group__nvmlVgpu.html). Its documentation says that the state may be set
/// "only when no VM is running" and "won't persist across module load/unload": forbc refuses a change while a
/// running domain holds one of the GPU's vGPUs, and its boot-time apply sets it again after a reboot. The older
/// interface, the `RmPVMRL` registry key in `NVreg_RegistryDwords`, takes effect only when the nvidia module is
/// loaded again, which unloads every vGPU: forbc does not use it.

/// A scheduler policy (NVML's `NVML_VGPU_SCHEDULER_POLICY_*`; the names of NVIDIA AI Enterprise's
/// "Scheduling Policies" page).
public enum VGPUSchedulerPolicy: String, Sendable, Codable, CaseIterable {
    case bestEffort, equalShare, fixedShare

    /// NVML's number for the policy: BEST_EFFORT 1, EQUAL_SHARE 2, FIXED_SHARE 3.
    public var nvml: UInt32 {
        switch self {
        case .bestEffort: 1
        case .equalShare: 2
        case .fixedShare: 3
        }
    }

    public init?(nvml: UInt32) {
        guard let policy = Self.allCases.first(where: { $0.nvml == nvml }) else { return nil }
        self = policy
    }

    /// Whether a time slice can be given: NVIDIA's time slice is that of the equal share and fixed share
    /// schedulers; best effort has none to set.
    public var takesTimeslice: Bool { self != .bestEffort }
}

/// `vgpuScheduler: {policy, timesliceMs?}` of a `gpus[]` entry.
public struct VGPUSchedulerSpec: Sendable, Equatable {
    public var policy: VGPUSchedulerPolicy
    /// The time slice in milliseconds (nil: the driver's default).
    public var timesliceMs: Int?
    public var location: SourceLocation

    public init(policy: VGPUSchedulerPolicy, timesliceMs: Int? = nil, location: SourceLocation) {
        self.policy = policy
        self.timesliceMs = timesliceMs
        self.location = location
    }

    /// How plans show the setting: "equalShare", "fixedShare/4ms".
    public var value: String { timesliceMs.map { "\(policy.rawValue)/\($0)ms" } ?? policy.rawValue }
}

/// What NVML reports of a GPU's vGPU scheduler: its state and its capabilities.
public struct VGPUSchedulerState: Sendable, Codable, Equatable {
    /// nil when NVML reports a policy forbc does not know (0, UNKNOWN: no vGPU scheduling yet).
    public var policy: VGPUSchedulerPolicy?
    /// The time slice in nanoseconds, as configured or the default (0 when nothing is scheduled).
    public var timesliceNs: Int
    /// `supportedSchedulers` of nvmlVgpuSchedulerCapabilities_t.
    public var supported: [VGPUSchedulerPolicy]
    /// `minTimeslice` and `maxTimeslice` of nvmlVgpuSchedulerCapabilities_t, in nanoseconds.
    public var minTimesliceNs: Int
    public var maxTimesliceNs: Int
    /// Whether the GPU is in heterogeneous (mixed-size) vGPU mode (`nvmlDeviceGetVgpuHeterogeneousMode`).
    public var heterogeneous: Bool

    public init(
        policy: VGPUSchedulerPolicy?, timesliceNs: Int, supported: [VGPUSchedulerPolicy], minTimesliceNs: Int,
        maxTimesliceNs: Int, heterogeneous: Bool = false
    ) {
        self.policy = policy
        self.timesliceNs = timesliceNs
        self.supported = supported
        self.minTimesliceNs = minTimesliceNs
        self.maxTimesliceNs = maxTimesliceNs
        self.heterogeneous = heterogeneous
    }

    /// Whether the GPU already schedules as `spec` declares (a time slice counts only where one is declared).
    public func satisfies(_ spec: VGPUSchedulerSpec) -> Bool {
        guard policy == spec.policy else { return false }
        guard let ms = spec.timesliceMs else { return true }
        return timesliceNs == ms * 1_000_000
    }

    /// How plans and drift show the current state: "bestEffort", "equalShare/2ms".
    public var value: String {
        guard let policy else { return "unknown" }
        return policy.takesTimeslice && timesliceNs > 0 && timesliceNs % 1_000_000 == 0
            ? "\(policy.rawValue)/\(timesliceNs / 1_000_000)ms" : policy.rawValue
    }
}
