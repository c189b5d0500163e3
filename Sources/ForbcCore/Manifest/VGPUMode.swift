/// NVIDIA's time-sliced vGPU modes of one physical GPU (vGPU 17 and later, Ada and Hopper): equal-size, the
/// default, where every vGPU on the GPU has one type, and mixed-size ("heterogeneous" in NVML), where vGPUs of
/// different frame-buffer sizes share the GPU at placement IDs.
///
/// The interface is NVML's: `nvmlDeviceGetVgpuHeterogeneousMode` and `nvmlDeviceSetVgpuHeterogeneousMode` (the
/// mode), `nvmlDeviceGetVgpuTypeSupportedPlacements` with `nvmlVgpuPlacementList_v2_t` (per type: `placementSize`,
/// "the number of slots occupied by the vGPU type", and `placementIds`, the slots where it may start), NVML API
/// reference, "vGPU APIs". NVIDIA's kernel interface documents `NV_ERR_IN_USE` for the mode change
/// (`NV0080_CTRL_CMD_GPU_SET_VGPU_HETEROGENEOUS_MODE`, open-gpu-kernel-modules): forbc changes it only while the
/// GPU holds no vGPU.
public enum VGPUMode: String, Sendable, Codable, CaseIterable {
    /// NVIDIA's "equal-size mode" (vSphere: sameSize): one vGPU type per GPU.
    case equalSize
    /// NVIDIA's "mixed-size mode" (vSphere: mixedSize; NVML: heterogeneous).
    case mixedSize
}

/// `vgpuMode: mixedSize | equalSize` of a `gpus[]` entry.
public struct VGPUModeSpec: Sendable, Equatable {
    public var mode: VGPUMode
    public var location: SourceLocation

    public init(mode: VGPUMode, location: SourceLocation) {
        self.mode = mode
        self.location = location
    }
}

/// Where one vGPU type may go in mixed-size mode (`nvmlVgpuPlacementList_v2_t`, mode heterogeneous).
public struct VGPUPlacementRule: Sendable, Codable, Equatable {
    /// `placementSize`: the slots a vGPU of the type occupies.
    public var size: Int
    /// `placementIds`: the slots where it may start.
    public var ids: [Int]

    public init(size: Int, ids: [Int]) {
        self.size = size
        self.ids = ids
    }
}

/// A GPU's mixed-size state as NVML reports it.
public struct VGPUPlacementState: Sendable, Codable, Equatable {
    /// `nvmlDeviceGetVgpuHeterogeneousMode`.
    public var heterogeneous: Bool
    /// vGPU type id → its placements in heterogeneous mode (types without any are left out).
    public var rules: [Int: VGPUPlacementRule]
    /// In heterogeneous mode, each active vGPU instance's type and placement ID (`nvmlDeviceGetActiveVgpus`,
    /// `nvmlVgpuInstanceGetType`, `nvmlVgpuInstanceGetPlacementId`); nil in equal-size mode or where NVML lacks
    /// the calls. NVML documents no link from an instance to its host VF, so these are per GPU, not per VF.
    public var active: [VGPUActivePlacement]?

    public init(heterogeneous: Bool, rules: [Int: VGPUPlacementRule], active: [VGPUActivePlacement]? = nil) {
        self.heterogeneous = heterogeneous
        self.rules = rules
        self.active = active
    }
}

/// One active vGPU instance of a GPU in mixed-size mode: its type id and placement ID.
public struct VGPUActivePlacement: Sendable, Codable, Equatable, Hashable {
    public var type: Int
    public var placement: Int

    public init(type: Int, placement: Int) {
        self.type = type
        self.placement = placement
    }
}
