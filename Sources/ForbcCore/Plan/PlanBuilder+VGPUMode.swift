/// Planning of NVIDIA's mixed-size (heterogeneous) time-sliced vGPU: the GPU's mode, set through NVML
/// (`nvmlDeviceSetVgpuHeterogeneousMode`) before its vGPUs are created, and where each vGPU goes by the placement
/// rules NVML reports (`nvmlDeviceGetVgpuTypeSupportedPlacements`: a type occupies `placementSize` slots starting
/// at one of its `placementIds`). Each refusal follows a rule NVIDIA documents; the message names it.
extension PlanBuilder {
    /// Checks the declared mode against what NVML reports and plans a `configure` step where it differs.
    mutating func planVGPUMode(_ spec: VGPUModeSpec, _ target: Planner.Target) {
        guard let gpu = target.gpu, target.isNVIDIA, let mig = gpu.mig, let state = gpu.vgpuPlacements else {
            fail(
                "'vgpuMode' is declared for \(target.label), but NVML reports no vGPU mode there "
                    + "(nvmlDeviceGetVgpuHeterogeneousMode); mixed-size vGPU needs NVIDIA's vGPU manager 17 or "
                    + "later on a GPU that supports it",
                spec.location)
            return
        }
        if mig.currentMode || mig.pendingMode {
            // NVML reference: nvmlDeviceSetVgpuHeterogeneousMode returns NVML_ERROR_NOT_SUPPORTED in MIG mode.
            fail(
                "'vgpuMode' is declared for \(target.label), which is in MIG mode; NVML sets the vGPU mode of "
                    + "time-sliced vGPU only with MIG mode off",
                spec.location)
            return
        }
        let wanted = spec.mode == .mixedSize
        if state.heterogeneous == wanted { return }
        let staying = gpu.vfs.filter { ($0.vgpu?.current ?? 0) != 0 && !destroyed.contains($0.address) }
        if let vf = staying.first {
            // NV0080_CTRL_CMD_GPU_SET_VGPU_HETEROGENEOUS_MODE returns NV_ERR_IN_USE while vGPUs exist.
            fail(
                "the vGPU mode of \(target.label) is \(Self.modeName(state.heterogeneous)) and can change only "
                    + "while the GPU holds no vGPU (NVIDIA's driver: NV_ERR_IN_USE), but \(staying.count) of its "
                    + "VFs hold one (\(vf.address): type \(vf.vgpu!.current)); remove them first (apply without "
                    + "them), then apply again",
                spec.location)
            return
        }
        configureActions.append(
            PlannedAction(
                action: .configure, target: gpu.address,
                reason: "the vGPU mode is \(Self.modeName(state.heterogeneous)); the manifest declares "
                    + "'\(spec.mode.rawValue)'",
                kind: .vgpuVF, gpu: gpu.address, path: "NVML nvmlDeviceSetVgpuHeterogeneousMode(device \(mig.index))",
                value: spec.mode.rawValue,
                precondition: .vgpuMode(device: mig.index, gpu: gpu.address, heterogeneous: wanted)))
    }

    static func modeName(_ heterogeneous: Bool) -> String {
        heterogeneous ? "mixed-size (heterogeneous)" : "equal-size"
    }

    /// Mixed-size placement: the slots of the vGPUs that stay are taken; then each new vGPU, largest first (ties
    /// in manifest order), goes at the lowest of its type's placement IDs whose slots are all free. Returns the
    /// new vGPUs in creation order with their placement IDs, or nil (with a diagnostic) when one does not fit.
    mutating func placeMixed(
        _ remaining: [(DesiredPartition, TypeRef)], on target: Planner.Target, _ pool: VFPool
    ) -> [(DesiredPartition, TypeRef, Int)]? {
        guard let first = remaining.first else { return [] }
        let rules = target.gpu?.vgpuPlacements?.rules ?? [:]
        guard var used = takenSlots(on: target, pool, rules: rules, for: first.0) else { return nil }
        let ordered = remaining.enumerated().sorted { a, b in
            let (sa, sb) = (rules[Int(a.element.1.id) ?? -1]?.size ?? 0, rules[Int(b.element.1.id) ?? -1]?.size ?? 0)
            return sa != sb ? sa > sb : a.offset < b.offset
        }.map(\.element)
        var placed: [(DesiredPartition, TypeRef, Int)] = []
        for (partition, type) in ordered {
            let name = type.name.replacingOccurrences(of: "NVIDIA ", with: "")
            guard let rule = rules[Int(type.id) ?? -1], !rule.ids.isEmpty else {
                fail(
                    "'\(partition.name)' wants '\(name)', which has no placement in mixed-size mode on "
                        + "\(target.label) (nvmlDeviceGetVgpuTypeSupportedPlacements lists none)",
                    locations[partition.name])
                return nil
            }
            let free = { (start: Int) in
                used.allSatisfy { start + rule.size <= $0.start || $0.start + $0.size <= start }
            }
            guard let start = rule.ids.first(where: free) else {
                let taken = used.sorted { $0.start < $1.start }.map { "\($0.owner) at \($0.start)+\($0.size)" }
                fail(
                    "'\(partition.name)' (\(name): \(rule.size) slots, starting at one of placement IDs "
                        + "\(rule.ids.map(String.init).joined(separator: ", "))) does not fit on \(target.label) in "
                        + "mixed-size mode; slots taken: \(taken.joined(separator: ", "))",
                    locations[partition.name])
                return nil
            }
            used.append((start, rule.size, partition.name))
            placed.append((partition, type, start))
        }
        return placed
    }

    /// The slots the vGPUs that stay on the GPU's VFs occupy, from the placement forbc recorded for each (or the
    /// driver's, where NVML's read-back showed it); nil (with a diagnostic) where one stays whose placement forbc
    /// has no record of.
    private mutating func takenSlots(
        on target: Planner.Target, _ pool: VFPool, rules: [Int: VGPUPlacementRule], for partition: DesiredPartition
    ) -> [(start: Int, size: Int, owner: String)]? {
        var used: [(start: Int, size: Int, owner: String)] = []
        for vf in pool.vfs where (vf.vgpu?.current ?? 0) != 0 && !destroyed.contains(vf.address) {
            let owned = state.partitions.first { $0.kind == .vgpuVF && $0.address == vf.address }
            guard let owned, let start = pool.placements[vf.address] ?? owned.placement,
                let rule = rules[vf.vgpu!.current]
            else {
                fail(
                    "\(target.label) keeps a vGPU on \(vf.address) (type \(vf.vgpu!.current)) whose mixed-size "
                        + "placement forbc has no record of, so it cannot tell which slots are free; set "
                        + "'prune: all' or remove it",
                    locations[partition.name])
                return nil
            }
            used.append((start, rule.size, owned.name))
        }
        return used
    }
}
