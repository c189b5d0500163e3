/// AMD Instinct partition modes and Intel SR-IOV VF provisioning: the manifest's side of the two vendor backends
/// that partition through the vendor driver's own sysfs files rather than mdev or MIG.

/// `amdPartition: {name?, compute, memory?}`: an AMD Instinct GPU's compute partition mode (amdgpu's
/// `current_compute_partition`) and memory partition mode (`current_memory_partition`). The compute partitions
/// are named `NAME-0` … `NAME-(N-1)` (default name `xcp`), N the partitions the mode makes on the device.
public struct AMDPartitionSpec: Sendable, Equatable {
    public var name: String
    public var compute: AMDComputeMode
    /// nil: the memory partition mode is left as it is (the compute mode must suit it).
    public var memory: AMDMemoryMode?
    public var location: SourceLocation

    public init(name: String = "xcp", compute: AMDComputeMode, memory: AMDMemoryMode?, location: SourceLocation) {
        self.name = name
        self.compute = compute
        self.memory = memory
        self.location = location
    }
}

/// amdgpu's compute partition modes, as `available_compute_partition` spells them (drivers/gpu/drm/amd/amdgpu/
/// amdgpu_gfx.c): how many XCCs (accelerator complex dies) each partition gets.
public enum AMDComputeMode: String, Sendable, Codable, CaseIterable {
    /// All XCCs as one device.
    case spx = "SPX"
    /// Two partitions.
    case dpx = "DPX"
    /// Three partitions (MI300A: two of its six XCCs each).
    case tpx = "TPX"
    /// Four partitions.
    case qpx = "QPX"
    /// One partition per XCC.
    case cpx = "CPX"

    /// How many partitions the mode makes of a device with `xccs` XCCs (amdgpu: num_xcp = num_xcc / num_xcc_per_xcp).
    public func partitions(xccs: Int) -> Int {
        switch self {
        case .spx: 1
        case .dpx: 2
        case .tpx: 3
        case .qpx: 4
        case .cpx: xccs
        }
    }

    /// The memory partition modes this compute mode works with, as the amdgpu driver decides it for the
    /// MI300 family (drivers/gpu/drm/amd/amdgpu/aqua_vanjaram.c, `__aqua_vanjaram_is_valid_mode`: SPX needs one
    /// memory partition; DPX at most two; TPX one or three, NPS4 making three on an APU; QPX and CPX one or four).
    public var memoryModes: [AMDMemoryMode] {
        switch self {
        case .spx: [.nps1]
        case .dpx: [.nps1, .nps2]
        case .tpx: [.nps1, .nps4]
        case .qpx, .cpx: [.nps1, .nps4]
        }
    }
}

/// amdgpu's memory partition modes (NUMA nodes per socket), as `available_memory_partition` spells them
/// (drivers/gpu/drm/amd/amdgpu/amdgpu_gmc.c, `nps_desc`).
public enum AMDMemoryMode: String, Sendable, Codable, CaseIterable {
    case nps1 = "NPS1"
    case nps2 = "NPS2"
    case nps4 = "NPS4"
    case nps8 = "NPS8"
}

/// `sriov.perVF`: resources the PF driver provisions for each VF before the VFs are enabled (i915's
/// `prelim_iov/vfN/gtM/*_quota`, `exec_quantum_ms`, `preempt_timeout_us`). A resource left out is provisioned by
/// the driver itself (its automatic provisioning when every quota is 0).
public struct VFProvisioning: Sendable, Equatable {
    /// `lmem_quota`: local (device) memory in bytes.
    public var localMemory: UInt64?
    /// `ggtt_quota`: global graphics translation table space in bytes.
    public var ggtt: UInt64?
    /// `contexts_quota`: GuC submission contexts.
    public var contexts: Int?
    /// `doorbells_quota`: GuC doorbells.
    public var doorbells: Int?
    /// `exec_quantum_ms`: the VF's execution quantum (0: unlimited).
    public var execQuantumMs: Int?
    /// `preempt_timeout_us`: how long a VF may take to yield when preempted (0: unlimited).
    public var preemptTimeoutUs: Int?
    public var location: SourceLocation

    public init(
        localMemory: UInt64? = nil, ggtt: UInt64? = nil, contexts: Int? = nil, doorbells: Int? = nil,
        execQuantumMs: Int? = nil, preemptTimeoutUs: Int? = nil, location: SourceLocation
    ) {
        self.localMemory = localMemory
        self.ggtt = ggtt
        self.contexts = contexts
        self.doorbells = doorbells
        self.execQuantumMs = execQuantumMs
        self.preemptTimeoutUs = preemptTimeoutUs
        self.location = location
    }

    /// Each declared setting as (the i915 attribute under `vfN/gtM/`, the manifest key, the value as written).
    public var settings: [(attribute: String, key: String, value: String)] {
        var list: [(String, String, String)] = []
        if let localMemory { list.append(("lmem_quota", "localMemory", "\(localMemory)")) }
        if let ggtt { list.append(("ggtt_quota", "ggtt", "\(ggtt)")) }
        if let contexts { list.append(("contexts_quota", "contexts", "\(contexts)")) }
        if let doorbells { list.append(("doorbells_quota", "doorbells", "\(doorbells)")) }
        if let execQuantumMs { list.append(("exec_quantum_ms", "execQuantumMs", "\(execQuantumMs)")) }
        if let preemptTimeoutUs { list.append(("preempt_timeout_us", "preemptTimeoutUs", "\(preemptTimeoutUs)")) }
        return list
    }

    /// Whether any of the four resource quotas (not the two scheduling settings) is declared: those the driver
    /// takes only while the VFs are disabled, and whose presence turns its automatic provisioning off.
    public var hasQuotas: Bool { localMemory != nil || ggtt != nil || contexts != nil || doorbells != nil }

    /// The attributes the driver accepts only while VFs are disabled.
    public static let quotaAttributes: Set<String> = ["lmem_quota", "ggtt_quota", "contexts_quota", "doorbells_quota"]

    /// "4G" → 4 GiB in bytes; "512M", "64K", or plain bytes; nil for anything else (or 0, or over 1 TiB).
    public static func bytes(_ text: String) -> UInt64? {
        let units: [Character: UInt64] = ["K": 1 << 10, "M": 1 << 20, "G": 1 << 30]
        var digits = Substring(text)
        var unit: UInt64 = 1
        if let last = text.last, let scale = units[last] {
            unit = scale
            digits = digits.dropLast()
        }
        guard (1...13).contains(digits.count), digits.allSatisfy({ $0.isASCII && $0.isNumber }),
            let number = UInt64(digits), number > 0, number <= (1 << 40) / unit
        else { return nil }
        return number * unit
    }

    /// Bytes as the manifest writes them: the largest unit that divides them ("4G", "512M"), else bytes.
    public static func size(_ bytes: UInt64) -> String {
        for (unit, scale) in [("G", UInt64(1) << 30), ("M", 1 << 20), ("K", 1 << 10)] where bytes % scale == 0 {
            return "\(bytes / scale)\(unit)"
        }
        return "\(bytes)"
    }
}
