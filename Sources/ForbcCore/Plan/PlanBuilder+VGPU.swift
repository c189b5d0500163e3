/// Planning of vGPU partitions: mdevs on a GPU, on its VFs or on a non-PCI parent, and NVIDIA's
/// VF-based vGPU (17+).
extension PlanBuilder {
    /// A type as the manifest may name it: id, exact name, or for NVIDIA the name without "NVIDIA ".
    struct TypeRef: Equatable {
        var id: String
        var name: String
    }

    static func resolve(_ reference: String, in types: [TypeRef]) -> TypeRef? {
        types.first { $0.id == reference } ?? types.first { $0.name == reference }
            ?? types.first { $0.name.lowercased() == "nvidia \(reference.lowercased())" }
            ?? types.first { $0.name.lowercased() == reference.lowercased() }
    }

    func offered(_ types: [TypeRef]) -> String {
        let names = types.map { $0.name == $0.id ? $0.id : "\($0.name.replacingOccurrences(of: "NVIDIA ", with: "")) (\($0.id))" }
        return names.count > 12 ? names.prefix(12).joined(separator: ", ") + " and \(names.count - 12) more" : names.joined(separator: ", ")
    }

    mutating func planVGPU(_ spec: GPUSpec, _ target: Planner.Target, _ mine: [DesiredPartition]) {
        let vfVGPU = target.gpu?.vfs.filter { $0.vgpu != nil } ?? []
        if !target.parents.isEmpty {
            planMdev(target, mine)
        } else if !vfVGPU.isEmpty {
            planVFvGPU(target, mine, vfVGPU)
        } else {
            var message = "\(target.label) offers no vGPU types: it has no mdev_supported_types and no nvidia/creatable_vgpu_types"
            if let sriov = target.gpu?.sriov, sriov.numVFs == 0, target.isNVIDIA {
                message += "; its SR-IOV VFs are disabled: enable them first (NVIDIA's 'sriov-manage -e \(target.id)')"
            } else if target.isNVIDIA {
                message += "; is NVIDIA's vGPU host driver loaded?"
            }
            fail(message, spec.vgpu.first?.location ?? spec.location)
        }
    }

    /// One type per physical NVIDIA GPU unless heterogeneous mode is on (it is not exposed in sysfs; forbc assumes off).
    mutating func checkHomogeneous(_ target: Planner.Target, wanted: [(DesiredPartition, TypeRef)], keptUndeclared: [(String, String)]) {
        guard target.isNVIDIA else { return }
        var firstByType: [String: DesiredPartition] = [:]
        var order: [String] = []
        for (partition, type) in wanted where firstByType[type.id] == nil {
            firstByType[type.id] = partition
            order.append(type.id)
        }
        let typeName = { (id: String) in wanted.first { $0.1.id == id }?.1.name.replacingOccurrences(of: "NVIDIA ", with: "") ?? id }
        if order.count > 1 {
            let a = firstByType[order[0]]!, b = firstByType[order[1]]!
            fail("NVIDIA time-sliced vGPU holds one type per physical GPU at a time (heterogeneous mode is off): '\(a.name)' wants '\(typeName(order[0]))' and '\(b.name)' wants '\(typeName(order[1]))' on \(target.label)",
                 locations[b.name])
        } else if let only = order.first, let other = keptUndeclared.first(where: { $0.1 != only }) {
            fail("\(target.label) holds '\(other.0)' of type '\(other.1)', which forbc keeps ('prune' is '\(prune.rawValue)'), and NVIDIA time-sliced vGPU holds one type per physical GPU at a time; remove it or set 'prune: all'",
                 locations[firstByType[only]!.name])
        }
    }

