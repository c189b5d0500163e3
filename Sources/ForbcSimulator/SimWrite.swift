import ForbcCore
import Foundation

/// What a write to a simulated attribute does.
enum SimWrite {
    case create(parent: String, type: String)
    case remove(uuid: String)
    case numVFs(pf: String)
    case vgpuType(vf: String)
    case bind(driver: String)
    case unbind(driver: String)
    /// A vendor driver's own attribute (AMD partition modes, Intel VF provisioning).
    case vendor(SimVendorWrite)

    func apply(value: String, to model: inout SimulatedHostModel) throws {
        switch self {
        case .create(let parent, let typeID): try Self.create(value, parent: parent, type: typeID, in: &model)
        case .remove(let uuid):
            // remove_store: kstrtoul, then a non-zero value removes the device.
            guard let flag = UInt(value) else { throw SimErrno(errno: Errno.EINVAL) }
            if flag != 0 { model.removeMdev(uuid) }
        case .numVFs(let pf): try Self.setNumVFs(value, pf: pf, in: &model)
        case .unbind(let driver):
            // unbind_store: the device must be bound to this driver, else ENODEV.
            guard let index = model.devices.firstIndex(where: { $0.address == value && $0.driver == driver }) else {
                throw SimErrno(errno: Errno.ENODEV)
            }
            model.devices[index].driver = nil
            model.devices[index].amd?.tornDown()
        case .bind(let driver):
            guard let index = model.devices.firstIndex(where: { $0.address == value }) else {
                throw SimErrno(errno: Errno.ENODEV)
            }
            guard model.devices[index].driver == nil else { throw SimErrno(errno: Errno.EBUSY) }
            model.devices[index].driver = driver
        case .vgpuType(let vf): try Self.setVGPUType(value, vf: vf, in: &model)
        case .vendor(let write): try write.apply(value: value, to: &model)
        }
    }

    /// mdev `create`: a new UUID of a type the parent offers, while its pool has room.
    static func create(_ value: String, parent: String, type typeID: String, in model: inout SimulatedHostModel)
        throws
    {
        guard Patterns.isUUID(value) else { throw SimErrno(errno: Errno.EINVAL) }
        let uuid = value.lowercased()
        guard model.mdevIndex.byUUID[uuid] == nil else { throw SimErrno(errno: Errno.EEXIST) }
        let tree = SimTree(model: model)
        let types =
            model.virtualParents.first { $0.name == parent }?.types
            ?? tree.locate(parent).map { $0.1 == nil ? $0.0.mdevTypes : ($0.0.sriov?.vfMdevTypes ?? []) } ?? []
        guard let type = types.first(where: { $0.id == typeID }) else { throw SimErrno(errno: Errno.ENODEV) }
        guard SimPools(model: model).available(parent: parent, type: type) > 0 else {
            throw SimErrno(errno: Errno.ENOSPC)
        }
        model.addMdev(SimMdev(uuid: uuid, parent: parent, type: typeID))
    }

    /// `sriov_numvfs`, with the PCI core's and the vendor drivers' refusals.
    static func setNumVFs(_ value: String, pf: String, in model: inout SimulatedHostModel) throws {
        // sriov_numvfs_store: kstrtou16; > totalvfs is ERANGE; same value is a no-op; non-zero to
        // non-zero is EBUSY ("VFs already enabled. Disable before enabling").
        guard let wanted = UInt16(value).map(Int.init) else { throw SimErrno(errno: Errno.EINVAL) }
        guard let index = model.devices.firstIndex(where: { $0.address == pf }),
            let sriov = model.devices[index].sriov
        else {
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
            if vfs.contains(where: model.mdevIndex.holds)
                || model.vgpus.contains(where: { vfs.contains($0.key) && $0.value != 0 })
            {
                throw SimErrno(errno: Errno.EBUSY)
            }
            for vf in vfs {
                model.vgpus.removeValue(forKey: vf)
                model.vgpuPlacements?.removeValue(forKey: vf)
                model.activeVGPUs.remove(vf)
            }
        }
        model.devices[index].sriov!.numVFs = wanted
        model.devices[index].iov?.numVFsChanged(to: wanted)
    }

    /// NVIDIA's `current_vgpu_type` on a VF: 0 destroys; a type id creates when the VF is free and the pool has room.
    static func setVGPUType(_ value: String, vf: String, in model: inout SimulatedHostModel) throws {
        guard let id = Int(value), id >= 0 else { throw SimErrno(errno: Errno.EINVAL) }
        let current = model.vgpus[vf] ?? 0
        let pf = SimTree(model: model).locate(vf)?.0.address ?? ""
        // Whatever the VF held, no running VM uses what it holds now (until a test says one does).
        model.activeVGPUs.remove(vf)
        if id == 0 {
            model.vgpus.removeValue(forKey: vf)
            model.vgpuPlacements?.removeValue(forKey: vf)
            model.removeBinding(vf: vf, pf: pf)
            return
        }
        guard current == 0 else { throw SimErrno(errno: Errno.EBUSY) }
        if let device = SimTree(model: model).locate(vf)?.0, model.inMIGMode(pf) {
            // With MIG mode on, only MIG-backed types are offered.
            guard let type = device.sriov?.vfMIGBackedTypes?.first(where: { $0.id == id }) else {
                throw SimErrno(errno: Errno.EINVAL)
            }
            try model.createMIGBacked(type, vf: vf, pf: pf)
            return
        }
        guard let (device, _) = SimTree(model: model).locate(vf),
            let type = device.sriov?.vfVGPUTypes.first(where: { $0.id == "\(id)" }),
            SimPools(model: model).available(owner: device, type: type, onVF: vf) > 0
        else {
            throw SimErrno(errno: Errno.EINVAL)
        }
        if let rules = model.mixedSizeRules(pf: pf) {
            // Mixed-size mode: the driver places the vGPU (here at the lowest free placement ID of its type).
            model.vgpuPlacements = model.vgpuPlacements ?? [:]
            model.vgpuPlacements![vf] = model.freePlacement(pf: pf, type: id, rules: rules)
        }
        model.vgpus[vf] = id
    }
}
