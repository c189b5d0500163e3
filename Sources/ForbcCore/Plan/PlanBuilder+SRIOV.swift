/// Planning of SR-IOV virtual functions and whole-GPU passthrough.
extension PlanBuilder {
    /// Why a VF cannot go away now, or nil when it is free.
    func useOf(_ vf: VirtualFunction) -> String? {
        if let mdev = inventory.mdevs.first(where: { $0.parent == vf.address && !destroyed.contains($0.uuid) }) {
            return "VF \(vf.address) holds mdev '\(mdev.uuid)'"
        }
        if let current = vf.vgpu?.current, current != 0, !destroyed.contains(vf.address) {
            return "VF \(vf.address) holds vGPU type \(current)"
        }
        if vf.driver == "vfio-pci" { return "VF \(vf.address) is bound to vfio-pci (assigned to a VM)" }
        return nil
    }

    func firstUse(_ gpu: GPU) -> String? {
        for vf in gpu.vfs { if let use = useOf(vf) { return use } }
        return nil
    }

    mutating func planSRIOV(_ spec: SRIOVSpec, _ target: Planner.Target, _ mine: [DesiredPartition]) {
        guard let gpu = target.gpu, let sriov = gpu.sriov else {
            fail("\(target.label) does not offer SR-IOV (it has no sriov_totalvfs)", spec.location)
            return
        }
        let wanted = spec.vfs
        let current = sriov.numVFs
        guard wanted <= sriov.totalVFs else {
            fail(
                "'\(spec.name)' asks for \(wanted) VFs on \(target.label), which offers at most \(sriov.totalVFs) "
                    + "(sriov_totalvfs)",
                spec.location)
            return
        }
        if !vfsHaveAddresses(spec, target, sriov, wanted: wanted) { return }
        let names = mine.filter { $0.kind == .sriovVF }.map(\.name)
        // VF addresses are known before the VFs exist: routing id of the PF + sriov_offset + n × sriov_stride.
        for (i, name) in names.enumerated() {
            if var partition = desired(named: name) {
                partition.address =
                    wanted == current && i < gpu.vfs.count
                    ? gpu.vfs[i].address : sriov.vfAddress(of: gpu.address, index: i)
                replaceDesired(partition)
            }
        }
        guard wanted != current else {
            relabelRecorded(
                .sriovVF, gpu: gpu.address,
                records: names.enumerated().map { i, name in
                    OwnedPartition(
                        name: name, kind: .sriovVF, gpu: gpu.address,
                        address: sriov.vfAddress(of: gpu.address, index: i))
                }, what: "sriov_numvfs \(current)", check: .numVFs(pf: gpu.address, current: current))
            return
        }
        if current > 0 {
            if let use = firstUse(gpu) {
                fail(
                    "cannot change sriov_numvfs of \(target.label) from \(current) to \(wanted): \(use); detach and "
                        + "remove it first",
                    spec.location)
                return
            }
            configureActions.append(disableVFs(spec, gpu, current: current, wanted: wanted))
        }
        if wanted > 0 { configureActions.append(enableVFs(spec, gpu, sriov, wanted: wanted, current: current, names)) }
    }

    /// Whether each of the `wanted` VFs has a PCI address (where offset and stride are known), failing at the spec
    /// when one would lie beyond bus ff: the kernel has no bus number for it. The stride is never negative, so the
    /// last VF lies furthest.
    mutating func vfsHaveAddresses(
        _ spec: SRIOVSpec, _ target: Planner.Target, _ sriov: SRIOVState, wanted: Int
    ) -> Bool {
        guard wanted > 0, let gpu = target.gpu, let offset = sriov.offset, let stride = sriov.stride,
            sriov.vfAddress(of: gpu.address, index: wanted - 1) == nil
        else { return true }
        fail(
            "'\(spec.name)' asks for \(wanted) VFs on \(target.label), but VF \(wanted - 1) would lie beyond bus "
                + "ff (sriov_offset \(offset), sriov_stride \(stride)): the kernel has no bus number for it; ask "
                + "for fewer VFs",
            spec.location)
        return false
    }

    /// Writing 0 to `sriov_numvfs`: to disable the VFs, or on the way to another non-zero count.
    func disableVFs(_ spec: SRIOVSpec, _ gpu: GPU, current: Int, wanted: Int) -> PlannedAction {
        let forgotten = state.partitions.filter { $0.kind == .sriovVF && $0.gpu == gpu.address }.map(\.name)
        return PlannedAction(
            action: .configure, target: range(spec.name, current),
            reason: wanted == 0
                ? "the manifest wants 0 VFs; \(current) are enabled"
                : "the manifest wants \(wanted) VFs and \(current) are enabled; the kernel refuses to "
                    + "change a non-zero count directly (EBUSY), so it goes through 0",
            kind: .sriovVF, gpu: gpu.address, address: gpu.address,
            path: SysPath.pci(gpu.address, "sriov_numvfs"), value: "0",
            precondition: .numVFs(pf: gpu.address, current: current), forgets: forgotten)
    }