    mutating func planMdev(_ target: Planner.Target, _ mine: [DesiredPartition]) {
        let parentNames = Set(target.parents.map(\.name))
        var catalogue: [TypeRef] = []
        var typesByID: [String: MdevType] = [:]
        for parent in target.parents {
            for type in parent.types where typesByID[type.id] == nil {
                typesByID[type.id] = type
                catalogue.append(TypeRef(id: type.id, name: type.name))
            }
        }
        var resolved: [(DesiredPartition, TypeRef)] = []
        for partition in mine {
            guard let type = Self.resolve(partition.type ?? "", in: catalogue) else {
                fail("type '\(partition.type ?? "")' is not offered by \(target.label); it offers: \(offered(catalogue))", locations[partition.name])
                continue
            }
            resolved.append((partition, type))
        }
        var occupied: Set<String> = []
        var keptCount: [String: Int] = [:]
        var keptUndeclared: [(String, String)] = []
        var toCreate: [(DesiredPartition, TypeRef)] = []
        for (partition, type) in resolved {
            var updated = partition
            updated.type = type.id
            updated.typeName = type.name
            if let uuid = partition.uuid, let existing = inventory.mdev(uuid) {
                if parentNames.contains(existing.parent) && existing.type == type.id {
                    occupied.insert(existing.parent)
                    keptCount[type.id, default: 0] += 1
                    updated.parent = existing.parent
                    updated.address = inventory.parent(existing.parent)?.isVF == true ? existing.parent : target.gpu?.address
                    replaceDesired(updated)
                    continue
                }
                destroyMdev(existing, target: partition.name, gpu: target.gpu?.address,
                            reason: "it is of type '\(existing.type)' on '\(existing.parent)'; the manifest wants '\(type.id)' on \(target.label)")
            }
            replaceDesired(updated)
            toCreate.append((updated, type))
        }
        let wantedUUIDs = Set(mine.compactMap(\.uuid))
        for mdev in inventory.mdevs where parentNames.contains(mdev.parent) && !wantedUUIDs.contains(mdev.uuid) {
            let owned = state.owned(uuid: mdev.uuid)
            if let reason = pruneReason(owned: owned) {
                destroyMdev(mdev, target: owned?.name ?? mdev.uuid, gpu: target.gpu?.address, reason: reason)
            } else {
                occupied.insert(mdev.parent)
                keptCount[mdev.type, default: 0] += 1
                keptUndeclared.append((mdev.uuid, mdev.type))
            }
        }
        checkHomogeneous(target, wanted: resolved, keptUndeclared: keptUndeclared)
        let freedParents = Set(destroyActions.filter { $0.kind == .mdev && parentNames.contains($0.parent ?? "") }.compactMap(\.parent))
        let destroyedOnTarget = destroyActions.filter { $0.kind == .mdev && parentNames.contains($0.parent ?? "") }

        // Group the creations by type, in manifest order, and place them.
        var typeOrder: [String] = []
        var byType: [String: [DesiredPartition]] = [:]
        for (partition, type) in toCreate {
            if byType[type.id] == nil { typeOrder.append(type.id) }
            byType[type.id, default: []].append(partition)
        }
        for typeID in typeOrder {
            let partitions = byType[typeID]!
            let type = typesByID[typeID]!
            let needed = partitions.count
            var placements: [String] = []
            let onVFs = target.parents.allSatisfy(\.isVF)
            var capacity: Int
            var detail: String
            if onVFs {
                // One vGPU per VF: free VFs whose type still shows an instance (or that this plan frees).
                let candidates = target.parents.filter { parent in
                    !occupied.contains(parent.name) &&
                        (freedParents.contains(parent.name) || (parent.types.first { $0.id == typeID }?.availableInstances ?? 0) > 0)
                }.map(\.name)
                capacity = candidates.count
                detail = "\(candidates.count) free VFs offer it"
                if target.isNVIDIA, let maximum = type.maxInstances {
                    capacity = min(capacity, maximum - keptCount[typeID, default: 0])
                    detail += ", and the type allows \(maximum) per GPU (max_instance) with \(keptCount[typeID, default: 0]) kept"
                }
                placements = Array(candidates.prefix(needed))
                for vf in placements { occupied.insert(vf) }
            } else {
                let parent = target.parents[0]
                let available = parent.types.first { $0.id == typeID }?.availableInstances ?? 0
                let path = SysPath.mdevType(parent.name, typeID, "available_instances")
                if destroyedOnTarget.isEmpty {
                    capacity = available
                    detail = "\(path) reads \(available)"
                } else if target.isNVIDIA, let maximum = type.maxInstances {
                    // After this plan's removals the GPU holds only this type: its pool is max_instance.
                    capacity = maximum - keptCount[typeID, default: 0]
                    detail = "the type allows \(maximum) per GPU (max_instance) and \(keptCount[typeID, default: 0]) are kept"
                } else {
                    let freed = destroyedOnTarget.filter { $0.type == typeID }.count
                    capacity = available + freed
                    detail = "\(path) reads \(available) and this plan frees \(freed)"
                }
                placements = Array(repeating: parent.name, count: min(needed, max(capacity, 0)))
            }
            if needed > capacity {
                let names = partitions.map { "'\($0.name)'" }
                let shown = names.count > 4 ? names.prefix(3).joined(separator: ", ") + " … \(names.last!)" : names.joined(separator: ", ")
                fail("\(shown) need\(needed == 1 ? "s" : "") \(needed) new instance\(needed == 1 ? "" : "s") of '\(type.name)' on \(target.label), but only \(max(capacity, 0)) can be created (\(detail))",
                     locations[partitions[0].name])
                continue
            }
            for (partition, parent) in zip(partitions, placements) {
                var placed = partition
                placed.parent = parent
                placed.address = inventory.parent(parent)?.isVF == true ? parent : target.gpu?.address
                replaceDesired(placed)
                let uuid = placed.uuid!
                createActions.append(PlannedAction(
                    action: .create, target: placed.name,
                    reason: inventory.mdev(uuid) == nil ? "declared, not present" : "recreated as '\(type.name)'",
                    kind: .mdev, gpu: target.gpu?.address, parent: parent, type: typeID, typeName: type.name, uuid: uuid,
                    address: placed.address, path: SysPath.mdevType(parent, typeID, "create"), value: uuid,
                    precondition: .mdevAbsent(uuid: uuid, parent: parent, type: typeID),
                    records: [OwnedPartition(name: placed.name, kind: .mdev, gpu: target.id, uuid: uuid, address: placed.address,
                                             parent: parent, type: typeID, typeName: type.name)]))
            }
        }
    }

