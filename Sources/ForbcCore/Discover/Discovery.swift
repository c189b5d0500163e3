import Foundation

/// Read-only discovery of GPUs, their partitioning capabilities and existing partitions, through a sysfs
/// channel. A capability that is absent (no mdev bus, no SR-IOV files) is not an error.
public struct Discovery: Sendable {
    public let sysfs: any SysfsChannel
    public let nvml: (any NVMLChannel)?
    /// PCI functions to inventory even though they are not NVIDIA, AMD or Intel display devices (a manifest
    /// names them by address, e.g. an SR-IOV NVMe controller).
    public let namedAddresses: Set<String>

    public init(sysfs: any SysfsChannel, nvml: (any NVMLChannel)? = nil, namedAddresses: Set<String> = []) {
        self.sysfs = sysfs
        self.nvml = nvml
        self.namedAddresses = namedAddresses
    }

    /// What one PCI function is to discovery.
    enum Found: Sendable {
        case other
        case virtualFunction(String)
        case gpu(GPU, [MdevParent])
    }

    /// Reads the whole inventory. Devices are read side by side where the channel allows it (each read stands alone;
    /// a vendor driver may take milliseconds per attribute); the answer and the first error are a loop's.
    public func inventory() throws -> Inventory {
        let addresses = try sysfs.entries(SysPath.pciDevices).filter { Patterns.isPCIAddress($0) }
        let found = try Concurrently.map(addresses.count, concurrently: sysfs.readsConcurrently) {
            try readFunction(addresses[$0])
        }
        var gpus: [GPU] = []
        var parents: [MdevParent] = []
        var vfAddresses: Set<String> = []
        for item in found {
            switch item {
            case .other: continue
            case .virtualFunction(let address): vfAddresses.insert(address)
            case .gpu(let gpu, let gpuParents):
                gpus.append(gpu)
                parents += gpuParents
            }
        }
        // mdev parents that are not GPUs we read (mtty, mdpy, a device of another class).
        let known = Set(parents.map(\.name)).union(vfAddresses)
        for name in try sysfs.entries(SysPath.mdevBus) where !known.contains(name) && Patterns.isParentName(name) {
            parents.append(MdevParent(name: name, gpu: nil, isVF: false, types: try readTypes(parent: name)))
        }
        let mdevs = try readMdevs(of: parents)
        if let nvml { try addNVML(nvml, to: &gpus) }
        return Inventory(
            gpus: gpus, mdevParents: parents, mdevs: mdevs.sorted { $0.uuid < $1.uuid },
            simulated: sysfs.isSimulated, source: sysfs.summary)
    }

    /// One PCI function: a GPU (with its mdev parents) when it is a display controller (class 0x03xxxx) or a
    /// processing accelerator (0x12xxxx: AMD Instinct MI300X) of a known vendor, or a function the manifest names;
    /// VFs are read through their PF.
    func readFunction(_ address: String) throws -> Found {
        let named = namedAddresses.contains(address)
        guard let classCode = try sysfs.value(SysPath.pci(address, "class")),
            classCode.hasPrefix("0x03") || classCode.hasPrefix("0x12") || named,
            let vendorText = try sysfs.value(SysPath.pci(address, "vendor")),
            let vendorID = UInt16(vendorText.dropFirst(2), radix: 16),
            let vendor = Vendor(pciVendorID: vendorID) ?? (named ? .other : nil)
        else { return .other }
        if sysfs.exists(SysPath.pci(address, "physfn")) { return .virtualFunction(address) }
        let (gpu, parents) = try readGPU(address, vendor: vendor, vendorID: vendorText)
        return .gpu(gpu, parents)
    }

    /// Existing mdevs from each type's devices/ directory: the real kernel's mdev_type link is relative to the
    /// device's own directory ("../mdev_supported_types/mtty-2") and does not name the parent. Parents are listed
    /// side by side where the channel allows it.
    func readMdevs(of parents: [MdevParent]) throws -> [MediatedDevice] {
        let withTypes = parents.filter { !$0.types.isEmpty }
        let listed = try Concurrently.map(withTypes.count, concurrently: sysfs.readsConcurrently) { index in
            let parent = withTypes[index]
            let directory =
                parent.isVF || parent.gpu != nil
                ? SysPath.pci(parent.name, "mdev_supported_types") : SysPath.mdevTypes(parent.name)
            let listings = try sysfs.listings(in: directory, parent.types.map { "\($0.id)/devices" })
            return zip(parent.types, listings).flatMap { type, names in
                names.filter { Patterns.isUUID($0) }.map {
                    MediatedDevice(uuid: $0.lowercased(), parent: parent.name, type: type.id)
                }
            }
        }
        return listed.flatMap { $0 }
    }

