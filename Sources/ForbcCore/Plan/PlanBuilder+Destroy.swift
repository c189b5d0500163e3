extension Planner {
    /// The plan of `forbc destroy`: remove every partition the manifest declares that exists, and what forbc
    /// recorded on the GPUs it selects; nothing else. Throws when a selection fails or a VF is in use.
    public func destroyPlan() throws -> Plan {
        var work = PlanBuilder(manifest: manifest, inventory: inventory, state: state)
        work.force = force
        work.buildDestroy()
        if work.errors.isEmpty { work.planAttachments(force: force, detachOnly: true) }
        if !work.errors.isEmpty { throw DiagnosticsError(work.errors) }
        return Plan(
            host: manifest.name, simulated: inventory.simulated,
            actions: work.detachActions + work.destroyActions + work.configureActions,
            createActions: [], partitions: [], prune: manifest.prune)
    }
}

extension PlanBuilder {
    /// Why `forbc destroy` removes each partition.
    private static let destroyReason = "'forbc destroy' removes what the manifest manages"

    /// The work of `forbc destroy`: select and name as `build` does, then destroy what is declared or recorded.
    mutating func buildDestroy() {
        let selections = selectForDestroy()
        for (spec, targets) in selections { expand(spec, targets) }
        guard errors.isEmpty else { return }
        for partition in desired { destroyDeclared(partition) }
        destroyRecordedUnderOldNames()
        if errors.isEmpty { destroyMIGMode() }
    }

    /// Select: the targets of every `gpus[]` entry; one that matches nothing gets a diagnostic.
    private mutating func selectForDestroy() -> [(GPUSpec, [Planner.Target])] {
        var selections: [(GPUSpec, [Planner.Target])] = []
        for spec in manifest.gpus {
            let targets = matches(spec.select)
            if targets.isEmpty {
                fail("select \(spec.select) matches no GPU; \(hostGPUs)", spec.location)
                continue
            }
            for target in targets { targetedIDs.insert(target.id) }
            selections.append((spec, targets))
        }
        return selections
    }

    /// Destroy: one declared partition where it exists, then a vGPU on a VF recorded under its name.
    private mutating func destroyDeclared(_ partition: DesiredPartition) {
        let reason = Self.destroyReason
        let owned = index.owned(name: partition.name)
        switch partition.kind {
        case .mdev:
            if let uuid = partition.uuid, let mdev = index.mdev(uuid) {
                destroyMdev(mdev, target: partition.name, gpu: inventory.parent(mdev.parent)?.gpu, reason: reason)
            }
        case .mig:
            if let owned { destroyDeclaredMIG(partition, recorded: owned) }
        case .vgpuVF, .passthrough:
            break
        case .amdXCP:
            // A partition mode is not removed: the GPU keeps the modes it has (SPX/NPS1 is a mode like the others).
            break
        case .mps:
            if let owned, owned.kind == .mps { destroyMPS(owned, reason: reason) }
        case .sriovVF:
            guard disableDeclaredVFs(partition) else { return }
        }
        // Declared vGPUs on VFs, and anything recorded under a declared name.
        if let owned, owned.kind == .vgpuVF, let address = owned.address, let gpu = inventory.gpu(owned.gpu),
            let vf = gpu.vfs.first(where: { $0.address == address }), (vf.vgpu?.current ?? 0) != 0
        {
            destroyVGPU(vf, gpu: gpu.address, target: owned.name, reason: reason)
            // A MIG-backed vGPU: its GPU instance goes after it.
            if let id = vf.vgpu?.gpuInstance, let mig = gpu.mig,
                let instance = mig.instances.first(where: { $0.id == id })
            {
                destroyMIG(instance, mig, gpu, name: owned.name, reason: reason)
            }
        }
    }

    /// Destroy: the MIG instance recorded for a declared partition, unless it runs processes and `--force` is off.
    private mutating func destroyDeclaredMIG(_ partition: DesiredPartition, recorded owned: OwnedPartition) {
        guard let mig = inventory.gpu(partition.gpu)?.mig, let gpu = inventory.gpu(partition.gpu),
            let instance = mig.instances.first(where: {
                $0.placement.start == owned.placement && mig.profile(id: $0.profileID)?.name == owned.type
            })
        else { return }
        if instance.processes > 0 && !force {
            fail(
                "MIG instance '\(partition.name)' runs \(instance.processes) process(es); forbc never destroys an "
                    + "instance in use: stop them, or pass '--force'",
                locations[partition.name])
        } else {
            destroyMIG(instance, mig, gpu, name: partition.name, reason: Self.destroyReason)
        }
    }

    /// Destroy: disable the VFs of a declared VF's GPU, once per GPU; false (with a diagnostic) when one is in use.
    private mutating func disableDeclaredVFs(_ partition: DesiredPartition) -> Bool {
        guard let gpu = inventory.gpu(partition.gpu), let sriov = gpu.sriov, sriov.numVFs > 0,
            !destroyed.contains(gpu.address)
        else { return true }
        destroyed.insert(gpu.address)
        if let use = firstUse(gpu) {
            fail(
                "cannot disable the VFs of \(label(gpu)): \(use); detach and remove it first",
                locations[partition.name])
            return false
        }
        let base = partition.name.split(separator: "-").dropLast().joined(separator: "-")
        configureActions.append(
            PlannedAction(
                action: .configure, target: range(base, sriov.numVFs),
                reason: Self.destroyReason, kind: .sriovVF, gpu: gpu.address, address: gpu.address,
                path: SysPath.pci(gpu.address, "sriov_numvfs"), value: "0",
                precondition: .numVFs(pf: gpu.address, current: sriov.numVFs),
                forgets: state.partitions.filter { $0.kind == .sriovVF && $0.gpu == gpu.address }.map(\.name)))
        return true
    }

    /// Destroy: what forbc recorded on the selected GPUs under names the manifest no longer has.
    private mutating func destroyRecordedUnderOldNames() {
        let names = Set(desired.map(\.name))
        for owned in state.partitions where targetedIDs.contains(owned.gpu) && !names.contains(owned.name) {
            if owned.kind == .mdev, let uuid = owned.uuid, let mdev = index.mdev(uuid) {
                destroyMdev(mdev, target: owned.name, gpu: owned.gpu, reason: Self.destroyReason)
            } else if owned.kind == .mig {
                pruneUntargetedMIG(owned)
            } else if owned.kind == .mps {
                destroyMPS(owned, reason: Self.destroyReason)
            }
        }
    }
}

// Last in the file: the function-length check (Tests/style/function-lengths.py) reads `self.init(` as a
// declaration and would count its body on to the next opening brace.
extension Plan {
    /// A plan whose actions run in the order given, the creations last.
    init(
        host: String, simulated: Bool, actions: [PlannedAction], createActions: [PlannedAction],
        partitions: [DesiredPartition], prune: PrunePolicy
    ) {
        self.init(
            host: host, simulated: simulated, actions: actions + createActions, partitions: partitions,
            prune: prune)
    }
}
