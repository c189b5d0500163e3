import ForbcCore
import Foundation

/// The vendor drivers' own sysfs files in the simulated tree: amdgpu's partition mode files under the PCI device,
/// KFD's topology and processes under /sys/class/kfd, and i915's `prelim_iov/` tree under /sys/class/drm/cardN.
extension SimTree {
    /// amdgpu's partition files of a PF bound to amdgpu (the driver makes them, so an unbound device has none).
    func amdAttributes(_ device: SimDevice) -> [String: Node] {
        guard device.driver == "amdgpu", let amd = device.amd else { return [:] }
        return [
            "current_compute_partition": .file(amd.compute + "\n", .vendor(.computePartition(pf: device.address))),
            "available_compute_partition": .file(amd.availableCompute.joined(separator: ", ") + "\n", nil),
            "current_memory_partition": .file(amd.memory + "\n", .vendor(.memoryPartition(pf: device.address))),
            "available_memory_partition": .file(amd.memoryModes.joined(separator: ", ") + "\n", nil),
        ]
    }

    /// `xgmi_hive_info/` of an amdgpu device in a hive (`rest` is below it).
    func hiveNode(_ device: SimDevice, _ rest: [Substring]) -> Node? {
        guard device.driver == "amdgpu", let hive = device.amd?.hive else { return nil }
        guard let first = rest.first else { return .directory(["xgmi_hive_id"]) }
        return first == "xgmi_hive_id" && rest.count == 1 ? .file(hive + "\n", nil) : nil
    }

    var amdDevices: [SimDevice] {
        model.devices.filter { $0.driver == "amdgpu" && $0.amd != nil }.sorted { $0.address < $1.address }
    }

    var iovDevices: [SimDevice] { model.devices.filter { $0.driver == "i915" && $0.iov != nil } }

    /// The classes besides mdev_bus that the simulated devices make.
    var vendorClasses: [String] {
        (iovDevices.isEmpty ? [] : ["drm"]) + (model.devices.contains { $0.amd != nil } ? ["kfd"] : [])
    }

    /// `/sys/class/drm/...` and `/sys/class/kfd/...` (`rest` starts at "class").
    func vendorClassNode(_ rest: [Substring]) -> Node? {
        switch rest[1] {
        case "drm" where vendorClasses.contains("drm"): drmNode(Array(rest.dropFirst(2)))
        case "kfd" where vendorClasses.contains("kfd"): kfdNode(Array(rest.dropFirst(2)))
        default: nil
        }
    }

    /// `/sys/class/drm`: a link `cardN` to the card under each i915 PF with SR-IOV provisioning.
    func drmNode(_ rest: [Substring]) -> Node? {
        guard let first = rest.first else { return .directory(iovDevices.map { "card\($0.iov!.card)" }) }
        guard let device = iovDevices.first(where: { "card\($0.iov!.card)" == first }) else { return nil }
        if rest.count == 1 { return .link("../../bus/pci/devices/\(device.address)/drm/\(first)") }
        return pciDRMNode(device, Array(rest))
    }

    /// A PF's `drm/` directory (`rest` is below it): `cardN` with its `device` link and `prelim_iov/`.
    func pciDRMNode(_ device: SimDevice, _ rest: [Substring]) -> Node? {
        guard device.driver == "i915", let iov = device.iov else { return nil }
        let card = "card\(iov.card)"
        guard let first = rest.first else { return .directory([card]) }
        guard first == card else { return nil }
        guard rest.count > 1 else { return .directory(["device", "prelim_iov"]) }
        switch rest[1] {
        case "device" where rest.count == 2: return .link("../../../\(device.address)")
        case "prelim_iov": return iovNode(device, iov, Array(rest.dropFirst(2)))
        default: return nil
        }
    }

