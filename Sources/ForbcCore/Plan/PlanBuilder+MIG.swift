/// Planning of MIG GPU instances: keep every instance the manifest still wants, place new ones around them
/// (exhaustive search of the placement table), and move a kept instance only when the wanted layout cannot be
/// reached otherwise, saying which one and why.
extension PlanBuilder {
    mutating func planMIG(_ spec: GPUSpec, _ target: Planner.Target, _ mine: [DesiredPartition]) {
        let location = spec.mig.first?.location ?? spec.location
        guard let gpu = target.gpu else {
            fail("MIG needs a PCI GPU; \(target.label) is not one", location)
            return
        }
        guard let mig = gpu.mig, !mig.profiles.isEmpty else {
            fail("\(target.label) has no MIG capability: \(gpu.mig == nil ? "NVML does not know this GPU (is NVIDIA's driver loaded?)" : "NVML lists no GPU-instance profile")",
                 location)
            return
        }
        let wanted = mine.filter { $0.kind == .mig }
        var resolved: [(DesiredPartition, MIGProfile)] = []
        for partition in wanted {
            guard var profile = mig.profile(named: partition.type ?? "") else {
                fail("MIG profile '\(partition.type ?? "")' is not offered by \(target.label); it offers: \(mig.profiles.map(\.name).joined(separator: ", "))",
                     locations[partition.name])
                continue
            }
            if let start = partition.placement {
                guard let placement = profile.placements.first(where: { $0.start == start }) else {
                    fail("'\(partition.name)': '\(profile.name)' cannot start at slot \(start) on \(target.label); its placements start at \(profile.placements.map { "\($0.start)" }.joined(separator: ", "))",
                         locations[partition.name])
                    continue
                }
                profile.placements = [placement]
            }
            if let slices = partition.computeSlices, profile.slices % slices != 0 {
                fail("'\(partition.name)': a \(profile.slices)-slice '\(profile.name)' does not split into compute instances of \(slices) slices", locations[partition.name])
                continue
            }
            resolved.append((partition, profile))
        }
        guard resolved.count == wanted.count else { return }

        // Match existing instances: first by what the state dir recorded, then adopt unrecorded ones of the same profile.
        let existing = mig.currentMode ? mig.instances : []
        let recorded = state.partitions.filter { $0.kind == .mig && $0.gpu == gpu.address }
        var claimed: Set<Int> = []
        var kept: [(DesiredPartition, MIGProfile, MIGInstance)] = []
        var new: [(DesiredPartition, MIGProfile)] = []
        func fits(_ instance: MIGInstance, _ profile: MIGProfile) -> Bool {
            instance.profileID == profile.id && profile.placements.contains(instance.placement)
        }
        for (partition, profile) in resolved {
            if let record = recorded.first(where: { $0.name == partition.name }),
               let instance = existing.first(where: { !claimed.contains($0.id) && $0.placement.start == record.placement && fits($0, profile) }) {
                claimed.insert(instance.id)
                kept.append((partition, profile, instance))
            } else {
                new.append((partition, profile))
            }
        }
        let recordedStarts = Set(recorded.compactMap(\.placement))
        new = new.filter { partition, profile in
            guard let instance = existing.first(where: { !claimed.contains($0.id) && !recordedStarts.contains($0.placement.start) && fits($0, profile) }) else { return true }
            claimed.insert(instance.id)
            kept.append((partition, profile, instance))
            return false
        }
        // Instances the manifest does not declare.
        var foreign: [(MIGProfile, MIGInstance)] = []
        for instance in existing where !claimed.contains(instance.id) {
            let owned = recorded.first { $0.placement == instance.placement.start && mig.profile(id: instance.profileID)?.name == $0.type }
            let name = owned?.name ?? "gi\(instance.id)"
            if let reason = pruneReason(owned: owned) {
                if instance.processes > 0 && !force {
                    fail("MIG instance '\(name)' on \(target.label) runs \(instance.processes) process(es); forbc never destroys an instance in use: stop them, or pass '--force'", location)
                    continue
                }
                destroyMIG(instance, mig, gpu, name: name, reason: reason)
            } else if let profile = mig.profile(id: instance.profileID) {
                foreign.append((profile, instance))
            }
        }

        // Place the new instances around the kept ones; move kept ones only if nothing else fits.
        let fixedMask = foreign.reduce(UInt32(0)) { $0 | $1.1.placement.mask }
        var fixedUsed: [Int: Int] = [:]
        for (profile, _) in foreign { fixedUsed[profile.id, default: 0] += 1 }
        let keptLayout = kept.map { ($0.1, $0.2.placement) }
        guard let solution = MIGLayout.minimalMoves(kept: keptLayout, new: new.map(\.1), fixed: fixedMask, fixedUsed: fixedUsed) else {
            let kinds = resolved.map(\.1.name).sorted().joined(separator: ", ")
            fail("no MIG layout of {\(kinds)} fits \(target.label): \(MIGLayout.whyNot(resolved.map(\.1) + foreign.map(\.0), kept: []))\(foreign.isEmpty ? "" : " (with \(foreign.count) undeclared instance(s) forbc keeps)")",
                 location)
            return
        }
        for (index, (partition, profile, instance)) in kept.enumerated() {
            var updated = partition
            updated.placement = instance.placement.start
            updated.uuid = instance.uuids.first
            updated.access = instance.uuids.first.map { "CUDA_VISIBLE_DEVICES=\($0)" }
            updated.typeName = profile.name
            replaceDesired(updated)
            guard solution.moved.contains(index) else { continue }
            if instance.processes > 0 && !force {
                fail("'\(partition.name)' (\(profile.name) at slot \(instance.placement.start)) must move for the wanted layout to fit, but it runs \(instance.processes) process(es); stop them, or pass '--force'",
                     locations[partition.name])
                return
            }
            destroyMIG(instance, mig, gpu, name: partition.name,
                       reason: "the wanted layout cannot be reached with '\(partition.name)' at slot \(instance.placement.start): it must move")
        }
        let placedPartitions = new.map { ($0.0, $0.1) } + solution.moved.map { (kept[$0].0, kept[$0].1) }
        if !mig.currentMode {
            if mig.processes > 0 {
                fail("MIG mode of \(target.label) is off and \(mig.processes) compute process(es) use the GPU; MIG mode cannot change while it is in use", location)
                return
            }
            if !mig.pendingMode {
                configureActions.append(PlannedAction(
                    action: .configure, target: gpu.address,
                    reason: "MIG mode is off and the manifest declares MIG instances; the change may stay pending until a GPU reset",
                    kind: .mig, gpu: gpu.address, path: "NVML nvmlDeviceSetMigMode(device \(mig.index))", value: "1",
                    precondition: .migMode(device: mig.index, gpu: gpu.address, enabled: true)))
            }
        }
        for ((partition, profile), placement) in zip(placedPartitions, solution.placements) {
            var placed = partition
            placed.placement = placement.start
            placed.typeName = profile.name
            replaceDesired(placed)
            var reason = existing.isEmpty && !mig.currentMode ? "declared, not present; created once MIG mode is on" : "declared, not present"
            if mig.pendingMode && !mig.currentMode { reason += " (MIG mode is pending a GPU reset)" }
            createActions.append(PlannedAction(
                action: .create, target: partition.name, reason: reason, kind: .mig, gpu: gpu.address, type: "\(profile.id)",
                typeName: profile.name, address: gpu.address,
                path: "NVML nvmlDeviceCreateGpuInstanceWithPlacement(device \(mig.index))", value: "\(profile.name)@\(placement.start)",
                precondition: .migAbsent(device: mig.index, gpu: gpu.address, profileID: profile.id, placement: placement, computeSlices: partition.computeSlices),
                records: [OwnedPartition(name: partition.name, kind: .mig, gpu: gpu.address, address: gpu.address, type: profile.name,
                                         typeName: profile.name, placement: placement.start)]))
        }
    }

    mutating func destroyMIG(_ instance: MIGInstance, _ mig: MIGState, _ gpu: GPU, name: String, reason: String) {
        let profile = mig.profile(id: instance.profileID)
        destroyActions.append(PlannedAction(
            action: .destroy, target: name, reason: reason, kind: .mig, gpu: gpu.address, type: "\(instance.profileID)",
            typeName: profile?.name, uuid: instance.uuids.first, address: gpu.address,
            path: "NVML nvmlGpuInstanceDestroy(device \(mig.index), GPU instance \(instance.id))", value: "\(profile?.name ?? "?")@\(instance.placement.start)",
            precondition: .migPresent(device: mig.index, gpu: gpu.address, profileID: instance.profileID, placement: instance.placement),
            forgets: state.partitions.contains { $0.name == name } ? [name] : []))
    }
}