    mutating func planVFvGPU(_ target: Planner.Target, _ mine: [DesiredPartition], _ vfs: [VirtualFunction]) {
        let gpu = target.gpu!
        var catalogue: [TypeRef] = []
        func add(_ id: String, _ name: String) {
            if !catalogue.contains(where: { $0.id == id }) { catalogue.append(TypeRef(id: id, name: name)) }
        }
        for vf in vfs { for type in vf.vgpu!.creatable { add("\(type.id)", type.name) } }
        // A type in use may be listed nowhere once its pool is full: recorded names still resolve.
        for owned in state.partitions where owned.kind == .vgpuVF && owned.gpu == gpu.address {
            if let id = owned.type, let name = owned.typeName { add(id, name) }
        }
        var resolved: [(DesiredPartition, TypeRef)] = []
        for partition in mine {
            guard let type = Self.resolve(partition.type ?? "", in: catalogue) else {
                fail("type '\(partition.type ?? "")' is not offered by \(target.label); its VFs offer: \(offered(catalogue))", locations[partition.name])
                continue
            }
            resolved.append((partition, type))
        }
        let byAddress = Dictionary(uniqueKeysWithValues: vfs.map { ($0.address, $0) })
        var claimed: Set<String> = []
        var keptUndeclared: [(String, String)] = []
        var toCreate: [(DesiredPartition, TypeRef)] = []
        // Recorded placements first.
        for (partition, type) in resolved {
            var updated = partition
            updated.kind = .vgpuVF
            updated.type = type.id
            updated.typeName = type.name
            if let owned = state.owned(name: partition.name), owned.kind == .vgpuVF, let address = owned.address, let vf = byAddress[address] {
                let current = vf.vgpu!.current
                if "\(current)" == type.id {
                    claimed.insert(address)
                    updated.address = address
                    updated.parent = address
                    replaceDesired(updated)
                    continue
                }
                if current != 0 {
                    destroyVGPU(vf, gpu: gpu.address, target: partition.name, reason: "it holds type \(current); the manifest wants '\(type.name)'")
                }
            }
            toCreate.append((updated, type))
        }
        let recordedAddresses = Set(state.partitions.filter { $0.kind == .vgpuVF }.compactMap(\.address))
        // Adopt VFs that already hold the wanted type and that no record claims (state lost, or made by hand).
        var remaining: [(DesiredPartition, TypeRef)] = []
        for (partition, type) in toCreate {
            if state.owned(name: partition.name) == nil,
               let vf = vfs.first(where: { !claimed.contains($0.address) && !recordedAddresses.contains($0.address) && "\($0.vgpu!.current)" == type.id }) {
                claimed.insert(vf.address)
                var adopted = partition
                adopted.address = vf.address
                adopted.parent = vf.address
                replaceDesired(adopted)
                continue
            }
            remaining.append((partition, type))
        }
        for vf in vfs where vf.vgpu!.current != 0 && !claimed.contains(vf.address) && !destroyed.contains(vf.address) {
            let owned = state.partitions.first { $0.kind == .vgpuVF && $0.address == vf.address }
            if let reason = pruneReason(owned: owned) {
                destroyVGPU(vf, gpu: gpu.address, target: owned?.name ?? vf.address, reason: reason)
            } else {
                claimed.insert(vf.address)
                keptUndeclared.append((vf.address, "\(vf.vgpu!.current)"))
            }
        }
        checkHomogeneous(target, wanted: resolved, keptUndeclared: keptUndeclared)
        var free = vfs.filter { !claimed.contains($0.address) && ($0.vgpu!.current == 0 || destroyed.contains($0.address)) }
        for (partition, type) in remaining {
            let offering = free.filter { destroyed.contains($0.address) || $0.vgpu!.creatable.contains { "\($0.id)" == type.id } }
            // The VF a partition had before (recorded) keeps its PCI address stable for the VM.
            let recorded = state.owned(name: partition.name)?.address
            guard let vf = offering.first(where: { $0.address == recorded }) ?? offering.first else {
                let wanted = remaining.filter { $0.1 == type }.count
                fail("'\(partition.name)' needs a VF for '\(type.name)' on \(target.label), but none is free (\(wanted) wanted; VFs offering it: \(offering.count))",
                     locations[partition.name])
                break
            }
            free.removeAll { $0.address == vf.address }
            var placed = partition
            placed.address = vf.address
            placed.parent = vf.address
            replaceDesired(placed)
            createActions.append(PlannedAction(
                action: .create, target: placed.name, reason: "declared, not present", kind: .vgpuVF, gpu: gpu.address,
                parent: vf.address, type: type.id, typeName: type.name, uuid: placed.uuid, address: vf.address,
                path: SysPath.pci(vf.address, "nvidia/current_vgpu_type"), value: type.id,
                precondition: .vgpuType(vf: vf.address, current: destroyed.contains(vf.address) ? 0 : vf.vgpu!.current),
                records: [OwnedPartition(name: placed.name, kind: .vgpuVF, gpu: gpu.address, uuid: placed.uuid, address: vf.address,
                                         parent: vf.address, type: type.id, typeName: type.name)]))
        }
    }
}
