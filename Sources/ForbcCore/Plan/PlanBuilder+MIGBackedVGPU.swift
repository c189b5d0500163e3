/// Planning of NVIDIA's MIG-backed vGPU on SR-IOV VFs (A100/H100 with vGPU 17+): a vGPU type that lives on a GPU
/// instance of one MIG profile (A100-3-20C on a 3g.20gb). In one plan forbc turns MIG mode on, creates the GPU
/// instances through NVML (as the MIG backend does, without compute instances: the guest makes its own), then
/// writes the type to a free VF's `nvidia/current_vgpu_type`; it destroys in reverse (the VF's type to 0, then the
/// instance). The driver puts a vGPU on a free GPU instance of the type's profile, so the planner counts every
/// instance no vGPU lives on as the first to be used (NVIDIA vGPU user guide, "MIG-Backed NVIDIA vGPU Internal
/// Architecture" and "Creating an NVIDIA vGPU on a Linux with KVM Hypervisor").
extension PlanBuilder {
    /// A declared MIG-backed vGPU with its type and the GPU-instance profile the type lives on.
    struct MIGBackedWant {
        var partition: DesiredPartition
        var type: NVMLVGPUType
        var profile: MIGProfile
    }

    /// What stays on the GPU: VFs and GPU instances that kept (or kept foreign) vGPUs use.
    struct MIGBackedPool {
        var gpu: GPU
        var mig: MIGState
        var claimedVFs: Set<String> = []
        var claimedInstances: Set<Int> = []
    }

    /// Whether `spec`'s vGPUs on `target` are MIG-backed types of NVML's catalogue (the entry is then planned here,
    /// and the MIG backend leaves the GPU's instances alone).
    func isMIGBacked(_ spec: GPUSpec, _ target: Planner.Target) -> Bool {
        guard !spec.vgpu.isEmpty, let types = target.gpu?.vgpuTypes else { return false }
        let refs = types.map { TypeRef(id: "\($0.id)", name: $0.name) }
        return spec.vgpu.contains { entry in
            Self.resolve(entry.type, in: refs).flatMap { ref in types.first { "\($0.id)" == ref.id } }?
                .gpuInstanceProfileID != nil
        }
    }

    /// Resolve, keep (or adopt), prune, then place the MIG-backed vGPUs of one GPU.
    mutating func planMIGBackedVGPU(_ target: Planner.Target, _ mine: [DesiredPartition]) {
        guard let gpu = target.gpu, let mig = gpu.mig, let types = gpu.vgpuTypes else { return }
        let failures = errors.count
        let wants = resolveMIGBacked(mine, types: types, mig: mig, on: target)
        guard errors.count == failures else { return }
        var pool = MIGBackedPool(gpu: gpu, mig: mig)
        let unplaced = adoptMIGBacked(keepMIGBacked(wants, &pool), &pool)
        pruneMIGBacked(&pool)
        guard errors.count == failures, enableMIGModeForVGPU(pool, target: target, at: mine.first) else { return }
        placeMIGBacked(unplaced, pool, on: target)
    }

    /// Resolve: each partition's type in NVML's catalogue, and the profile it lives on; a time-sliced type among
    /// MIG-backed ones is refused (a GPU is in MIG mode or not).
    private mutating func resolveMIGBacked(
        _ mine: [DesiredPartition], types: [NVMLVGPUType], mig: MIGState, on target: Planner.Target
    ) -> [MIGBackedWant] {
        let refs = types.map { TypeRef(id: "\($0.id)", name: $0.name) }
        var wants: [MIGBackedWant] = []
        for (partition, ref) in resolveTypes(mine, in: refs, on: target, offers: "NVML lists") {
            guard let type = types.first(where: { "\($0.id)" == ref.id }) else { continue }
            let short = type.name.replacingOccurrences(of: "NVIDIA ", with: "")
            guard let profileID = type.gpuInstanceProfileID, let profile = mig.profile(id: profileID) else {
                // vGPU user guide: a GPU in MIG mode holds MIG-backed vGPUs only; time-sliced ones need it off.
                fail(
                    "'\(partition.name)' wants '\(short)', a time-sliced type, on \(target.label), whose other vGPUs "
                        + "are MIG-backed; a GPU holds MIG-backed vGPUs (MIG mode on) or time-sliced vGPUs (MIG mode "
                        + "off), not both",
                    locations[partition.name])
                continue
            }
            var updated = partition
            updated.kind = .vgpuVF
            updated.type = ref.id
            updated.typeName = type.name
            replaceDesired(updated)
            wants.append(MIGBackedWant(partition: updated, type: type, profile: profile))
        }
        return wants
    }

