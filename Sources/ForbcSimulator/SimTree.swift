import ForbcCore
import Foundation

/// The sysfs tree a simulated host shows, computed from its model on each access, and the write handlers
/// that change the model as the kernel would.
struct SimTree {
    let model: SimulatedHostModel

    enum Node {
        case directory([String])
        case file(String, SimWrite?)
        case link(String)
    }

    // MARK: Lookup

    func node(_ parts: [Substring]) -> Node? {
        guard parts.first == "sys" else { return nil }
        let rest = Array(parts.dropFirst())
        switch rest.count {
        case 0: return .directory(["bus", "class"])
        default: break
        }
        switch rest[0] {
        case "bus":
            if rest.count == 1 { return .directory(hasMdevBus ? ["mdev", "pci"] : ["pci"]) }
            if rest[1] == "pci" {
                if rest.count == 2 { return .directory(["devices", "drivers"]) }
                if rest[2] == "drivers" {
                    // bind/unbind of the PCI drivers the simulated devices use.
                    let drivers = Set(
                        model.devices.compactMap(\.driver) + model.devices.compactMap { $0.sriov?.vfDriver }
                            + ["amdgpu", "i915", "nvidia", "nvme", "vfio-pci"])
                    if rest.count == 3 { return .directory(drivers.sorted()) }
                    guard drivers.contains(String(rest[3])) else { return nil }
                    if rest.count == 4 { return .directory(["bind", "unbind"]) }
                    guard rest.count == 5 else { return nil }
                    switch rest[4] {
                    case "bind": return .file("", .bind(driver: String(rest[3])))
                    case "unbind": return .file("", .unbind(driver: String(rest[3])))
                    default: return nil
                    }
                }
                guard rest[2] == "devices" else { return nil }
                if rest.count == 3 { return .directory(allAddresses) }
                return pciNode(String(rest[3]), Array(rest.dropFirst(4)))
            }
            if rest[1] == "mdev", hasMdevBus {
                if rest.count == 2 { return .directory(["devices"]) }
                guard rest[2] == "devices" else { return nil }
                if rest.count == 3 { return .directory(model.mdevs.map(\.uuid)) }
                // As in the real kernel, each entry is a link to the device under its parent.
                if rest.count == 4, let mdev = model.mdevIndex.byUUID[String(rest[3])] {
                    return .link("../../../\(devicePath(mdev.parent))/\(mdev.uuid)")
                }
                return mdevNode(String(rest[3]), Array(rest.dropFirst(4)))
            }
            return nil
        case "class":
            if rest.count == 1 { return .directory((hasMdevBus ? ["mdev_bus"] : []) + vendorClasses) }
            guard rest[1] == "mdev_bus", hasMdevBus else { return rest[1] == "mdev_bus" ? nil : vendorClassNode(rest) }
            if rest.count == 2 { return .directory(parentNames) }
            let name = String(rest[2])
            if let virtual = model.virtualParents.first(where: { $0.name == name }) {
                if rest.count == 3 { return .directory(["mdev_supported_types"]) }
                guard rest[3] == "mdev_supported_types" else { return nil }
                return typesNode(parent: name, types: virtual.types, Array(rest.dropFirst(4)))
            }
            guard parentNames.contains(name) else { return nil }
            // In real sysfs this entry is a link to the PCI device.
            if rest.count == 3 { return .link("../../bus/pci/devices/\(name)") }
            return pciNode(name, Array(rest.dropFirst(3)))
        default:
            return nil
        }
    }

    var hasMdevBus: Bool { !parentNames.isEmpty }

    /// Every device that is an mdev parent: PFs with types, enabled VFs with types, virtual parents.
    var parentNames: [String] {
        var names: [String] = []
        for device in model.devices {
            if !device.mdevTypes.isEmpty { names.append(device.address) }
            if let sriov = device.sriov, !sriov.vfMdevTypes.isEmpty {
                names += (0..<sriov.numVFs).map { Self.vfAddress(device.address, sriov, $0) }
            }
        }
        return names + model.virtualParents.map(\.name)
    }

    var allAddresses: [String] {
        model.devices.flatMap { device in
            [device.address]
                + (device.sriov.map { s in (0..<s.numVFs).map { Self.vfAddress(device.address, s, $0) } } ?? [])
        }
    }