    func iovNode(_ device: SimDevice, _ iov: SimIOV, _ rest: [Substring]) -> Node? {
        guard let first = rest.first else { return .directory(["pf"] + iov.vfs.indices.map { "vf\($0 + 1)" }) }
        if first == "pf" {
            switch rest.count {
            case 1: return .directory([SimIOV.gt])
            case 2 where rest[1] == SimIOV.gt: return .directory(["available"])
            case 3 where rest[1] == SimIOV.gt && rest[2] == "available":
                return .directory(iov.available.keys.map { $0.replacingOccurrences(of: "_quota", with: "_max_quota") })
            case 4 where rest[1] == SimIOV.gt && rest[2] == "available":
                let quota = rest[3].replacingOccurrences(of: "_max_quota", with: "_quota")
                return iov.available[quota].map { .file("\($0)\n", nil) }
            default: return nil
            }
        }
        guard first.hasPrefix("vf"), let vf = Int(first.dropFirst(2)), vf >= 1, vf <= iov.vfs.count else { return nil }
        switch rest.count {
        case 1: return .directory([SimIOV.gt])
        case 2 where rest[1] == SimIOV.gt: return .directory(SimIOV.attributes)
        case 3 where rest[1] == SimIOV.gt:
            let attribute = String(rest[2])
            guard let value = iov.vfs[vf - 1][attribute] else { return nil }
            return .file("\(value)\n", .vendor(.iovSetting(pf: device.address, vf: vf, attribute: attribute)))
        default: return nil
        }
    }

    /// `/sys/class/kfd/kfd`: `topology/nodes/N/{gpu_id,properties}` (node 0 the CPU, then one per compute
    /// partition of each amdgpu device, as KFD makes them) and `proc/PID/vram_GPUID`.
    func kfdNode(_ rest: [Substring]) -> Node? {
        guard let first = rest.first else { return .directory(["kfd"]) }
        guard first == "kfd" else { return nil }
        guard rest.count > 1 else { return .directory(["proc", "topology"]) }
        var nodes: [(gpuID: Int, properties: String)] = [(0, "cpu_cores_count 64\nsimd_count 0\n")]
        for device in amdDevices {
            let amd = device.amd!
            let location = PCILocation(device.address)
            for k in 0..<amd.partitions {
                nodes.append(
                    (amd.gpuIDBase + k, "domain \(location.domain)\nlocation_id \(location.id)\nsimd_count 304\n"))
            }
        }
        if rest[1] == "topology" {
            if rest.count == 2 { return .directory(["nodes"]) }
            guard rest[2] == "nodes" else { return nil }
            if rest.count == 3 { return .directory(nodes.indices.map(String.init)) }
            guard let n = Int(rest[3]), nodes.indices.contains(n) else { return nil }
            if rest.count == 4 { return .directory(["gpu_id", "properties"]) }
            switch rest[4] {
            case "gpu_id" where rest.count == 5: return .file("\(nodes[n].gpuID)\n", nil)
            case "properties" where rest.count == 5: return .file(nodes[n].properties, nil)
            default: return nil
            }
        }
        guard rest[1] == "proc" else { return nil }
        var processes: [Int: [Int]] = [:]
        for device in amdDevices {
            for pid in device.amd!.kfdProcesses { processes[pid, default: []].append(device.amd!.gpuIDBase) }
        }
        if rest.count == 2 { return .directory(processes.keys.sorted().map(String.init)) }
        guard let pid = Int(rest[2]), let ids = processes[pid] else { return nil }
        let files = ["pasid"] + ids.map { "vram_\($0)" }
        if rest.count == 3 { return .directory(files) }
        guard rest.count == 4, files.contains(String(rest[3])) else { return nil }
        return .file("0\n", nil)
    }
}

/// A PCI address as KFD's topology shows it: the domain, and `location_id` = bus << 8 | device << 3 | function.
struct PCILocation {
    var domain = 0
    var id = 0

    init(_ address: String) {
        let parts = address.split(separator: ":")
        guard parts.count == 3 else { return }
        let devfn = parts[2].split(separator: ".")
        domain = Int(parts[0], radix: 16) ?? 0
        let bus = Int(parts[1], radix: 16) ?? 0
        let device = devfn.first.flatMap { Int($0, radix: 16) } ?? 0
        let function = devfn.dropFirst().first.flatMap { Int($0, radix: 16) } ?? 0
        id = bus << 8 | device << 3 | function
    }
}
