extension Planner {
    /// The plan of `forbc destroy`: remove every partition the manifest declares that exists, and what forbc
    /// recorded on the GPUs it selects; nothing else. Throws when a selection fails or a VF is in use.
    public func destroyPlan() throws -> Plan {
        var work = PlanBuilder(manifest: manifest, inventory: inventory, state: state)
        work.force = force
        work.buildDestroy()
        if work.errors.isEmpty { work.planAttachments(force: force, detachOnly: true) }
        if !work.errors.isEmpty { throw DiagnosticsError(work.errors) }
        return Plan(host: manifest.name, simulated: inventory.simulated, actions: work.detachActions + work.destroyActions + work.configureActions,
                    createActions: [], partitions: [], prune: manifest.prune)
    }
}

extension Plan {
    init(host: String, simulated: Bool, actions: [PlannedAction], createActions: [PlannedAction], partitions: [DesiredPartition], prune: PrunePolicy) {
        self.init(host: host, simulated: simulated, actions: actions + createActions, partitions: partitions, prune: prune)
    }
}

extension PlanBuilder {
    mutating func buildDestroy() {
        var selections: [(GPUSpec, [Planner.Target])] = []
        for spec in manifest.gpus {
            let targets = matches(spec.select)
            if targets.isEmpty { fail("select \(spec.select) matches no GPU; \(hostGPUs)", spec.location); continue }
            targets.forEach { targetedIDs.insert($0.id) }
            selections.append((spec, targets))
        }
        for (spec, targets) in selections { expand(spec, targets) }
        guard errors.isEmpty else { return }
        let reason = "'forbc destroy' removes what the manifest manages"
        for partition in desired {
            let owned = state.owned(name: partition.name)
            switch partition.kind {
            case .mdev:
                if let uuid = partition.uuid, let mdev = inventory.mdev(uuid) {
                    destroyMdev(mdev, target: partition.name, gpu: inventory.parent(mdev.parent)?.gpu, reason: reason)
                }
            case .mig:
                if let owned, let mig = inventory.gpu(partition.gpu)?.mig, let gpu = inventory.gpu(partition.gpu),
                   let instance = mig.instances.first(where: { $0.placement.start == owned.placement && mig.profile(id: $0.profileID)?.name == owned.type }) {
                    if instance.processes > 0 && !force {
                        fail("MIG instance '\(partition.name)' runs \(instance.processes) process(es); forbc never destroys an instance in use: stop them, or pass '--force'", locations[partition.name])
                    } else {
                        destroyMIG(instance, mig, gpu, name: partition.name, reason: reason)
                    }
                }
            case .vgpuVF, .passthrough:
                break
            case .sriovVF:
                if let gpu = inventory.gpu(partition.gpu), let sriov = gpu.sriov, sriov.numVFs > 0, !destroyed.contains(gpu.address) {
                    destroyed.insert(gpu.address)
                    if let use = firstUse(gpu) {
                        fail("cannot disable the VFs of \(label(gpu)): \(use); detach and remove it first", locations[partition.name])
                        continue
                    }
                    configureActions.append(PlannedAction(
                        action: .configure, target: range(partition.name.split(separator: "-").dropLast().joined(separator: "-"), sriov.numVFs),
                        reason: reason, kind: .sriovVF, gpu: gpu.address, address: gpu.address,
                        path: SysPath.pci(gpu.address, "sriov_numvfs"), value: "0", precondition: .numVFs(pf: gpu.address, current: sriov.numVFs),
                        forgets: state.partitions.filter { $0.kind == .sriovVF && $0.gpu == gpu.address }.map(\.name)))
                }
            }
            // Declared vGPUs on VFs, and anything recorded under a declared name.
            if let owned, owned.kind == .vgpuVF, let address = owned.address, let gpu = inventory.gpu(owned.gpu),
               let vf = gpu.vfs.first(where: { $0.address == address }), (vf.vgpu?.current ?? 0) != 0 {
                destroyVGPU(vf, gpu: gpu.address, target: owned.name, reason: reason)
            }
        }
        // What forbc recorded on the selected GPUs under names the manifest no longer has.
        let names = Set(desired.map(\.name))
        for owned in state.partitions where targetedIDs.contains(owned.gpu) && !names.contains(owned.name) {
            if owned.kind == .mdev, let uuid = owned.uuid, let mdev = inventory.mdev(uuid) {
                destroyMdev(mdev, target: owned.name, gpu: owned.gpu, reason: reason)
            }
        }
    }
}