    /// Writing the wanted count to `sriov_numvfs` (from 0), recording each VF under its name.
    func enableVFs(
        _ spec: SRIOVSpec, _ gpu: GPU, _ sriov: SRIOVState, wanted: Int, current: Int, _ names: [String]
    ) -> PlannedAction {
        PlannedAction(
            action: .configure, target: range(spec.name, wanted, names: names),
            reason: current == 0
                ? "declared, not present: the manifest wants \(wanted) VFs and none are enabled"
                : "re-enabled with \(wanted) VFs",
            kind: .sriovVF, gpu: gpu.address, address: gpu.address,
            path: SysPath.pci(gpu.address, "sriov_numvfs"), value: "\(wanted)",
            precondition: .numVFs(pf: gpu.address, current: 0),
            records: names.enumerated().map { i, name in
                OwnedPartition(
                    name: name, kind: .sriovVF, gpu: gpu.address,
                    address: sriov.vfAddress(of: gpu.address, index: i))
            })
    }

    func range(_ base: String, _ count: Int, names: [String]? = nil) -> String {
        if let names, let first = names.first, let last = names.last {
            return first == last ? first : "\(first)…\(last)"
        }
        return count == 1 ? "\(base)-0" : "\(base)-0…\(base)-\(count - 1)"
    }

    mutating func planPassthrough(_ spec: PassthroughSpec, _ target: Planner.Target) {
        guard let gpu = target.gpu else {
            fail("'\(spec.name)' asks for passthrough of \(target.label), which is not a PCI GPU", spec.location)
            return
        }
        // On the host (before a VM takes it), workloads reach the whole GPU by its UUID.
        if let uuid = gpu.mig?.uuid,
            var partition = desired.first(where: { $0.name == spec.name && $0.gpu == gpu.address })
        {
            partition.access = "CUDA_VISIBLE_DEVICES=\(uuid)"
            replaceDesired(partition)
        }
        let parentNames = Set(target.parents.map(\.name))
        for mdev in inventory.mdevs where parentNames.contains(mdev.parent) {
            let owned = index.owned(uuid: mdev.uuid)
            if let reason = pruneReason(owned: owned) {
                destroyMdev(
                    mdev, target: owned?.name ?? mdev.uuid, gpu: gpu.address,
                    reason: reason + "; '\(spec.name)' takes the whole GPU")
            } else {
                fail(
                    "\(target.label) is declared for passthrough as '\(spec.name)' but holds mdev '\(mdev.uuid)', "
                        + "which forbc keeps ('prune' is '\(prune.rawValue)'); remove it or set 'prune: all'",
                    spec.location)
                return
            }
        }
        for vf in gpu.vfs where (vf.vgpu?.current ?? 0) != 0 {
            let owned = state.partitions.first { $0.kind == .vgpuVF && $0.address == vf.address }
            if let reason = pruneReason(owned: owned) {
                destroyVGPU(
                    vf, gpu: gpu.address, target: owned?.name ?? vf.address,
                    reason: reason + "; '\(spec.name)' takes the whole GPU")
            } else {
                fail(
                    "\(target.label) is declared for passthrough as '\(spec.name)' but VF \(vf.address) holds a "
                        + "vGPU that forbc keeps; remove it or set 'prune: all'",
                    spec.location)
                return
            }
        }
        if let sriov = gpu.sriov, sriov.numVFs > 0 {
            if let use = firstUse(gpu) {
                fail("\(target.label) is declared for passthrough but its VFs are in use: \(use)", spec.location)
                return
            }
            configureActions.append(
                PlannedAction(
                    action: .configure, target: spec.name,
                    reason: "passthrough hands the whole GPU to one VM; its \(sriov.numVFs) VFs are disabled",
                    kind: .passthrough, gpu: gpu.address, address: gpu.address,
                    path: SysPath.pci(gpu.address, "sriov_numvfs"), value: "0",
                    precondition: .numVFs(pf: gpu.address, current: sriov.numVFs),
                    forgets: state.partitions.filter { $0.kind == .sriovVF && $0.gpu == gpu.address }.map(\.name)))
        }
        relabelPassthrough(gpu)
    }

    /// The whole GPU under a new name: nothing on the host changes, forbc's record does.
    mutating func relabelPassthrough(_ gpu: GPU) {
        guard let name = desired.first(where: { $0.kind == .passthrough && $0.gpu == gpu.address })?.name else {
            return
        }
        relabelRecorded(
            .passthrough, gpu: gpu.address,
            records: [OwnedPartition(name: name, kind: .passthrough, gpu: gpu.address, address: gpu.address)],
            what: "the whole GPU", check: .stateOnly)
    }
}
