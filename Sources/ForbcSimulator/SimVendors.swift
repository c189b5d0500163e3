import ForbcCore
import Foundation

/// An AMD Instinct GPU's partition modes as amdgpu keeps them (drivers/gpu/drm/amd/amdgpu/amdgpu_gfx.c,
/// amdgpu_gmc.c, aqua_vanjaram.c), and the KFD processes that hold it.
public struct SimAMDPartition: Sendable, Codable, Equatable {
    /// Accelerator complex dies (XCCs).
    public var xccs: Int
    public var compute: String
    public var memory: String
    /// A memory mode written to `current_memory_partition` and not yet made: amdgpu makes it when the device is
    /// torn down and probed again ("reload driver to complete the change").
    public var requestedMemory: String?
    /// The compute modes the device has at all (`available_compute_partition` shows those valid with `memory`).
    public var computeModes: [String]
    /// `available_memory_partition`.
    public var memoryModes: [String]
    /// Pids of KFD processes holding the device.
    public var kfdProcesses: [Int]
    /// The KFD `gpu_id` of the device's first partition (the others follow).
    public var gpuIDBase: Int
    /// The XGMI hive id (`xgmi_hive_info/xgmi_hive_id`), when the device is in a hive.
    public var hive: String? = nil

    public init(
        xccs: Int, compute: String, memory: String, computeModes: [String], memoryModes: [String],
        kfdProcesses: [Int] = [], gpuIDBase: Int
    ) {
        self.xccs = xccs
        self.compute = compute
        self.memory = memory
        self.computeModes = computeModes
        self.memoryModes = memoryModes
        self.kfdProcesses = kfdProcesses
        self.gpuIDBase = gpuIDBase
    }

    /// The compute modes amdgpu accepts with the memory mode it has (`__aqua_vanjaram_is_valid_mode`).
    public var availableCompute: [String] {
        let memoryPartitions = AMDMemoryMode(rawValue: memory).map(Self.partitions) ?? 1
        return computeModes.filter { mode in
            AMDComputeMode(rawValue: mode).map { Self.valid($0, xccs: xccs, memoryPartitions: memoryPartitions) }
                ?? false
        }
    }

    /// How many compute partitions (KFD nodes, render nodes) the device shows now.
    public var partitions: Int { AMDComputeMode(rawValue: compute)?.partitions(xccs: xccs) ?? 1 }

    static func partitions(_ mode: AMDMemoryMode) -> Int {
        switch mode {
        case .nps1: 1
        case .nps2: 2
        case .nps4: 4
        case .nps8: 8
        }
    }

    /// aqua_vanjaram.c, `__aqua_vanjaram_is_valid_mode`, for a discrete GPU.
    static func valid(_ mode: AMDComputeMode, xccs: Int, memoryPartitions: Int) -> Bool {
        switch mode {
        case .spx: memoryPartitions == 1
        case .dpx: memoryPartitions <= 2 && xccs % 4 == 0
        case .tpx: (memoryPartitions == 1 || memoryPartitions == 3) && xccs % 3 == 0
        case .qpx: (memoryPartitions == 1 || memoryPartitions == 4) && xccs / 4 >= 2
        case .cpx: xccs > 1 && (memoryPartitions == 1 || memoryPartitions == 4) && xccs % memoryPartitions == 0
        }
    }

    /// The device is torn down (unbind): a requested memory mode is made, the compute mode becomes the one the
    /// driver picks for it (`__aqua_vanjaram_get_auto_mode`: one memory partition → SPX, as many as XCCs → CPX,
    /// half as many → QPX, two → DPX), and the processes that held the device lose it.
    mutating func tornDown() {
        kfdProcesses = []
        guard let requested = requestedMemory else { return }
        requestedMemory = nil
        memory = requested
        let partitions = AMDMemoryMode(rawValue: requested).map(Self.partitions) ?? 1
        compute =
            partitions == 1
            ? "SPX" : partitions == xccs ? "CPX" : partitions == xccs / 2 ? "QPX" : partitions == 2 ? "DPX" : compute
    }
}

/// i915's SR-IOV provisioning of a PF (the `prelim_iov/` tree of Intel's backports driver for Data Center GPU Flex).
public struct SimIOV: Sendable, Codable, Equatable {
    /// The DRM card number: the tree is /sys/class/drm/cardN/prelim_iov.
    public var card: Int
    /// What the PF offers for all VFs together, by quota attribute ("lmem_quota" → bytes …).
    public var available: [String: UInt64]
    /// Per VF (index 0 is vf1): attribute → value; 0 is unprovisioned.
    public var vfs: [[String: UInt64]]
    /// Alignment of automatic provisioning, by quota attribute (what the driver rounds a fair share down to).
    public var alignment: [String: UInt64]

    public init(card: Int, available: [String: UInt64], totalVFs: Int, alignment: [String: UInt64]) {
        self.card = card
        self.available = available
        self.alignment = alignment
        let zero = Dictionary(uniqueKeysWithValues: Self.attributes.map { ($0, UInt64(0)) })
        vfs = Array(repeating: zero, count: totalVFs)
    }