    /// A VF's address from its PF's routing id, the SR-IOV offset and stride (PCIe SR-IOV capability).
    /// A model whose VFs have no address is refused where it is read (`SimulatedHostModel.validate`); one made in
    /// code that still has such a VF names it by PF and index, which no PCI address matches.
    static func vfAddress(_ pf: String, _ sriov: SimSRIOV, _ index: Int) -> String {
        PCIAddressMath.vf(pf, offset: sriov.offset, stride: sriov.stride, index: index) ?? "\(pf)+vf\(index)"
    }

    /// (PF, VF index) for an address; index nil for the PF itself.
    func locate(_ address: String) -> (SimDevice, Int?)? {
        for device in model.devices {
            if device.address == address { return (device, nil) }
            if let sriov = device.sriov {
                for i in 0..<sriov.numVFs where Self.vfAddress(device.address, sriov, i) == address {
                    return (device, i)
                }
            }
        }
        return nil
    }

    /// A PCI device's directory (PF or VF) or an entry under it: attributes, links, `sriov_numvfs`, mdev types and,
    /// on a VF with NVIDIA vGPU, the `nvidia` directory.
    func pciNode(_ address: String, _ rest: [Substring]) -> Node? {
        guard let (device, vfIndex) = locate(address) else { return nil }
        let isVF = vfIndex != nil
        let sriov = device.sriov
        let types = isVF ? (sriov?.vfMdevTypes ?? []) : device.mdevTypes
        let hasVGPU = isVF && !(sriov?.vfVGPUTypes.isEmpty ?? true)
        let (files, links) = pciAttributes(address, device: device, vfIndex: vfIndex)
        var directories: [String] = []
        if !types.isEmpty { directories.append("mdev_supported_types") }
        if hasVGPU { directories.append("nvidia") }
        var names = Array(files.keys) + Array(links.keys) + directories
        if sriov != nil && !isVF { names.append("sriov_numvfs") }
        if !isVF { names += amdAttributes(device).keys + (device.driver == "i915" && device.iov != nil ? ["drm"] : []) }
        if !isVF, hiveNode(device, []) != nil { names.append("xgmi_hive_info") }

        guard let first = rest.first else { return .directory(names.sorted()) }
        if rest.count == 1 {
            if first == "sriov_numvfs", let sriov, !isVF { return .file("\(sriov.numVFs)", .numVFs(pf: address)) }
            if let value = files[String(first)] { return .file(value, nil) }
            if let target = links[String(first)] { return .link(target) }
            if !isVF, let node = amdAttributes(device)[String(first)] { return node }
        }
        if first == "mdev_supported_types", !types.isEmpty {
            return typesNode(parent: address, types: types, Array(rest.dropFirst()))
        }
        if first == "drm", !isVF { return pciDRMNode(device, Array(rest.dropFirst())) }
        if first == "xgmi_hive_info", !isVF { return hiveNode(device, Array(rest.dropFirst())) }
        if first == "nvidia", hasVGPU, let sriov {
            return vgpuNode(vf: address, device: device, sriov: sriov, Array(rest.dropFirst()))
        }
        return nil
    }

    /// The attribute files and links of a PF's or VF's directory (not `sriov_numvfs`, which is written through).
    func pciAttributes(_ address: String, device: SimDevice, vfIndex: Int?)
        -> (files: [String: String], links: [String: String])
    {
        let isVF = vfIndex != nil
        let sriov = device.sriov
        let driver = isVF ? sriov?.vfDriver : device.driver
        let group: Int? = isVF ? sriov?.vfIOMMUGroupBase.map { $0 + vfIndex! } : device.iommuGroup
        var files: [String: String] = [
            "class": device.classCode,
            "vendor": device.vendor,
            "device": isVF ? (sriov?.vfDevice ?? device.device) : device.device,
            "subsystem_vendor": device.subsystemVendor,
            "subsystem_device": device.subsystemDevice,
            "revision": device.revision,
            "numa_node": "\(device.numaNode)",
            "uevent": (driver.map { "DRIVER=\($0)\n" } ?? "") + "PCI_SLOT_NAME=\(address)",
        ]
        var links: [String: String] = [:]
        if let driver { links["driver"] = "../../../bus/pci/drivers/\(driver)" }
        if let group { links["iommu_group"] = "../../../kernel/iommu_groups/\(group)" }
        if let sriov, !isVF {
            files["sriov_totalvfs"] = "\(sriov.totalVFs)"
            files["sriov_offset"] = "\(sriov.offset)"
            files["sriov_stride"] = "\(sriov.stride)"
            files["sriov_vf_device"] = sriov.vfDevice.replacingOccurrences(of: "0x", with: "")
            for i in 0..<sriov.numVFs { links["virtfn\(i)"] = "../\(Self.vfAddress(address, sriov, i))" }
        }
        if isVF { links["physfn"] = "../\(device.address)" }
        return (files, links)
    }

