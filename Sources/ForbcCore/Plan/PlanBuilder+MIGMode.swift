/// MIG beyond the instances a `mig:` list declares: a GPU whose entry is another kind (or `migMode: disabled`)
/// loses the instances forbc made there, `migMode: disabled` turns the mode off, and instances on GPUs the
/// manifest no longer selects are pruned like every other kind.
extension PlanBuilder {
    /// A GPU whose entry declares no MIG instances: prune its instances as the manifest's `prune` says, and with
    /// `migMode: disabled` destroy forbc's instances and turn the mode off.
    mutating func planMIGOff(_ spec: GPUSpec, _ target: Planner.Target) {
        let disabling = spec.migMode == false
        guard let gpu = target.gpu, let mig = gpu.mig else {
            if disabling {
                fail("'migMode' is declared for \(target.label), which NVML does not know", spec.location)
            }
            return
        }
        if mig.currentMode {
            let failures = errors.count
            let kept = pruneMIGOff(gpu, mig, spec: spec, target: target, disabling: disabling)
            guard errors.count == failures else { return }
            if disabling && kept > 0 {
                fail(
                    "MIG mode of \(target.label) cannot turn off: \(kept) instance(s) that forbc did not create "
                        + "remain ('prune' is '\(prune.rawValue)'); destroy them, or set 'prune: all'",
                    spec.location)
                return
            }
        }
        if disabling { disableMIGMode(gpu, mig, spec: spec, target: target) }
    }

    /// The instances of a GPU that no longer holds MIG instances: destroys those prune (or `migMode: disabled`,
    /// for forbc's own) lets go; returns how many stay.
    private mutating func pruneMIGOff(
        _ gpu: GPU, _ mig: MIGState, spec: GPUSpec, target: Planner.Target, disabling: Bool
    ) -> Int {
        let recorded = state.partitions.filter { $0.kind == .mig && $0.gpu == gpu.address }
        let why = disabling ? "MIG mode is declared 'disabled'" : "the GPU's entry declares no MIG instances"
        var kept = 0
        for instance in mig.instances {
            let owned = recorded.first {
                $0.placement == instance.placement.start && mig.profile(id: instance.profileID)?.name == $0.type
            }
            let name = owned?.name ?? Self.unrecordedMIGName(instance, on: gpu)
            let reason =
                disabling && owned != nil
                ? "forbc created it as '\(name)' and \(why)" : pruneReason(owned: owned).map { "\($0); \(why)" }
            guard let reason else {
                kept += 1
                continue
            }
            if instance.processes > 0 && !force {
                fail(
                    "MIG instance '\(name)' on \(target.label) runs \(instance.processes) process(es); forbc never "
                        + "destroys an instance in use: stop them, or pass '--force'",
                    spec.location)
                continue
            }
            destroyMIG(instance, mig, gpu, name: name, reason: reason)
        }
        return kept
    }

    /// Turns MIG mode off when it is on or pending on; refused while processes use the GPU unless `--force`.
    private mutating func disableMIGMode(_ gpu: GPU, _ mig: MIGState, spec: GPUSpec, target: Planner.Target) {
        guard mig.currentMode || mig.pendingMode else { return }
        if mig.processes > 0 && !force {
            fail(
                "MIG mode of \(target.label) is declared 'disabled' but \(mig.processes) compute process(es) use "
                    + "the GPU; stop them, or pass '--force'",
                spec.location)
            return
        }
        var reason = "MIG mode is on and the manifest declares 'migMode: disabled'"
        if !mig.currentMode {
            reason = "MIG mode is pending on and the manifest declares 'migMode: disabled'"
        } else if !mig.pendingMode {
            reason += "; the change is pending a GPU reset (apply --reset-gpu)"
        } else {
            reason += "; the change may stay pending until a GPU reset"
        }
        configureActions.append(
            PlannedAction(
                action: .configure, target: gpu.address, reason: reason, kind: .mig, gpu: gpu.address,
                path: "NVML nvmlDeviceSetMigMode(device \(mig.index))", value: "0",
                precondition: .migMode(device: mig.index, gpu: gpu.address, enabled: false)))
    }

    /// An instance forbc recorded on a GPU the manifest no longer selects: destroyed (prune is not `none`).
    mutating func pruneUntargetedMIG(_ owned: OwnedPartition) {
        guard let gpu = inventory.gpu(owned.gpu), let mig = gpu.mig, mig.currentMode,
            let instance = mig.instances.first(where: {
                $0.placement.start == owned.placement && mig.profile(id: $0.profileID)?.name == owned.type
            })
        else { return }
        if instance.processes > 0 && !force {
            fail(
                "MIG instance '\(owned.name)' on \(label(gpu)) runs \(instance.processes) process(es); forbc never "
                    + "destroys an instance in use: stop them, or pass '--force'",
                nil)
            return
        }
        destroyMIG(
            instance, mig, gpu, name: owned.name,
            reason: "forbc created it as '\(owned.name)' and the manifest no longer declares it")
    }

    /// A relabel never forgets a name the plan still declares (two instances may swap names).
    mutating func settleRelabels() {
        let names = Set(desired.map(\.name))
        for index in relabelActions.indices {
            relabelActions[index].forgets.removeAll { names.contains($0) }
        }
    }

    /// `forbc destroy`: MIG mode goes off on a GPU whose entry declares MIG once every instance there goes.
    mutating func destroyMIGMode() {
        for spec in manifest.gpus where spec.migMode == true {
            for target in matches(spec.select) {
                guard let gpu = target.gpu, let mig = gpu.mig, mig.currentMode || mig.pendingMode else { continue }
                let going = destroyActions.filter { $0.kind == .mig && $0.gpu == gpu.address }.count
                guard going == mig.instances.count, mig.processes == 0 || force else { continue }
                configureActions.append(
                    PlannedAction(
                        action: .configure, target: gpu.address,
                        reason: "'forbc destroy' removes what the manifest manages, MIG mode included",
                        kind: .mig, gpu: gpu.address, path: "NVML nvmlDeviceSetMigMode(device \(mig.index))",
                        value: "0", precondition: .migMode(device: mig.index, gpu: gpu.address, enabled: false)))
            }
        }
    }
}
