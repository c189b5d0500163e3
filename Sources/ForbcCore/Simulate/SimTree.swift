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
                    let drivers = Set(model.devices.compactMap(\.driver) + model.devices.compactMap { $0.sriov?.vfDriver }
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
                if rest.count == 4, let mdev = model.mdevs.first(where: { $0.uuid == rest[3] }) {
                    return .link("../../../\(devicePath(mdev.parent))/\(mdev.uuid)")
                }
                return mdevNode(String(rest[3]), Array(rest.dropFirst(4)))
            }
            return nil
        case "class":
            if rest.count == 1 { return .directory(hasMdevBus ? ["mdev_bus"] : []) }
            guard rest[1] == "mdev_bus", hasMdevBus else { return nil }
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
            [device.address] + (device.sriov.map { s in (0..<s.numVFs).map { Self.vfAddress(device.address, s, $0) } } ?? [])
        }
    }

    /// A VF's address from its PF's routing id, the SR-IOV offset and stride (PCIe SR-IOV capability).
    static func vfAddress(_ pf: String, _ sriov: SimSRIOV, _ index: Int) -> String {
        PCIAddressMath.vf(pf, offset: sriov.offset, stride: sriov.stride, index: index)
    }

    /// (PF, VF index) for an address; index nil for the PF itself.
    func locate(_ address: String) -> (SimDevice, Int?)? {
        for device in model.devices {
            if device.address == address { return (device, nil) }
            if let sriov = device.sriov {
                for i in 0..<sriov.numVFs where Self.vfAddress(device.address, sriov, i) == address { return (device, i) }
            }
        }
        return nil
    }

    func pciNode(_ address: String, _ rest: [Substring]) -> Node? {
        guard let (device, vfIndex) = locate(address) else { return nil }
        let isVF = vfIndex != nil
        let sriov = device.sriov
        let types = isVF ? (sriov?.vfMdevTypes ?? []) : device.mdevTypes
        let hasVGPU = isVF && !(sriov?.vfVGPUTypes.isEmpty ?? true)
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
        var directories: [String] = []
        if !types.isEmpty { directories.append("mdev_supported_types") }
        if hasVGPU { directories.append("nvidia") }
        var names = Array(files.keys) + Array(links.keys) + directories
        if sriov != nil && !isVF { names.append("sriov_numvfs") }

        guard let first = rest.first else { return .directory(names.sorted()) }
        if rest.count == 1 {
            if first == "sriov_numvfs", let sriov, !isVF { return .file("\(sriov.numVFs)", .numVFs(pf: address)) }
            if let value = files[String(first)] { return .file(value, nil) }
            if let target = links[String(first)] { return .link(target) }
        }
        if first == "mdev_supported_types", !types.isEmpty {
            return typesNode(parent: address, types: types, Array(rest.dropFirst()))
        }
        if first == "nvidia", hasVGPU, let sriov {
            if rest.count == 1 { return .directory(["creatable_vgpu_types", "current_vgpu_type"]) }
            guard rest.count == 2 else { return nil }
            let current = model.vgpus[address] ?? 0
            switch rest[1] {
            case "current_vgpu_type": return .file("\(current)", .vgpuType(vf: address))
            case "creatable_vgpu_types":
                var text = "ID    : vGPU Name\n"
                if current == 0 {
                    for type in sriov.vfVGPUTypes where SimPools(model: model).available(owner: device, type: type, onVF: address) > 0 {
                        text += "\(type.id.padding(toLength: 5, withPad: " ", startingAt: 0)) : \(type.name)\n"
                    }
                }
                return .file(text, nil)
            default: return nil
            }
        }
        return nil
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
            let uuids = model.mdevs.filter { $0.parent == parent && $0.type == type.id }.map(\.uuid)
            if rest.count == 2 { return .directory(uuids) }
            if rest.count == 3, uuids.contains(String(rest[2])) { return .link("../../../\(rest[2])") }
            return nil
        default: return nil
        }
    }

    /// Where a parent's device directory is under /sys/devices.
    func devicePath(_ parent: String) -> String {
        model.virtualParents.contains { $0.name == parent } ? "devices/virtual/\(parent)/\(parent)" : "devices/pci0000:00/\(parent)"
    }

    func mdevNode(_ uuid: String, _ rest: [Substring]) -> Node? {
        guard let mdev = model.mdevs.first(where: { $0.uuid == uuid }) else { return nil }
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

/// The pool arithmetic of simulated drivers: what `available_instances` and `creatable_vgpu_types` show.
struct SimPools {
    let model: SimulatedHostModel

    /// The type ids of every instance living on a PF or its VFs.
    func instances(of device: SimDevice) -> [String] {
        var parents: Set<String> = [device.address]
        if let sriov = device.sriov {
            for i in 0..<sriov.numVFs { parents.insert(SimTree.vfAddress(device.address, sriov, i)) }
        }
        var types = model.mdevs.filter { parents.contains($0.parent) }.map(\.type)
        for (vf, id) in model.vgpus where parents.contains(vf) && id != 0 { types.append("\(id)") }
        return types
    }

    func available(kind: SimPoolKind, units: Int, catalogue: [SimMdevType], existing: [String], type: SimMdevType) -> Int {
        if kind == .homogeneous && existing.contains(where: { $0 != type.id }) { return 0 }
        let used = existing.reduce(0) { sum, id in sum + (catalogue.first { $0.id == id }?.cost ?? 0) }
        let byUnits = (units - used) / max(type.cost, 1)
        let byMax = type.maxInstances - existing.filter { $0 == type.id }.count
        return max(0, min(byUnits, byMax))
    }

    func catalogue(_ device: SimDevice) -> [SimMdevType] {
        device.mdevTypes + (device.sriov?.vfMdevTypes ?? []) + (device.sriov?.vfVGPUTypes ?? [])
    }

    /// `available_instances` of `type` on mdev parent `parent` (a PF, a VF, or a virtual parent).
    func available(parent: String, type: SimMdevType) -> Int {
        if let virtual = model.virtualParents.first(where: { $0.name == parent }) {
            let existing = model.mdevs.filter { $0.parent == parent }.map(\.type)
            return available(kind: virtual.pool, units: virtual.poolUnits, catalogue: virtual.types, existing: existing, type: type)
        }
        guard let (device, vfIndex) = SimTree(model: model).locate(parent) else { return 0 }
        if vfIndex != nil { return available(owner: device, type: type, onVF: parent) }
        return available(kind: device.pool, units: device.poolUnits, catalogue: catalogue(device), existing: instances(of: device), type: type)
    }

    /// On a VF, one instance at most: 1 while the VF is free and the PF's pool has room.
    func available(owner device: SimDevice, type: SimMdevType, onVF vf: String) -> Int {
        let busy = model.mdevs.contains { $0.parent == vf } || (model.vgpus[vf] ?? 0) != 0
        if busy { return 0 }
        let pool = available(kind: device.pool, units: device.poolUnits, catalogue: catalogue(device), existing: instances(of: device), type: type)
        return min(1, pool)
    }
}

/// What a write to a simulated attribute does.
enum SimWrite {
    case create(parent: String, type: String)
    case remove(uuid: String)
    case numVFs(pf: String)
    case vgpuType(vf: String)
    case bind(driver: String)
    case unbind(driver: String)

    func apply(value: String, to model: inout SimulatedHostModel) throws {
        switch self {
        case .create(let parent, let typeID):
            guard Patterns.isUUID(value) else { throw SimErrno(errno: Errno.EINVAL) }
            let uuid = value.lowercased()
            guard !model.mdevs.contains(where: { $0.uuid == uuid }) else { throw SimErrno(errno: Errno.EEXIST) }
            let tree = SimTree(model: model)
            let types = model.virtualParents.first { $0.name == parent }?.types
                ?? tree.locate(parent).map { $0.1 == nil ? $0.0.mdevTypes : ($0.0.sriov?.vfMdevTypes ?? []) } ?? []
            guard let type = types.first(where: { $0.id == typeID }) else { throw SimErrno(errno: Errno.ENODEV) }
            guard SimPools(model: model).available(parent: parent, type: type) > 0 else { throw SimErrno(errno: Errno.ENOSPC) }
            model.mdevs.append(SimMdev(uuid: uuid, parent: parent, type: typeID))
        case .remove(let uuid):
            // remove_store: kstrtoul, then a non-zero value removes the device.
            guard let flag = UInt(value) else { throw SimErrno(errno: Errno.EINVAL) }
            if flag != 0 { model.mdevs.removeAll { $0.uuid == uuid } }
        case .numVFs(let pf):
            // sriov_numvfs_store: kstrtou16; > totalvfs is ERANGE; same value is a no-op; non-zero to
            // non-zero is EBUSY ("VFs already enabled. Disable before enabling").
            guard let wanted = UInt16(value).map(Int.init) else { throw SimErrno(errno: Errno.EINVAL) }
            guard let index = model.devices.firstIndex(where: { $0.address == pf }), let sriov = model.devices[index].sriov else {
                throw SimErrno(errno: Errno.ENOENT)
            }
            // sriov_numvfs_store: no driver bound → ENOENT ("no driver bound to device; cannot configure SR-IOV").
            guard model.devices[index].driver != nil else { throw SimErrno(errno: Errno.ENOENT) }
            guard wanted <= sriov.totalVFs else { throw SimErrno(errno: Errno.ERANGE) }
            if wanted == sriov.numVFs { return }
            if sriov.numVFs != 0 && wanted != 0 { throw SimErrno(errno: Errno.EBUSY) }
            if wanted == 0 {
                let vfs = Set((0..<sriov.numVFs).map { SimTree.vfAddress(pf, sriov, $0) })
                // The vendor driver refuses to disable VFs that hold partitions (they are assigned).
                if model.mdevs.contains(where: { vfs.contains($0.parent) }) || model.vgpus.contains(where: { vfs.contains($0.key) && $0.value != 0 }) {
                    throw SimErrno(errno: Errno.EBUSY)
                }
                for vf in vfs { model.vgpus.removeValue(forKey: vf) }
            }
            model.devices[index].sriov!.numVFs = wanted
        case .unbind(let driver):
            // unbind_store: the device must be bound to this driver, else ENODEV.
            guard let index = model.devices.firstIndex(where: { $0.address == value && $0.driver == driver }) else {
                throw SimErrno(errno: Errno.ENODEV)
            }
            model.devices[index].driver = nil
        case .bind(let driver):
            guard let index = model.devices.firstIndex(where: { $0.address == value }) else { throw SimErrno(errno: Errno.ENODEV) }
            guard model.devices[index].driver == nil else { throw SimErrno(errno: Errno.EBUSY) }
            model.devices[index].driver = driver
        case .vgpuType(let vf):
            guard let id = Int(value), id >= 0 else { throw SimErrno(errno: Errno.EINVAL) }
            let current = model.vgpus[vf] ?? 0
            if id == 0 { model.vgpus.removeValue(forKey: vf); return }
            guard current == 0 else { throw SimErrno(errno: Errno.EBUSY) }
            guard let (device, _) = SimTree(model: model).locate(vf),
                  let type = device.sriov?.vfVGPUTypes.first(where: { $0.id == "\(id)" }),
                  SimPools(model: model).available(owner: device, type: type, onVF: vf) > 0 else {
                throw SimErrno(errno: Errno.EINVAL)
            }
            model.vgpus[vf] = id
        }
    }
}