    /// MIG state, vGPU types, placements and the scheduler of each GPU NVML knows.
    func addNVML(_ nvml: any NVMLChannel, to gpus: inout [GPU]) throws {
        let states = try nvml.devices()
        for i in gpus.indices {
            gpus[i].mig = states[gpus[i].address]
            if let device = gpus[i].mig?.index {
                gpus[i].vgpuScheduler = try nvml.vgpuScheduler(device: device)
                let types = try nvml.vgpuTypes(device: device)
                gpus[i].vgpuTypes = types.isEmpty ? nil : types
                gpus[i].vgpuPlacements = try nvml.vgpuPlacements(device: device)
            }
        }
    }

    func readGPU(_ address: String, vendor: Vendor, vendorID: String) throws -> (GPU, [MdevParent]) {
        let values = try sysfs.values(
            in: SysPath.pci(address), ["device", "subsystem_device", "numa_node", "sriov_totalvfs"])
        let deviceID = values[0] ?? "0x0000"
        let subsystem = values[1]
        // numa_node is -1 when the platform does not say.
        let numa = try SysfsNumber.check(values[2], SysPath.pci(address, "numa_node"), SysfsNumber.numaNode)
            .flatMap { $0 < 0 ? nil : $0 }
        let group = try SysfsNumber.check(
            try sysfs.linkName(SysPath.pci(address, "iommu_group")), SysPath.pci(address, "iommu_group"),
            SysfsNumber.unsigned32)
        var parents: [MdevParent] = []
        let types = try readTypes(parent: address, base: SysPath.pci(address))
        if !types.isEmpty { parents.append(MdevParent(name: address, gpu: address, isVF: false, types: types)) }

        var sriov: SRIOVState?
        var vfs: [VirtualFunction] = []
        if let total = try SysfsNumber.check(
            values[3], SysPath.pci(address, "sriov_totalvfs"), SysfsNumber.unsigned16)
        {
            let state = try readSRIOV(address, totalVFs: total)
            sriov = state
            for link in try sysfs.entries(SysPath.pci(address)) where link.hasPrefix("virtfn") {
                guard let index = Int(link.dropFirst(6)), (0..<total).contains(index),
                    let vf = try sysfs.linkName(SysPath.pci(address, link)), Patterns.isPCIAddress(vf)
                else { continue }
                let vfTypes = try readTypes(parent: vf, base: SysPath.pci(vf))
                if !vfTypes.isEmpty { parents.append(MdevParent(name: vf, gpu: address, isVF: true, types: vfTypes)) }
                vfs.append(
                    VirtualFunction(
                        address: vf, index: index, driver: try driver(vf), isMdevParent: !vfTypes.isEmpty,
                        vgpu: try readVFvGPU(vf)))
            }
            vfs.sort { $0.index < $1.index }
        }
        var gpu = GPU(
            address: address, vendor: vendor, vendorID: vendorID, deviceID: deviceID, subsystemID: subsystem,
            model: PCIDeviceNames.model(vendorID: vendorID, deviceID: deviceID, vendor: vendor),
            driver: try driver(address), numaNode: numa, iommuGroup: group, sriov: sriov, vfs: vfs,
            isMdevParent: !types.isEmpty, mig: nil)
        if vendor == .amd { gpu.amdPartition = try readAMDPartition(address, deviceID: deviceID) }
        if vendor == .intel, let sriov { gpu.iov = try readIOV(address, totalVFs: sriov.totalVFs) }
        return (gpu, parents)
    }

    /// `sriov_numvfs`, `sriov_offset` and `sriov_stride` of a PF whose `sriov_totalvfs` is `total`: the offset and
    /// stride are 16-bit fields of the SR-IOV capability, and the kernel never enables more VFs than the total.
    func readSRIOV(_ address: String, totalVFs total: Int) throws -> SRIOVState {
        func read(_ name: String, _ range: ClosedRange<Int>) throws -> Int? {
            let path = SysPath.pci(address, name)
            return try SysfsNumber.check(try sysfs.value(path), path, range)
        }
        return SRIOVState(
            totalVFs: total, numVFs: try read("sriov_numvfs", 0...total) ?? 0,
            offset: try read("sriov_offset", SysfsNumber.unsigned16),
            stride: try read("sriov_stride", SysfsNumber.unsigned16))
    }

