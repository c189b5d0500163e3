/// Mixed-size vGPU: what NVML's read-back of a GPU's active vGPU instances (nvmlDeviceGetActiveVgpus,
/// nvmlVgpuInstanceGetType, nvmlVgpuInstanceGetPlacementId) says about the placements forbc recorded.
///
/// What the read-back can see: only *active* instances (those a running VM uses: a vGPU on a VF whose VM is stopped
/// or not started yet is not listed), per GPU (no NVML call links an instance to its host VF), as (type, placement
/// ID) pairs. So it is evidence for a type only when it is complete: NVML lists as many active instances of the type
/// as the GPU's VFs hold. For such a type:
/// - a confirmed placement (one an earlier complete read-back showed) that is not listed: the vGPU was moved, which
///   is drift (destroyed and made again);
/// - a planned placement (the driver places a vGPU on its own; forbc's is a prediction) that is listed: confirmed;
/// - a planned placement that is not listed: where it is the type's only one and exactly one listed placement is
///   left over, that is its own, recorded there, confirmed. With two or more, which VF of the type holds which
///   placement NVML does not say: they stay planned (recording a guess as confirmed would later read as a move and
///   destroy a vGPU that did not move). A planned placement never causes a destroy.
/// For a type whose read-back is incomplete nothing is concluded, and a note says how many vGPUs are not active.
/// Two vGPUs of one type that swap placements are invisible to the read-back.
extension PlanBuilder {
    enum PlacementCheck: Equatable {
        /// Keep the vGPU at this placement, confirmed by the read-back or still as planned.
        case kept(placement: Int, confirmed: Bool)
        /// A confirmed placement that a complete read-back no longer lists for its type.
        case moved(placement: Int)
    }

    /// The check of each kept vGPU's recorded placement on `target`'s GPU, by partition name; empty unless the GPU
    /// is in mixed-size mode and NVML gave a read-back.
    mutating func placementChecks(
        _ resolved: [(DesiredPartition, TypeRef)], on target: Planner.Target, _ pool: VFPool
    ) -> [String: PlacementCheck] {
        guard let state = pool.gpu.vgpuPlacements, state.heterogeneous, let active = state.active else { return [:] }
        let byAddress = Dictionary(pool.vfs.map { ($0.address, $0) }, uniquingKeysWith: { first, _ in first })
        // The recorded vGPUs that stay on their VF with their type, by type.
        var recorded: [Int: [OwnedPartition]] = [:]
        for (partition, type) in resolved {
            guard let owned = index.owned(name: partition.name), owned.kind == .vgpuVF, owned.placement != nil,
                let current = owned.address.flatMap({ byAddress[$0] })?.vgpu?.current, "\(current)" == type.id
            else { continue }
            recorded[current, default: []].append(owned)
        }
        var held: [Int: Int] = [:]
        for vf in pool.vfs where vf.vgpu!.current != 0 { held[vf.vgpu!.current, default: 0] += 1 }
        let listed = active.reduce(into: [Int: [Int]]()) { $0[$1.type, default: []].append($1.placement) }
        var checks: [String: PlacementCheck] = [:]
        var (notActive, unchecked) = (0, 0)
        for (type, owned) in recorded.sorted(by: { $0.key < $1.key }) {
            let shown = listed[type] ?? []
            guard shown.count == held[type] else {
                notActive += max((held[type] ?? 0) - shown.count, 0)
                unchecked += owned.count
                for record in owned {
                    checks[record.name] = .kept(
                        placement: record.placement!, confirmed: record.placementConfirmed == true)
                }
                continue
            }
            check(owned, against: shown, type: type, on: target, &checks)
        }
        if unchecked > 0 {
            notes.append(
                "the mixed-size placement of \(unchecked) vGPU\(unchecked == 1 ? "" : "s") on \(target.label) could "
                    + "not be checked: NVML lists only active vGPUs (those of running VMs; nvmlDeviceGetActiveVgpus) "
                    + "and \(notActive) of the GPU's vGPUs of \(unchecked == 1 ? "its type" : "their types") "
                    + "\(notActive == 1 ? "is" : "are") not active")
        }
        return checks
    }

    /// One type whose read-back is complete: `shown` holds the placement ID of each of its vGPUs on the GPU.
    private mutating func check(
        _ owned: [OwnedPartition], against shown: [Int], type: Int, on target: Planner.Target,
        _ checks: inout [String: PlacementCheck]
    ) {
        var left = shown
        func take(_ placement: Int) -> Bool {
            guard let i = left.firstIndex(of: placement) else { return false }
            left.remove(at: i)
            return true
        }
        // Confirmed placements first: each holds its own unless the vGPU was moved.
        for record in owned where record.placementConfirmed == true {
            let placement = record.placement!
            checks[record.name] =
                take(placement) ? .kept(placement: placement, confirmed: true) : .moved(placement: placement)
        }
        var unmatched: [OwnedPartition] = []
        for record in owned where record.placementConfirmed != true {
            if take(record.placement!) {
                checks[record.name] = .kept(placement: record.placement!, confirmed: true)
            } else {
                unmatched.append(record)
            }
        }
        guard !unmatched.isEmpty else { return }
        let names = unmatched.map { "'\($0.name)'" }.joined(separator: ", ")
        let planned = unmatched.map { "\($0.placement!)" }.joined(separator: ", ")
        guard unmatched.count == 1, left.count == 1 else {
            for record in unmatched { checks[record.name] = .kept(placement: record.placement!, confirmed: false) }
            let others = left.sorted().map(String.init).joined(separator: ", ")
            notes.append(
                "NVML lists no vGPU of type \(type) at the placement ID forbc planned for \(names) (\(planned)) on "
                    + "\(target.label), and cannot tell which of the other placements (\(others)) "
                    + "\(unmatched.count == 1 ? "is" : "are") theirs; they stay as planned (nothing is destroyed)")
            return
        }
        // Unambiguous: the type's one unmatched vGPU and the one placement left.
        checks[unmatched[0].name] = .kept(placement: left[0], confirmed: true)
        notes.append(
            "the driver placed \(names) (vGPU type \(type)) on \(target.label) at placement ID "
                + "\(left[0]), not at \(planned) as forbc planned "
                + "(nvmlVgpuInstanceGetPlacementId); apply records the driver's placement")
    }
}