    /// The GT directory under `pf/` and `vfN/`: "gt" on a single-tile device such as the Flex 170, "gt0", "gt1" only
    /// where the device has an extra GT list (Data Center GPU Max, Meteor Lake): intel-gpu-i915-backports,
    /// gt/iov/intel_iov_sysfs.c (`HAS_EXTRA_GT_LIST` → "gt%u", else "gt") and i915_pci.c (`.extra_gt_list`).
    static let gt = "gt"

    /// A VF's files: `vf_attrs[]` (ggtt_quota, contexts_quota, doorbells_quota, lmem_quota) and the common
    /// `iov_attrs[]` (exec_quantum_ms, preempt_timeout_us) of intel-gpu-i915-backports' gt/iov/intel_iov_sysfs.c.
    static let attributes = [
        "lmem_quota", "ggtt_quota", "contexts_quota", "doorbells_quota", "exec_quantum_ms", "preempt_timeout_us",
    ]

    /// `sriov_numvfs` changed: enabling VFs none of which has a quota provisions them automatically (a fair share
    /// of what the PF offers, aligned down); disabling releases every VF's quotas.
    mutating func numVFsChanged(to count: Int) {
        let quotas = VFProvisioning.quotaAttributes
        if count == 0 {
            for i in vfs.indices { for quota in quotas { vfs[i][quota] = 0 } }
            return
        }
        guard count <= vfs.count else { return }
        let unprovisioned = vfs.prefix(count).allSatisfy { vf in quotas.allSatisfy { (vf[$0] ?? 0) == 0 } }
        guard unprovisioned else { return }
        for quota in quotas {
            let align = max(alignment[quota] ?? 1, 1)
            let share = (available[quota] ?? 0) / UInt64(count) / align * align
            for i in 0..<count { vfs[i][quota] = share }
        }
    }
}

/// A write to a vendor driver's attribute.
public enum SimVendorWrite: Sendable {
    case computePartition(pf: String)
    case memoryPartition(pf: String)
    /// `prelim_iov/vfN/gt/ATTRIBUTE` (VF 1-based).
    case iovSetting(pf: String, vf: Int, attribute: String)

    func apply(value: String, to model: inout SimulatedHostModel) throws {
        switch self {
        case .computePartition(let pf):
            guard let i = model.devices.firstIndex(where: { $0.address == pf }), var amd = model.devices[i].amd else {
                throw SimErrno(errno: Errno.ENOENT)
            }
            // amdgpu_gfx_set_compute_partition: an unknown or unavailable mode is EINVAL; KFD in use is EBUSY.
            guard amd.availableCompute.contains(value) else { throw SimErrno(errno: Errno.EINVAL) }
            if value == amd.compute { return }
            guard amd.kfdProcesses.isEmpty else { throw SimErrno(errno: Errno.EBUSY) }
            amd.compute = value
            model.devices[i].amd = amd
        case .memoryPartition(let pf):
            guard let i = model.devices.firstIndex(where: { $0.address == pf }), var amd = model.devices[i].amd else {
                throw SimErrno(errno: Errno.ENOENT)
            }
            // current_memory_partition_store: a mode the device does not support is EINVAL; the current mode is
            // skipped; another is recorded as a request for the next load.
            guard amd.memoryModes.contains(value) else { throw SimErrno(errno: Errno.EINVAL) }
            amd.requestedMemory = value == amd.memory ? nil : value
            model.devices[i].amd = amd
        case .iovSetting(let pf, let vf, let attribute):
            try Self.setIOV(value, pf: pf, vf: vf, attribute: attribute, in: &model)
        }
    }

    /// A VF setting: decimal; a quota only while the PF's VFs are disabled (EBUSY) and within what the PF offers
    /// beside the other VFs' quotas (ENOSPC: the simulator's errno, the driver's is not documented).
    static func setIOV(_ value: String, pf: String, vf: Int, attribute: String, in model: inout SimulatedHostModel)
        throws
    {
        guard let i = model.devices.firstIndex(where: { $0.address == pf }), var iov = model.devices[i].iov,
            vf >= 1, vf <= iov.vfs.count
        else { throw SimErrno(errno: Errno.ENOENT) }
        guard let number = UInt64(value) else { throw SimErrno(errno: Errno.EINVAL) }
        if VFProvisioning.quotaAttributes.contains(attribute) {
            guard (model.devices[i].sriov?.numVFs ?? 0) == 0 else { throw SimErrno(errno: Errno.EBUSY) }
            // Summed without trapping: a total past 2^64 is more than any PF offers.
            var total: UInt64? = number
            for other in iov.vfs.indices where other != vf - 1 {
                total = total.flatMap { sum in
                    let next = sum.addingReportingOverflow(iov.vfs[other][attribute] ?? 0)
                    return next.overflow ? nil : next.partialValue
                }
            }
            guard let total, total <= (iov.available[attribute] ?? 0) else { throw SimErrno(errno: Errno.ENOSPC) }
        }
        iov.vfs[vf - 1][attribute] = number
        model.devices[i].iov = iov
    }
}
