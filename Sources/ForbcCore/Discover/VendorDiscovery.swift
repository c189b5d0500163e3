/// Discovery of the vendor drivers' own partitioning files: amdgpu's compute and memory partition modes (with the
/// KFD processes that use the device) and i915's SR-IOV VF provisioning tree.

/// An AMD Instinct GPU's partition modes, from the files amdgpu creates under the PCI device
/// (drivers/gpu/drm/amd/amdgpu/amdgpu_gfx.c and amdgpu_gmc.c).
public struct AMDPartitionState: Sendable, Codable, Equatable {
    /// `current_compute_partition` ("SPX", "CPX", …).
    public var compute: String
    /// `available_compute_partition`: the modes the driver accepts now (they depend on the memory mode).
    public var availableCompute: [String]
    /// `current_memory_partition` ("NPS1", …); nil where the device has no memory partition modes.
    public var memory: String?
    /// `available_memory_partition`; empty where the mode cannot be switched (the file is absent then).
    public var availableMemory: [String]
    /// The accelerator complex dies (XCCs) of the device, where forbc knows the model; they decide how many
    /// partitions each compute mode makes.
    public var xccs: Int?
    /// Processes that hold the device through KFD (ROCm), by pid: `/sys/class/kfd/kfd/proc/PID/vram_GPUID` for a
    /// GPU id of this device's KFD topology nodes. amdgpu refuses a compute mode change while any runs (EBUSY).
    public var kfdProcesses: [Int]
    /// The KFD topology nodes of the device, by `gpu_id` in node order: one per compute partition, the devices
    /// ROCm sees (/sys/class/kfd/kfd/topology/nodes/N, whose `properties` carry the GPU's PCI location).
    public var kfdNodes: [Int] = []
    /// The XGMI hive the GPU belongs to (`xgmi_hive_info/xgmi_hive_id`, drivers/gpu/drm/amd/amdgpu/amdgpu_xgmi.c),
    /// nil when it is in none.
    public var hive: String? = nil

    /// The compute partitions the current mode makes (nil when the XCCs are unknown).
    public var partitions: Int? {
        guard let xccs, let mode = AMDComputeMode(rawValue: compute) else { return nil }
        return mode.partitions(xccs: xccs)
    }

    /// XCCs per device id: AMD's partitioning documentation ("An MI300X has 8 XCDs. An MI300A has 6 XCDs.",
    /// https://rocm.docs.amd.com/projects/amdsmi/en/latest/conceptual/partition.html, "Physical die types").
    static let xccsByDevice: [String: Int] = ["0x74a1": 8, "0x74a0": 6]
}

/// Intel SR-IOV provisioning through i915's sysfs tree under `/sys/class/drm/cardN/prelim_iov/` (the
/// backports driver Intel ships for Data Center GPU Flex) or `iov/`: `pf/gtM/available/*_max_quota`, and for each
/// VF `vfN/gtM/{lmem,ggtt,contexts,doorbells}_quota`, `exec_quantum_ms`, `preempt_timeout_us`.
public struct IOVProvisioningState: Sendable, Codable, Equatable {
    /// The directory of the tree, e.g. "/sys/class/drm/card1/prelim_iov".
    public var root: String
    /// The GT directories of the device: "gt" on a single-tile device (Flex), "gt0", "gt1" … on a multi-tile one
    /// (intel-gpu-i915-backports, gt/iov/intel_iov_sysfs.c).
    public var gts: [String]
    /// `pf/GT/available/X_max_quota` (GT the first of `gts`) for each quota attribute X_quota (lmem, ggtt,
    /// contexts, doorbells).
    public var available: [String: UInt64]
    /// For VF 1, 2, … (1-based in sysfs; index 0 here is vf1): each attribute of its first GT and its value.
    public var vfs: [[String: String]]

    /// What VF `vf` (1-based) holds for `attribute`, when known.
    public func setting(vf: Int, _ attribute: String) -> String? {
        vf >= 1 && vf <= vfs.count ? vfs[vf - 1][attribute] : nil
    }

    /// The path of one VF setting (VF numbers are 1-based).
    public func path(vf: Int, gt: String, _ attribute: String) -> String { "\(root)/vf\(vf)/\(gt)/\(attribute)" }
}

extension Discovery {
    /// The attributes of the VF setting directories forbc reads.
    public static let iovAttributes = [
        "lmem_quota", "ggtt_quota", "contexts_quota", "doorbells_quota", "exec_quantum_ms", "preempt_timeout_us",
    ]

