import ForbcCore
import Foundation

/// The pool arithmetic of simulated drivers: what `available_instances` and `creatable_vgpu_types` show.
struct SimPools {
    let model: SimulatedHostModel

    /// How many instances of each type live on a PF or its VFs.
    func instances(of device: SimDevice) -> [String: Int] {
        var parents: Set<String> = [device.address]
        if let sriov = device.sriov {
            for i in 0..<sriov.numVFs { parents.insert(SimTree.vfAddress(device.address, sriov, i)) }
        }
        var counts: [String: Int] = [:]
        for parent in parents {
            for (type, count) in model.mdevIndex.typesByParent[parent] ?? [:] { counts[type, default: 0] += count }
        }
        for (vf, id) in model.vgpus where parents.contains(vf) && id != 0 { counts["\(id)", default: 0] += 1 }
        return counts
    }

    func available(
        kind: SimPoolKind, units: Int, catalogue: [SimMdevType], existing: [String: Int], type: SimMdevType
    ) -> Int {
        if kind == .homogeneous && existing.contains(where: { $0.key != type.id && $0.value > 0 }) { return 0 }
        let used = existing.reduce(0) { sum, entry in
            sum + entry.value * (catalogue.first { $0.id == entry.key }?.cost ?? 0)
        }
        let byUnits = (units - used) / max(type.cost, 1)
        let byMax = type.maxInstances - (existing[type.id] ?? 0)
        return max(0, min(byUnits, byMax))
    }

    func catalogue(_ device: SimDevice) -> [SimMdevType] {
        device.mdevTypes + (device.sriov?.vfMdevTypes ?? []) + (device.sriov?.vfVGPUTypes ?? [])
    }

    /// `available_instances` of `type` on mdev parent `parent` (a PF, a VF, or a virtual parent).
    func available(parent: String, type: SimMdevType) -> Int {
        if let virtual = model.virtualParents.first(where: { $0.name == parent }) {
            let existing = model.mdevIndex.typesByParent[parent] ?? [:]
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
        let busy = model.mdevIndex.holds(vf) || (model.vgpus[vf] ?? 0) != 0
        if busy { return 0 }
        if let rules = model.mixedSizeRules(pf: device.address) {
            // Mixed-size mode: any type with a free placement, whatever the other vGPUs' types.
            return model.freePlacement(pf: device.address, type: Int(type.id) ?? -1, rules: rules) == nil ? 0 : 1
        }
        let pool = available(
            kind: device.pool, units: device.poolUnits, catalogue: catalogue(device), existing: instances(of: device),
            type: type)
        return min(1, pool)
    }
}
