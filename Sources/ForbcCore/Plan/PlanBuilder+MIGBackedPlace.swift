/// Placing MIG-backed vGPUs: GPU instances first (those no vGPU lives on are used before new ones, as the driver
/// does), then one free VF each.
extension PlanBuilder {
    /// Place: instances for every partition (free ones first, then new ones where the MIG layout holds them), then
    /// a VF each; a layout that cannot hold them, or too few VFs, is one diagnostic and nothing placed.
    mutating func placeMIGBacked(_ wants: [MIGBackedWant], _ pool: MIGBackedPool, on target: Planner.Target) {
        guard !wants.isEmpty else { return }
        let staying = pool.mig.instances.filter { !destroyed.contains("mig:\(pool.gpu.address)/\($0.id)") }
        var free = staying.filter { !pool.claimedInstances.contains($0.id) }
        var fresh: [MIGBackedWant] = []
        var reused: [(MIGBackedWant, MIGInstance)] = []
        for want in wants {
            if let i = free.firstIndex(where: { $0.profileID == want.profile.id }) {
                reused.append((want, free.remove(at: i)))
            } else {
                fresh.append(want)
            }
        }
        let occupied = staying.reduce(UInt32(0)) { $0 | $1.placement.mask }
        var used: [Int: Int] = [:]
        for instance in staying { used[instance.profileID, default: 0] += 1 }
        guard let placements = MIGLayout.place(fresh.map(\.profile), occupied: occupied, used: used) else {
            let kept = staying.compactMap { i in pool.mig.profile(id: i.profileID).map { ($0, i.placement) } }
            fail(
                "\(fresh.map { "'\($0.partition.name)'" }.joined(separator: ", ")) need GPU instances "
                    + "\(fresh.map(\.profile.name).joined(separator: ", ")) for MIG-backed vGPUs on \(target.label), "
                    + "but its MIG layout cannot hold them: "
                    + MIGLayout.whyNot(fresh.map(\.profile), kept: kept),
                locations[fresh[0].partition.name])
            return
        }
        var vfs = freeVFs(pool)
        guard vfs.count >= wants.count else {
            fail(
                "\(wants.count) MIG-backed vGPU(s) need as many free VFs on \(target.label), and \(vfs.count) are "
                    + "free; enable more VFs ('sriov-manage -e \(pool.gpu.address)')",
                locations[wants[0].partition.name])
            return
        }
        let placed = reused.map { ($0.0, $0.1.placement, false) } + zip(fresh, placements).map { ($0, $1, true) }
        for (want, placement, create) in placed {
            let recorded = index.owned(name: want.partition.name)?.address
            let vf = vfs.first { $0.address == recorded } ?? vfs[0]
            vfs.removeAll { $0.address == vf.address }
            if create { createMIGBackedInstance(want, at: placement, pool) }
            createMIGBackedVGPU(want, on: vf, placement: placement, pool)
        }
    }

    /// VFs with no vGPU (or whose vGPU this plan destroys) that nothing keeps, in VF order.
    private func freeVFs(_ pool: MIGBackedPool) -> [VirtualFunction] {
        pool.gpu.vfs.filter { vf in
            guard vf.vgpu != nil, !pool.claimedVFs.contains(vf.address) else { return false }
            return vf.vgpu?.current == 0 || destroyed.contains(vf.address)
        }.sorted { $0.index < $1.index }
    }

    /// The GPU instance a MIG-backed vGPU will live on: no compute instance (the guest creates its own).
    private mutating func createMIGBackedInstance(
        _ want: MIGBackedWant, at placement: MIGPlacement, _ pool: MIGBackedPool
    ) {
        let (gpu, mig, profile) = (pool.gpu, pool.mig, want.profile)
        createActions.append(
            PlannedAction(
                action: .create, target: want.partition.name,
                reason: "the MIG-backed vGPU '\(want.partition.name)' needs a '\(profile.name)' GPU instance",
                kind: .mig, gpu: gpu.address, type: "\(profile.id)", typeName: profile.name, address: gpu.address,
                path: "NVML nvmlDeviceCreateGpuInstanceWithPlacement(device \(mig.index))",
                value: "\(profile.name)@\(placement.start)",
                precondition: .migAbsent(
                    device: mig.index, gpu: gpu.address, profileID: profile.id, placement: placement,
                    computeSlices: nil, computeCount: nil, computeInstances: [])))
    }

    /// The vGPU itself: the type id written to the VF, recorded with the placement of its instance.
    private mutating func createMIGBackedVGPU(
        _ want: MIGBackedWant, on vf: VirtualFunction, placement: MIGPlacement, _ pool: MIGBackedPool
    ) {
        var placed = want.partition
        placed.address = vf.address
        placed.parent = vf.address
        placed.placement = placement.start
        replaceDesired(placed)
        let id = "\(want.type.id)"
        createActions.append(
            PlannedAction(
                action: .create, target: placed.name,
                reason: "declared, not present; it lives on the '\(want.profile.name)' GPU instance at slot "
                    + "\(placement.start)",
                kind: .vgpuVF, gpu: pool.gpu.address, parent: vf.address, type: id, typeName: want.type.name,
                uuid: placed.uuid, address: vf.address, path: SysPath.pci(vf.address, "nvidia/current_vgpu_type"),
                value: id,
                precondition: .vgpuType(
                    vf: vf.address, current: destroyed.contains(vf.address) ? 0 : vf.vgpu?.current ?? 0),
                records: [
                    OwnedPartition(
                        name: placed.name, kind: .vgpuVF, gpu: pool.gpu.address, uuid: placed.uuid, address: vf.address,
                        parent: vf.address, type: id, typeName: want.type.name, placement: placement.start)
                ]))
    }
}
