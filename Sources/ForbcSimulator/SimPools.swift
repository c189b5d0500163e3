import ForbcCore
import Foundation

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

    func available(kind: SimPoolKind, units: Int, catalogue: [SimMdevType], existing: [String], type: SimMdevType)
        -> Int
    {
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
            return available(
                kind: virtual.pool, units: virtual.poolUnits, catalogue: virtual.types, existing: existing, type: type)
        }
        guard let (device, vfIndex) = SimTree(model: model).locate(parent) else { return 0 }
        if vfIndex != nil { return available(owner: device, type: type, onVF: parent) }
        return available(
            kind: device.pool, units: device.poolUnits, catalogue: catalogue(device), existing: instances(of: device),
            type: type)
    }

    /// On a VF, one instance at most: 1 while the VF is free and the PF's pool has room.
    func available(owner device: SimDevice, type: SimMdevType, onVF vf: String) -> Int {
        let busy = model.mdevs.contains { $0.parent == vf } || (model.vgpus[vf] ?? 0) != 0
        if busy { return 0 }
        let pool = available(
            kind: device.pool, units: device.poolUnits, catalogue: catalogue(device), existing: instances(of: device),
            type: type)
        return min(1, pool)
    }
}