    /// Keep: a partition whose recorded VF still holds its type stays, with the instance it lives on; a recorded
    /// VF of another type is cleared, its instance too. Returns the partitions still to create.
    private mutating func keepMIGBacked(_ wants: [MIGBackedWant], _ pool: inout MIGBackedPool) -> [MIGBackedWant] {
        var unplaced: [MIGBackedWant] = []
        for want in wants {
            guard let owned = index.owned(name: want.partition.name), owned.kind == .vgpuVF,
                let vf = pool.gpu.vfs.first(where: { $0.address == owned.address }), let vgpu = vf.vgpu
            else {
                unplaced.append(want)
                continue
            }
            if vgpu.current == want.type.id {
                pool.claimedVFs.insert(vf.address)
                var kept = want.partition
                kept.address = vf.address
                kept.parent = vf.address
                kept.placement = pool.mig.instances.first { $0.id == vgpu.gpuInstance }?.placement.start
                replaceDesired(kept)
                if let instance = vgpu.gpuInstance { pool.claimedInstances.insert(instance) }
                continue
            }
            if vgpu.current != 0 {
                destroyMIGBacked(
                    vf, pool, name: want.partition.name,
                    reason: "it holds type \(vgpu.current); the manifest wants '\(want.type.name)'")
            }
            unplaced.append(want)
        }
        return unplaced
    }

    /// Keep: adopt VFs that already hold the wanted type on a GPU instance of its profile and that no record
    /// claims (state lost, or made by hand), as time-sliced vGPUs on VFs are adopted; the instance
    /// (`nvidia/gpu_instance_id`) comes with it. Returns the partitions still to create.
    private mutating func adoptMIGBacked(_ unplaced: [MIGBackedWant], _ pool: inout MIGBackedPool) -> [MIGBackedWant] {
        let recorded = Set(state.partitions.filter { $0.kind == .vgpuVF }.compactMap(\.address))
        var remaining: [MIGBackedWant] = []
        for want in unplaced {
            guard index.owned(name: want.partition.name) == nil,
                let (vf, instance) = adoptable(want, pool, recorded: recorded)
            else {
                remaining.append(want)
                continue
            }
            pool.claimedVFs.insert(vf.address)
            pool.claimedInstances.insert(instance.id)
            var adopted = want.partition
            adopted.address = vf.address
            adopted.parent = vf.address
            adopted.placement = instance.placement.start
            replaceDesired(adopted)
        }
        return remaining
    }

    /// Adopt: the first VF (in VF order) that nothing claims or records, holding `want`'s type on an unclaimed GPU
    /// instance of its profile, with that instance.
    private func adoptable(_ want: MIGBackedWant, _ pool: MIGBackedPool, recorded: Set<String>)
        -> (VirtualFunction, MIGInstance)?
    {
        for vf in pool.gpu.vfs.sorted(by: { $0.index < $1.index })
        where !pool.claimedVFs.contains(vf.address) && !recorded.contains(vf.address)
            && vf.vgpu?.current == want.type.id
        {
            if let instance = pool.mig.instances.first(where: {
                $0.id == vf.vgpu?.gpuInstance && $0.profileID == want.profile.id
                    && !pool.claimedInstances.contains($0.id)
            }) {
                return (vf, instance)
            }
        }
        return nil
    }

    /// Prune: undeclared vGPUs on the GPU's VFs go (with their instance) where prune lets them; others stay.
    private mutating func pruneMIGBacked(_ pool: inout MIGBackedPool) {
        for vf in pool.gpu.vfs where (vf.vgpu?.current ?? 0) != 0 && !pool.claimedVFs.contains(vf.address) {
            let owned = state.partitions.first { $0.kind == .vgpuVF && $0.address == vf.address }
            if let reason = pruneReason(owned: owned) {
                destroyMIGBacked(vf, pool, name: owned?.name ?? vf.address, reason: reason)
            } else {
                pool.claimedVFs.insert(vf.address)
                if let instance = vf.vgpu?.gpuInstance { pool.claimedInstances.insert(instance) }
            }
        }
    }

    /// Destroy in reverse order: the VF's type to 0, then the GPU instance the vGPU lived on.
    private mutating func destroyMIGBacked(_ vf: VirtualFunction, _ pool: MIGBackedPool, name: String, reason: String) {
        destroyVGPU(vf, gpu: pool.gpu.address, target: name, reason: reason)
        if let id = vf.vgpu?.gpuInstance, let instance = pool.mig.instances.first(where: { $0.id == id }) {
            destroyMIG(
                instance, pool.mig, pool.gpu, name: name,
                reason: "the vGPU '\(name)' lived on it, and it goes with it")
        }
    }

    /// MIG mode on before any GPU instance: refused while a time-sliced vGPU stays on the GPU.
    private mutating func enableMIGModeForVGPU(
        _ pool: MIGBackedPool, target: Planner.Target, at first: DesiredPartition?
    ) -> Bool {
        let mig = pool.mig
        guard !mig.currentMode && !mig.pendingMode else { return true }
        if let vf = pool.gpu.vfs.first(where: { pool.claimedVFs.contains($0.address) && ($0.vgpu?.current ?? 0) != 0 })
        {
            fail(
                "MIG mode of \(target.label) must go on for MIG-backed vGPUs, but the time-sliced vGPU on "
                    + "\(vf.address) stays ('prune' is '\(prune.rawValue)'); remove it, or set 'prune: all'",
                first.flatMap { locations[$0.name] })
            return false
        }
        configureActions.append(
            PlannedAction(
                action: .configure, target: pool.gpu.address,
                reason: "MIG mode is off and the manifest declares MIG-backed vGPUs", kind: .mig,
                gpu: pool.gpu.address, path: "NVML nvmlDeviceSetMigMode(device \(mig.index))", value: "1",
                precondition: .migMode(device: mig.index, gpu: pool.gpu.address, enabled: true)))
        return true
    }
}