    /// A VF's `nvidia` directory (`rest` is below it): `current_vgpu_type`, written through, and
    /// `creatable_vgpu_types`, the types the VF's PF has room for while the VF has none.
    func vgpuNode(vf address: String, device: SimDevice, sriov: SimSRIOV, _ rest: [Substring]) -> Node? {
        let instance = model.gpuInstance(of: address, pf: device.address)
        guard let entry = rest.first else {
            return .directory(
                ["creatable_vgpu_types", "current_vgpu_type"] + (instance == nil ? [] : ["gpu_instance_id"]))
        }
        guard rest.count == 1 else { return nil }
        let current = model.vgpus[address] ?? 0
        switch entry {
        case "current_vgpu_type": return .file("\(current)", .vgpuType(vf: address))
        case "gpu_instance_id": return instance.map { .file("\($0)\n", nil) }
        case "creatable_vgpu_types":
            var text = "ID    : vGPU Name\n"
            if current == 0 && model.inMIGMode(device.address) {
                for type in model.creatableMIGBacked(device) {
                    text += "\("\(type.id)".padding(toLength: 5, withPad: " ", startingAt: 0)) : \(type.name)\n"
                }
            } else if current == 0 {
                let pools = SimPools(model: model)
                for type in sriov.vfVGPUTypes where pools.available(owner: device, type: type, onVF: address) > 0 {
                    text += "\(type.id.padding(toLength: 5, withPad: " ", startingAt: 0)) : \(type.name)\n"
                }
            }
            return .file(text, nil)
        default: return nil
        }
    }

    func typesNode(parent: String, types: [SimMdevType], _ rest: [Substring]) -> Node? {
        guard let first = rest.first else { return .directory(types.map(\.id)) }
        guard let type = types.first(where: { $0.id == first }) else { return nil }
        let attributes = ["available_instances", "create", "description", "device_api", "devices", "name"]
        guard rest.count >= 2 else { return .directory(attributes) }
        switch rest[1] {
        case "name" where rest.count == 2: return .file(type.name + "\n", nil)
        case "description" where rest.count == 2: return .file(type.description + "\n", nil)
        case "device_api" where rest.count == 2: return .file(type.deviceAPI + "\n", nil)
        case "available_instances" where rest.count == 2:
            return .file("\(SimPools(model: model).available(parent: parent, type: type))\n", nil)
        case "create" where rest.count == 2: return .file("", .create(parent: parent, type: type.id))
        case "devices":
            if rest.count == 2 {
                return .directory(model.mdevs.filter { $0.parent == parent && $0.type == type.id }.map(\.uuid))
            }
            if rest.count == 3, let mdev = model.mdevIndex.byUUID[String(rest[2])], mdev.parent == parent,
                mdev.type == type.id
            {
                return .link("../../../\(rest[2])")
            }
            return nil
        default: return nil
        }
    }

    /// Where a parent's device directory is under /sys/devices.
    func devicePath(_ parent: String) -> String {
        model.virtualParents.contains { $0.name == parent }
            ? "devices/virtual/\(parent)/\(parent)" : "devices/pci0000:00/\(parent)"
    }

    func mdevNode(_ uuid: String, _ rest: [Substring]) -> Node? {
        guard let mdev = model.mdevIndex.byUUID[uuid] else { return nil }
        guard let first = rest.first else { return .directory(["mdev_type", "remove"]) }
        guard rest.count == 1 else { return nil }
        switch first {
        case "mdev_type":
            // Relative to the device's own directory, as the kernel's mdev core makes it.
            return .link("../mdev_supported_types/\(mdev.type)")
        case "remove": return .file("", .remove(uuid: uuid))
        default: return nil
        }
    }
}