    func driver(_ address: String) throws -> String? {
        if let name = try sysfs.linkName(SysPath.pci(address, "driver")) { return name }
        // A copied sysfs tree may have lost its links; uevent still names the driver.
        let uevent = try sysfs.value(SysPath.pci(address, "uevent")) ?? ""
        return uevent.split(separator: "\n").first { $0.hasPrefix("DRIVER=") }.map { String($0.dropFirst(7)) }
    }

    /// The mdev types under `base`/mdev_supported_types (a device directory), or under the mdev bus entry.
    func readTypes(parent: String, base: String? = nil) throws -> [MdevType] {
        let directory = base.map { "\($0)/mdev_supported_types" } ?? SysPath.mdevTypes(parent)
        let ids = try sysfs.entries(directory)
        let attributes = ["name", "description", "available_instances", "device_api"]
        // Every type's attributes in one batch beneath the types directory, in the order they were always read.
        let values = try sysfs.values(in: directory, ids.flatMap { id in attributes.map { "\(id)/\($0)" } })
        return try ids.enumerated().map { index, id in
            let value = values[(index * attributes.count)...]
            let first = value.startIndex
            // mdev's available_instances is the driver's unsigned int.
            let available = try SysfsNumber.check(
                value[first + 2], "\(directory)/\(id)/available_instances", SysfsNumber.unsigned32)
            return MdevType(
                id: id, name: value[first] ?? id, description: value[first + 1] ?? "",
                availableInstances: available ?? 0, deviceAPI: value[first + 3] ?? "")
        }
    }

    func readVFvGPU(_ vf: String) throws -> VFvGPU? {
        guard let creatable = try sysfs.value(SysPath.pci(vf, "nvidia/creatable_vgpu_types")) else { return nil }
        // NVIDIA does not document these files' text where a VF has no vGPU (NVML's INVALID_GPU_INSTANCE_ID is
        // 0xFFFFFFFF; a driver printing an int shows -1): words or either of those read as none, a number no
        // driver writes is still an error.
        func read(_ name: String) throws -> Int? {
            let path = SysPath.pci(vf, name)
            guard let text = try sysfs.value(path), Int(text) != nil else { return nil }
            let value = try SysfsNumber.check(text, path, -1...Int(UInt32.max))
            return value == -1 || value == Int(UInt32.max) ? nil : value
        }
        let current = try read("nvidia/current_vgpu_type") ?? 0
        let instance = try read("nvidia/gpu_instance_id")
        return VFvGPU(creatable: Self.parseCreatable(creatable), current: current, gpuInstance: instance)
    }

    /// Parses `creatable_vgpu_types`: a header "ID    : vGPU Name", then lines "ID : NAME".
    public static func parseCreatable(_ text: String) -> [VGPUType] {
        text.split(separator: "\n").compactMap { line in
            let parts = line.split(separator: ":", maxSplits: 1)
            guard parts.count == 2, let id = Int(parts[0].trimmingCharacters(in: .whitespaces)),
                SysfsNumber.unsigned32.contains(id)
            else { return nil }
            return VGPUType(id: id, name: parts[1].trimmingCharacters(in: .whitespaces))
        }
    }
}

/// Numbers read from sysfs, checked where they are read against what the kernel can write there: a value outside
/// the range (a corrupt or hand-made tree under `--root`, a driver bug) is a located error, never arithmetic that
/// overflows or a loop as long as the number.
enum SysfsNumber {
    /// Fields of 16 bits: the SR-IOV capability's TotalVFs, First VF Offset and VF Stride.
    static let unsigned16 = 0...Int(UInt16.max)
    /// A C unsigned int (mdev's available_instances, NVIDIA's vGPU type ids) or a non-negative int (IOMMU groups).
    static let unsigned32 = 0...Int(UInt32.max)
    /// `numa_node`: -1 (NUMA_NO_NODE) or a node below MAX_NUMNODES (1 << CONFIG_NODES_SHIFT, at most 1 << 10).
    static let numaNode = -1...1023

    /// `text` (read from `path`) as a number in `range`; nil when there is no text (the attribute is absent).
    static func check(_ text: String?, _ path: String, _ range: ClosedRange<Int>) throws -> Int? {
        guard let text else { return nil }
        if let value = Int(text), range.contains(value) { return value }
        var shown = ""
        for scalar in text.prefix(40).unicodeScalars {
            shown.unicodeScalars.append(scalar.value < 0x20 || scalar.value == 0x7F ? "?" : scalar)
        }
        throw ForbcError(
            .system,
            "\(path) holds '\(shown)\(text.count > 40 ? "…" : "")', not a number in \(range.lowerBound)…"
                + "\(range.upperBound) as the kernel writes there; check the device, or the tree under '--root'",
            path: path)
    }
}