    /// amdgpu's partition files of `address`, or nil when it has none (not an Instinct with partition modes, or
    /// not bound to amdgpu).
    func readAMDPartition(_ address: String, deviceID: String) throws -> AMDPartitionState? {
        guard let compute = try sysfs.value(SysPath.pci(address, "current_compute_partition")) else { return nil }
        func modes(_ attribute: String) throws -> [String] {
            (try sysfs.value(SysPath.pci(address, attribute)) ?? "").split(separator: ",")
                .map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        }
        let nodes = try kfdNodes(of: address)
        return AMDPartitionState(
            compute: compute, availableCompute: try modes("available_compute_partition"),
            memory: try sysfs.value(SysPath.pci(address, "current_memory_partition")),
            availableMemory: try modes("available_memory_partition"),
            xccs: AMDPartitionState.xccsByDevice[deviceID], kfdProcesses: try kfdProcesses(using: nodes),
            kfdNodes: nodes, hive: try sysfs.value(SysPath.pci(address, "xgmi_hive_info/xgmi_hive_id")))
    }

    /// The `gpu_id`s of the KFD topology nodes of `address`, in node order: KFD's topology nodes carry the PCI
    /// location of their GPU (`properties`: `domain`, `location_id` = bus << 8 | devfn) and a `gpu_id`
    /// (drivers/gpu/drm/amd/amdkfd/kfd_topology.c).
    func kfdNodes(of address: String) throws -> [Int] {
        let parts = address.split(separator: ":")
        let devfn = parts.count == 3 ? parts[2].split(separator: ".") : []
        guard parts.count == 3, devfn.count == 2, let domain = Int(parts[0], radix: 16),
            let bus = Int(parts[1], radix: 16), let device = Int(devfn[0], radix: 16),
            let function = Int(devfn[1], radix: 16)
        else { return [] }
        let location = bus << 8 | device << 3 | function
        let nodes = "/sys/class/kfd/kfd/topology/nodes"
        var ids: [Int] = []
        for node in try sysfs.entries(nodes).sorted(by: { (Int($0) ?? 0) < (Int($1) ?? 0) }) {
            guard let id = try sysfs.value("\(nodes)/\(node)/gpu_id").flatMap({ Int($0) }), id != 0,
                let properties = try sysfs.value("\(nodes)/\(node)/properties")
            else { continue }
            var fields: [String: Int] = [:]
            for line in properties.split(separator: "\n") {
                let pair = line.split(separator: " ")
                if pair.count == 2, let value = Int(pair[1]) { fields[String(pair[0])] = value }
            }
            if fields["location_id"] == location && (fields["domain"] ?? 0) == domain { ids.append(id) }
        }
        return ids
    }

    /// The pids of KFD processes that use the GPU of these KFD `gpu_id`s: a process has `vram_GPUID` under
    /// `/sys/class/kfd/kfd/proc/PID/` for each GPU it opened (drivers/gpu/drm/amd/amdkfd/kfd_process.c).
    func kfdProcesses(using nodes: [Int]) throws -> [Int] {
        let ids = Set(nodes.map(String.init))
        guard !ids.isEmpty else { return [] }
        var pids: [Int] = []
        for pid in try sysfs.entries("/sys/class/kfd/kfd/proc") {
            guard let number = Int(pid) else { continue }
            let files = try sysfs.entries("/sys/class/kfd/kfd/proc/\(pid)")
            if files.contains(where: { $0.hasPrefix("vram_") && ids.contains(String($0.dropFirst(5))) }) {
                pids.append(number)
            }
        }
        return pids.sorted()
    }

    /// i915's SR-IOV provisioning tree of the DRM card whose `device` is `address`, or nil when it has none.
    func readIOV(_ address: String, totalVFs: Int) throws -> IOVProvisioningState? {
        let drm = "/sys/class/drm"
        for card in try sysfs.entries(drm) where card.hasPrefix("card") && Int(card.dropFirst(4)) != nil {
            guard try sysfs.linkName("\(drm)/\(card)/device") == address else { continue }
            for name in ["prelim_iov", "iov"] {
                let root = "\(drm)/\(card)/\(name)"
                let gts = try sysfs.entries("\(root)/pf").filter { $0.hasPrefix("gt") }
                guard let first = gts.first else { continue }
                var available: [String: UInt64] = [:]
                for quota in VFProvisioning.quotaAttributes {
                    let base = quota.replacingOccurrences(of: "_quota", with: "")
                    if let text = try sysfs.value("\(root)/pf/\(first)/available/\(base)_max_quota"),
                        let value = UInt64(text)
                    {
                        available[quota] = value
                    }
                }
                // Only the VF directories the tree has are read: totalVFs (at most 65535, checked where read) bounds
                // the list, not the number of reads.
                let present = Set(try sysfs.entries(root))
                var vfs: [[String: String]] = []
                for vf in 1...max(totalVFs, 1) where totalVFs > 0 {
                    var settings: [String: String] = [:]
                    for attribute in Self.iovAttributes where present.contains("vf\(vf)") {
                        settings[attribute] = try sysfs.value("\(root)/vf\(vf)/\(first)/\(attribute)")
                    }
                    vfs.append(settings)
                }
                return IOVProvisioningState(root: root, gts: gts, available: available, vfs: vfs)
            }
        }
        return nil
    }
}
