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
        let names = types.map {
            $0.name == $0.id ? $0.id : "\($0.name.replacingOccurrences(of: "NVIDIA ", with: "")) (\($0.id))"
        }
        return names.count > 12
            ? names.prefix(12).joined(separator: ", ") + " and \(names.count - 12) more" : names.joined(separator: ", ")
    }

    mutating func planVGPU(_ spec: GPUSpec, _ target: Planner.Target, _ mine: [DesiredPartition]) {
        if isMIGBacked(spec, target) { return planMIGBackedVGPU(target, mine) }
        let vfVGPU = target.gpu?.vfs.filter { $0.vgpu != nil } ?? []
        if !target.parents.isEmpty {
            planMdev(target, mine)
        } else if !vfVGPU.isEmpty {
            planVFvGPU(target, mine, vfVGPU, mode: spec.vgpuMode)
        } else {
            var message =
                "\(target.label) offers no vGPU types: it has no mdev_supported_types and no "
                + "nvidia/creatable_vgpu_types"
            if let sriov = target.gpu?.sriov, sriov.numVFs == 0, target.isNVIDIA {
                message += "; its SR-IOV VFs are disabled: enable them first (NVIDIA's 'sriov-manage -e \(target.id)')"
            } else if target.isNVIDIA {
                message += "; is NVIDIA's vGPU host driver loaded?"
            }
            fail(message, spec.vgpu.first?.location ?? spec.location)
        }
    }

    /// One type per physical NVIDIA GPU in equal-size mode (a GPU declared `vgpuMode: mixedSize` is placed by
    /// `placeMixed` instead).
    mutating func checkHomogeneous(
        _ target: Planner.Target, wanted: [(DesiredPartition, TypeRef)], keptUndeclared: [(String, String)]
    ) {
        guard target.isNVIDIA else { return }
        var firstByType: [String: DesiredPartition] = [:]
        var order: [String] = []
        for (partition, type) in wanted where firstByType[type.id] == nil {
            firstByType[type.id] = partition
            order.append(type.id)
        }
        let typeName = { (id: String) in
            wanted.first { $0.1.id == id }?.1.name.replacingOccurrences(of: "NVIDIA ", with: "") ?? id
        }
        if order.count > 1 {
            let a = firstByType[order[0]]!
            let b = firstByType[order[1]]!
            // Where NVML reports no mixed-size mode (an older GPU or vGPU release), there is nothing to declare.
            let mode =
                target.gpu?.vgpuPlacements.map {
                    $0.heterogeneous
                        ? "the GPU is in mixed-size mode, but the manifest does not declare 'vgpuMode: mixedSize'"
                        : "equal-size mode; declare 'vgpuMode: mixedSize' for mixed sizes"
                } ?? "equal-size mode"
            fail(
                "NVIDIA time-sliced vGPU holds one type per physical GPU at a time (\(mode)): "
                    + "'\(a.name)' wants '\(typeName(order[0]))' and '\(b.name)' wants '\(typeName(order[1]))' "
                    + "on \(target.label)",
                locations[b.name])
        } else if let only = order.first, let other = keptUndeclared.first(where: { $0.1 != only }) {
            fail(
                "\(target.label) holds '\(other.0)' of type '\(other.1)', which forbc keeps ('prune' is "
                    + "'\(prune.rawValue)'), and NVIDIA time-sliced vGPU holds one type per physical GPU at a "
                    + "time; remove it or set 'prune: all'",
                locations[firstByType[only]!.name])
        }
    }

    /// Resolve: each partition's type in `catalogue`; one that is not there gets a diagnostic and is left out.
    /// `offers` names who offers the catalogue in that diagnostic.
    mutating func resolveTypes(
        _ mine: [DesiredPartition], in catalogue: [TypeRef], on target: Planner.Target,
        offers: String
    ) -> [(DesiredPartition, TypeRef)] {
        var resolved: [(DesiredPartition, TypeRef)] = []
        // One error per manifest entry and type, not per partition (a count of 1024 made 1024 identical lines).
        var reported: Set<String> = []
        for partition in mine {
            guard let type = Self.resolve(partition.type ?? "", in: catalogue) else {
                let location = locations[partition.name]
                let key = "\(location.map { "\($0.line):\($0.column)" } ?? partition.name)|\(partition.type ?? "")"
                if reported.insert(key).inserted {
                    fail(
                        "type '\(partition.type ?? "")' is not offered by \(target.label); "
                            + "\(offers): \(offered(catalogue))",
                        location)
                }
                continue
            }
            resolved.append((partition, type))
        }
        return resolved
    }

    // MARK: mdevs

    /// The mdev types a target's parents offer, each once (first parent first).
    private struct MdevCatalogue {
        var refs: [TypeRef] = []
        var byID: [String: MdevType] = [:]

        init(_ parents: [MdevParent]) {
            for parent in parents {
                for type in parent.types where byID[type.id] == nil {
                    byID[type.id] = type
                    refs.append(TypeRef(id: type.id, name: type.name))
                }
            }
        }
    }

    /// What stays on a target's mdev parents: the parents that hold a kept mdev, the kept mdevs per type, and
    /// the undeclared ones forbc keeps (uuid, type).
    private struct MdevOccupancy {
        var occupied: Set<String> = []
        var keptCount: [String: Int] = [:]
        var keptUndeclared: [(String, String)] = []

        /// Counts an mdev of type `type` that stays on `parent`.
        mutating func keep(_ type: String, on parent: String) {
            occupied.insert(parent)
            keptCount[type, default: 0] += 1
        }
    }

    /// Room for new mdevs on a target's parents, as the place stage sees it.
    private struct MdevRoom {
        var target: Planner.Target
        var kept: MdevOccupancy
        /// This plan's mdev destructions on the target's parents.
        var destroyed: [PlannedAction]

        /// Where `needed` new mdevs of `type` go, how many the parents can take, and the words that explain it.
        mutating func take(_ needed: Int, of type: MdevType) -> (parents: [String], capacity: Int, detail: String) {
            target.parents.allSatisfy(\.isVF) ? takeVFs(needed, of: type) : takeParent(needed, of: type)
        }

        /// One vGPU per VF: free VFs whose type still shows an instance (or that this plan frees).
        private mutating func takeVFs(_ needed: Int, of type: MdevType) -> (
            parents: [String], capacity: Int,
            detail: String
        ) {
            let freedParents = Set(destroyed.compactMap(\.parent))
            let candidates = target.parents.filter { parent in
                !kept.occupied.contains(parent.name)
                    && (freedParents.contains(parent.name)
                        || (parent.types.first { $0.id == type.id }?.availableInstances ?? 0) > 0)
            }.map(\.name)
            var capacity = candidates.count
            var detail = "\(candidates.count) free VFs offer it"
            if target.isNVIDIA, let maximum = type.maxInstances {
                capacity = min(capacity, maximum - kept.keptCount[type.id, default: 0])
                detail +=
                    ", and the type allows \(maximum) per GPU (max_instance) with "
                    + "\(kept.keptCount[type.id, default: 0]) kept"
            }
            let placements = Array(candidates.prefix(needed))
            for vf in placements { kept.occupied.insert(vf) }
            return (placements, capacity, detail)
        }

        /// One parent: what its available_instances reads, or what is left once this plan's removals are done.
        private func takeParent(_ needed: Int, of type: MdevType) -> (
            parents: [String], capacity: Int,
            detail: String
        ) {
            let parent = target.parents[0]
            let available = parent.types.first { $0.id == type.id }?.availableInstances ?? 0
            let path = SysPath.mdevType(parent.name, type.id, "available_instances")
            let capacity: Int
            let detail: String
            if destroyed.isEmpty {
                capacity = available
                detail = "\(path) reads \(available)"
            } else if target.isNVIDIA, let maximum = type.maxInstances {
                // After this plan's removals the GPU holds only this type: its pool is max_instance.
                capacity = maximum - kept.keptCount[type.id, default: 0]
                detail =
                    "the type allows \(maximum) per GPU (max_instance) and "
                    + "\(kept.keptCount[type.id, default: 0]) are kept"
            } else {
                let freed = destroyed.filter { $0.type == type.id }.count
                capacity = available + freed
                detail = "\(path) reads \(available) and this plan frees \(freed)"
            }
            return (Array(repeating: parent.name, count: min(needed, max(capacity, 0))), capacity, detail)
        }
    }

    /// mdevs on a target's parents: resolve the types, keep matching mdevs, prune the rest, place the new.
    mutating func planMdev(_ target: Planner.Target, _ mine: [DesiredPartition]) {
        let catalogue = MdevCatalogue(target.parents)
        let resolved = resolveTypes(mine, in: catalogue.refs, on: target, offers: "it offers")
        var kept = MdevOccupancy()
        let toCreate = keepMdevs(resolved, on: target, &kept)
        pruneMdevs(on: target, sparing: Set(mine.compactMap(\.uuid)), &kept)
        checkHomogeneous(target, wanted: resolved, keptUndeclared: kept.keptUndeclared)
        placeMdevs(toCreate, on: target, types: catalogue.byID, kept: kept)
    }

    /// The PCI address a VM sees for an mdev on `parent`: the VF when the parent is one, else the GPU.
    private func mdevAddress(_ parent: String, on target: Planner.Target) -> String? {
        inventory.parent(parent)?.isVF == true ? parent : target.gpu?.address
    }

    /// Keep: a declared mdev that exists on the target with the wanted type stays; one of another type, or on
    /// another parent, is destroyed. Returns the partitions to create, with their types.
    private mutating func keepMdevs(
        _ resolved: [(DesiredPartition, TypeRef)], on target: Planner.Target,
        _ kept: inout MdevOccupancy
    ) -> [(DesiredPartition, TypeRef)] {
        let parentNames = target.parentNames
        var toCreate: [(DesiredPartition, TypeRef)] = []
        for (partition, type) in resolved {
            var updated = partition
            updated.type = type.id
            updated.typeName = type.name
            if let uuid = partition.uuid, let existing = index.mdev(uuid) {
                if parentNames.contains(existing.parent) && existing.type == type.id {
                    kept.keep(type.id, on: existing.parent)
                    updated.parent = existing.parent
                    updated.address = mdevAddress(existing.parent, on: target)
                    replaceDesired(updated)
                    continue
                }
                destroyMdev(
                    existing, target: partition.name, gpu: target.gpu?.address,
                    reason: "it is of type '\(existing.type)' on '\(existing.parent)'; "
                        + "the manifest wants '\(type.id)' on \(target.label)")
            }
            replaceDesired(updated)
            toCreate.append((updated, type))
        }
        return toCreate
    }

    /// Prune: destroy the target's undeclared mdevs where prune lets them go; the others stay and take room.
    private mutating func pruneMdevs(
        on target: Planner.Target, sparing wanted: Set<String>,
        _ kept: inout MdevOccupancy
    ) {
        let parentNames = target.parentNames
        for mdev in index.mdevs(on: parentNames) where !wanted.contains(mdev.uuid) {
            let owned = index.owned(uuid: mdev.uuid)
            if let reason = pruneReason(owned: owned) {
                destroyMdev(mdev, target: owned?.name ?? mdev.uuid, gpu: target.gpu?.address, reason: reason)
            } else {
                kept.keep(mdev.type, on: mdev.parent)
                kept.keptUndeclared.append((mdev.uuid, mdev.type))
            }
        }
    }

    /// Place: group the creations by type, in manifest order, and place each group.
    private mutating func placeMdevs(
        _ toCreate: [(DesiredPartition, TypeRef)], on target: Planner.Target,
        types: [String: MdevType], kept: MdevOccupancy
    ) {
        let parentNames = target.parentNames
        let destroyedOnTarget = destroyActions.filter { $0.kind == .mdev && parentNames.contains($0.parent ?? "") }
        var room = MdevRoom(target: target, kept: kept, destroyed: destroyedOnTarget)
        var typeOrder: [String] = []
        var byType: [String: [DesiredPartition]] = [:]
        for (partition, type) in toCreate {
            if byType[type.id] == nil { typeOrder.append(type.id) }
            byType[type.id, default: []].append(partition)
        }
        for typeID in typeOrder { placeMdevs(byType[typeID]!, of: types[typeID]!, in: &room) }
    }

    /// Place: one type's new mdevs where there is room, or a diagnostic when there is not enough.
    private mutating func placeMdevs(_ partitions: [DesiredPartition], of type: MdevType, in room: inout MdevRoom) {
        let needed = partitions.count
        let (parents, capacity, detail) = room.take(needed, of: type)
        if needed > capacity {
            let names = partitions.map { "'\($0.name)'" }
            let shown =
                names.count > 4
                ? names.prefix(3).joined(separator: ", ") + " … \(names.last!)" : names.joined(separator: ", ")
            fail(
                "\(shown) need\(needed == 1 ? "s" : "") \(needed) new instance\(needed == 1 ? "" : "s") "
                    + "of '\(type.name)' on \(room.target.label), "
                    + "but only \(max(capacity, 0)) can be created (\(detail))",
                locations[partitions[0].name])
            return
        }
        for (partition, parent) in zip(partitions, parents) {
            createMdev(partition, on: parent, of: type, for: room.target)
        }
    }

    /// Place: record where a new mdev goes and plan its creation.
    private mutating func createMdev(
        _ partition: DesiredPartition, on parent: String, of type: MdevType,
        for target: Planner.Target
    ) {
        var placed = partition
        placed.parent = parent
        placed.address = mdevAddress(parent, on: target)
        replaceDesired(placed)
        let uuid = placed.uuid!
        createActions.append(
            PlannedAction(
                action: .create, target: placed.name,
                reason: index.mdev(uuid) == nil ? "declared, not present" : "recreated as '\(type.name)'",
                kind: .mdev, gpu: target.gpu?.address, parent: parent, type: type.id, typeName: type.name, uuid: uuid,
                address: placed.address, path: SysPath.mdevType(parent, type.id, "create"), value: uuid,
                precondition: .mdevAbsent(uuid: uuid, parent: parent, type: type.id),
                records: [
                    OwnedPartition(
                        name: placed.name, kind: .mdev, gpu: target.id, uuid: uuid,
                        address: placed.address, parent: parent, type: type.id, typeName: type.name)
                ]))
    }

    // MARK: vGPUs on VFs

    /// One GPU's vGPU-capable VFs, and which of them stay as they are.
    struct VFPool {
        var gpu: GPU
        var vfs: [VirtualFunction]
        /// VFs a declared partition keeps or adopts, and VFs whose undeclared vGPU forbc keeps.
        var claimed: Set<String> = []
        /// Undeclared vGPUs forbc keeps: (VF address, type id).
        var keptUndeclared: [(String, String)] = []
        /// Mixed-size mode: the placement ID each kept vGPU is taken to have (VF address → ID), as recorded or as
        /// NVML's read-back showed it; placing new vGPUs counts their slots as taken.
        var placements: [String: Int] = [:]

        init(gpu: GPU, vfs: [VirtualFunction]) {
            self.gpu = gpu
            self.vfs = vfs
        }
    }

    /// vGPUs on a GPU's VFs: resolve the types, keep (or adopt) matching VFs, prune the rest, place the new.
    mutating func planVFvGPU(
        _ target: Planner.Target, _ mine: [DesiredPartition], _ vfs: [VirtualFunction], mode: VGPUModeSpec? = nil
    ) {
        var pool = VFPool(gpu: target.gpu!, vfs: vfs)
        let resolved = resolveTypes(mine, in: vgpuCatalogue(pool), on: target, offers: "its VFs offer")
        let checks = placementChecks(resolved, on: target, pool)
        let unplaced = keepRecordedVFs(resolved, &pool, checks: checks)
        let remaining = adoptVFs(unplaced, &pool)
        pruneVFs(&pool)
        if let mode { planVGPUMode(mode, target) }
        guard mode?.mode == .mixedSize else {
            checkHomogeneous(target, wanted: resolved, keptUndeclared: pool.keptUndeclared)
            return placeVFs(remaining, on: target, pool)
        }
        guard let placed = placeMixed(remaining, on: target, pool) else { return }
        placeVFs(placed.map { ($0.0, $0.1) }, on: target, pool, placements: placed.map(\.2))
    }

    /// Resolve: the vGPU types the VFs offer, then those recorded on the GPU.
    private func vgpuCatalogue(_ pool: VFPool) -> [TypeRef] {
        var catalogue: [TypeRef] = []
        func add(_ id: String, _ name: String) {
            if !catalogue.contains(where: { $0.id == id }) { catalogue.append(TypeRef(id: id, name: name)) }
        }
        for vf in pool.vfs { for type in vf.vgpu!.creatable { add("\(type.id)", type.name) } }
        // A type in use may be listed nowhere once its pool is full: recorded names still resolve.
        for owned in state.partitions where owned.kind == .vgpuVF && owned.gpu == pool.gpu.address {
            if let id = owned.type, let name = owned.typeName { add(id, name) }
        }
        return catalogue
    }

    /// Keep: a partition whose recorded VF holds the wanted type stays there (at the placement `checks` gives, in
    /// mixed-size mode), unless its confirmed placement shows it moved; a recorded VF holding another type is
    /// cleared. Returns the partitions still without a VF.
    private mutating func keepRecordedVFs(
        _ resolved: [(DesiredPartition, TypeRef)],
        _ pool: inout VFPool, checks: [String: PlacementCheck]
    ) -> [(DesiredPartition, TypeRef)] {
        let byAddress = Dictionary(uniqueKeysWithValues: pool.vfs.map { ($0.address, $0) })
        var unplaced: [(DesiredPartition, TypeRef)] = []
        for (partition, type) in resolved {
            var updated = partition
            updated.kind = .vgpuVF
            updated.type = type.id
            updated.typeName = type.name
            if let owned = index.owned(name: partition.name), owned.kind == .vgpuVF, let address = owned.address,
                let vf = byAddress[address]
            {
                let current = vf.vgpu!.current
                if "\(current)" == type.id {
                    let check =
                        checks[partition.name]
                        ?? owned.placement.map { .kept(placement: $0, confirmed: owned.placementConfirmed == true) }
                    if case .moved(let placement) = check {
                        // Mixed-size mode: NVML lists every vGPU of this type, none at its confirmed placement.
                        destroyVGPU(
                            vf, gpu: pool.gpu.address, target: partition.name,
                            reason: "NVML reports no vGPU of type \(current) at its recorded placement ID "
                                + "\(placement) (nvmlVgpuInstanceGetPlacementId): it was moved")
                    } else {
                        keep(updated, on: address, check, &pool)
                        continue
                    }
                } else if current != 0 {
                    destroyVGPU(
                        vf, gpu: pool.gpu.address, target: partition.name,
                        reason: "it holds type \(current); the manifest wants '\(type.name)'")
                }
            }
            unplaced.append((updated, type))
        }
        return unplaced
    }

    /// Keep: the partition stays on the VF at `address`, at the placement `check` gives (none outside mixed-size).
    private mutating func keep(
        _ partition: DesiredPartition, on address: String, _ check: PlacementCheck?, _ pool: inout VFPool
    ) {
        var updated = partition
        pool.claimed.insert(address)
        if case .kept(let placement, let confirmed) = check {
            updated.placement = placement
            updated.placementConfirmed = confirmed ? true : nil
            pool.placements[address] = placement
        }
        updated.address = address
        updated.parent = address
        replaceDesired(updated)
    }

    /// Keep: adopt VFs that already hold the wanted type and that no record claims (state lost, or made by
    /// hand). Returns the partitions still without a VF.
    private mutating func adoptVFs(
        _ unplaced: [(DesiredPartition, TypeRef)],
        _ pool: inout VFPool
    ) -> [(DesiredPartition, TypeRef)] {
        let recordedAddresses = Set(state.partitions.filter { $0.kind == .vgpuVF }.compactMap(\.address))
        var remaining: [(DesiredPartition, TypeRef)] = []
        for (partition, type) in unplaced {
            if index.owned(name: partition.name) == nil,
                let vf = pool.vfs.first(where: {
                    !pool.claimed.contains($0.address) && !recordedAddresses.contains($0.address)
                        && "\($0.vgpu!.current)" == type.id
                })
            {
                pool.claimed.insert(vf.address)
                var adopted = partition
                adopted.address = vf.address
                adopted.parent = vf.address
                replaceDesired(adopted)
                continue
            }
            remaining.append((partition, type))
        }
        return remaining
    }

    /// Prune: clear the undeclared vGPUs where prune lets them go; the others stay and keep their VFs.
    private mutating func pruneVFs(_ pool: inout VFPool) {
        for vf in pool.vfs
        where vf.vgpu!.current != 0 && !pool.claimed.contains(vf.address) && !destroyed.contains(vf.address) {
            let owned = state.partitions.first { $0.kind == .vgpuVF && $0.address == vf.address }
            if let reason = pruneReason(owned: owned) {
                destroyVGPU(vf, gpu: pool.gpu.address, target: owned?.name ?? vf.address, reason: reason)
            } else {
                pool.claimed.insert(vf.address)
                pool.keptUndeclared.append((vf.address, "\(vf.vgpu!.current)"))
            }
        }
    }

    /// Place: each remaining partition on a free VF that offers its type (its recorded VF first); the first that
    /// finds none gets a diagnostic and placing stops.
    private mutating func placeVFs(
        _ remaining: [(DesiredPartition, TypeRef)], on target: Planner.Target,
        _ pool: VFPool, placements: [Int]? = nil
    ) {
        var free = pool.vfs.filter {
            !pool.claimed.contains($0.address) && ($0.vgpu!.current == 0 || destroyed.contains($0.address))
        }
        for (i, (partition, type)) in remaining.enumerated() {
            let offering = free.filter {
                destroyed.contains($0.address) || $0.vgpu!.creatable.contains { "\($0.id)" == type.id }
            }
            // The VF a partition had before (recorded) keeps its PCI address stable for the VM.
            let recorded = index.owned(name: partition.name)?.address
            guard let vf = offering.first(where: { $0.address == recorded }) ?? offering.first else {
                let wanted = remaining.filter { $0.1 == type }.count
                fail(
                    "'\(partition.name)' needs a VF for '\(type.name)' on \(target.label), but none is free "
                        + "(\(wanted) wanted; VFs offering it: \(offering.count))",
                    locations[partition.name])
                break
            }
            free.removeAll { $0.address == vf.address }
            createVGPU(partition, type, on: vf, gpu: pool.gpu, placement: placements?[i])
        }
    }

    /// Place: record which VF a new vGPU takes and plan setting its type there.
    private mutating func createVGPU(
        _ partition: DesiredPartition, _ type: TypeRef, on vf: VirtualFunction,
        gpu: GPU, placement: Int? = nil
    ) {
        var placed = partition
        placed.address = vf.address
        placed.parent = vf.address
        placed.placement = placement
        replaceDesired(placed)
        createActions.append(
            PlannedAction(
                action: .create, target: placed.name,
                reason: "declared, not present" + (placement.map { "; mixed-size placement ID \($0)" } ?? ""),
                kind: .vgpuVF, gpu: gpu.address,
                parent: vf.address, type: type.id, typeName: type.name, uuid: placed.uuid, address: vf.address,
                path: SysPath.pci(vf.address, "nvidia/current_vgpu_type"), value: type.id,
                precondition: .vgpuType(vf: vf.address, current: destroyed.contains(vf.address) ? 0 : vf.vgpu!.current),
                records: [
                    OwnedPartition(
                        name: placed.name, kind: .vgpuVF, gpu: gpu.address, uuid: placed.uuid,
                        address: vf.address, parent: vf.address, type: type.id, typeName: type.name,
                        placement: placement)
                ]))
    }
}

extension Planner.Target {
    /// The names of the target's mdev parents.
    fileprivate var parentNames: Set<String> { Set(parents.map(\.name)) }
}
