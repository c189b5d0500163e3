/// Planning of SR-IOV VFs with per-VF provisioning (Intel Data Center GPU through i915's `prelim_iov/` tree).
/// The rules and their sources:
/// - declared quotas are written before the VFs are enabled, and a quota change goes through disabled VFs: the PF
///   provisions VF resources while the VFs are not running (Intel's Flex SR-IOV guide; the xe driver's ABI,
///   Documentation/ABI/testing/sysfs-driver-intel-xe-sriov: "changing VRAM provisioning is only possible when VF
///   is not running");
/// - no quota declared: forbc writes only `sriov_numvfs` and the driver provisions the VFs itself (auto
///   provisioning); any quota declared turns that off ("Any non-zero initial VRAM provisioning will block VFs
///   auto-provisioning", same ABI), so the four quotas are declared together or not at all;
/// - the scheduling settings (`exec_quantum_ms`, `preempt_timeout_us`) "can be changed even if VFs are enabled
///   and running" (same ABI), so they are written in place;
/// - what the VFs get in all cannot exceed what the PF offers for VFs (`pf/gtM/available/*_max_quota`,
///   i915's sysfs-i915-iov ABI).
extension PlanBuilder {
    /// `sriov` with or without `perVF`: the VF count as `planSRIOV` plans it, the provisioning around it.
    mutating func planProvisionedSRIOV(_ spec: SRIOVSpec, _ target: Planner.Target, _ mine: [DesiredPartition]) {
        guard let perVF = spec.perVF else { return planSRIOV(spec, target, mine) }
        guard let gpu = target.gpu, let iov = gpu.iov else {
            fail(
                "\(target.label) has no SR-IOV provisioning files (i915's prelim_iov/ or iov/ under "
                    + "/sys/class/drm/cardN); 'perVF' needs them, or leave it out",
                perVF.location)
            return
        }
        guard checkProvisioning(spec, perVF, target, iov) else { return }
        let failures = errors.count
        let firstNew = configureActions.count
        planSRIOV(spec, target, mine)
        guard errors.count == failures, let sriov = gpu.sriov else { return }
        let changesCount = configureActions.count > firstNew
        // What differs on the VFs that are enabled and stay (all of them when the count changes: a VF that is
        // disabled loses its provisioning).
        let stale = perVF.settings.filter { setting in
            changesCount || (0..<spec.vfs).contains { iov.setting(vf: $0 + 1, setting.attribute) != setting.value }
        }
        guard !stale.isEmpty else { return }
        let quotas = stale.filter { VFProvisioning.quotaAttributes.contains($0.attribute) }
        var writes = stale
        var reprovision = changesCount
        if !quotas.isEmpty && !changesCount && sriov.numVFs > 0 {
            // Quotas of enabled VFs: disable, provision, enable again (all quotas, as a disable released them).
            if let use = firstUse(gpu) {
                fail(
                    "cannot change the VF quotas of \(target.label): \(use); the driver provisions VFs only while "
                        + "they are disabled: detach and remove it first",
                    perVF.location)
                return
            }
            let names = mine.filter { $0.kind == .sriovVF }.map(\.name)
            configureActions.append(disableVFs(spec, gpu, current: sriov.numVFs, wanted: spec.vfs))
            configureActions.append(enableVFs(spec, gpu, sriov, wanted: spec.vfs, current: sriov.numVFs, names))
            writes = perVF.settings
            reprovision = true
        }
        let steps = provisioningSteps(spec, gpu, iov, writes, all: reprovision)
        // Before the step that enables the VFs (the quotas must be in place then); scheduling settings alone, on
        // VFs that stay enabled, go at the end.
        let enable = configureActions.lastIndex {
            $0.gpu == gpu.address && $0.path.hasSuffix("sriov_numvfs") && $0.value != "0"
        }
        configureActions.insert(contentsOf: steps, at: enable.map { max($0, firstNew) } ?? configureActions.count)
    }

    /// The declared quotas against what the PF offers for VFs.
    mutating func checkProvisioning(
        _ spec: SRIOVSpec, _ perVF: VFProvisioning, _ target: Planner.Target, _ iov: IOVProvisioningState
    ) -> Bool {
        for setting in perVF.settings where VFProvisioning.quotaAttributes.contains(setting.attribute) {
            guard let each = UInt64(setting.value), let offered = iov.available[setting.attribute] else { continue }
            let total = each.multipliedReportingOverflow(by: UInt64(spec.vfs))
            if total.overflow || total.partialValue > offered {
                let memory = setting.attribute == "lmem_quota" || setting.attribute == "ggtt_quota"
                func show(_ value: UInt64) -> String { memory ? VFProvisioning.size(value) : "\(value)" }
                let base = setting.attribute.replacingOccurrences(of: "_quota", with: "")
                fail(
                    "'\(spec.name)' asks for \(spec.vfs) × \(show(each)) of '\(setting.key)' "
                        + "(\(total.overflow ? "more" : show(total.partialValue)) in all); \(target.label) offers "
                        + "\(show(offered)) for VFs (\(iov.root)/pf/\(iov.gts.first ?? "gt")/available/"
                        + "\(base)_max_quota); lower it or the VF count",
                    perVF.location)
                return false
            }
        }
        return true
    }

    /// One write per VF, GT and setting: every one when `all` (the VFs were or will be disabled, releasing what
    /// they held), else those a VF does not hold yet.
    func provisioningSteps(
        _ spec: SRIOVSpec, _ gpu: GPU, _ iov: IOVProvisioningState,
        _ settings: [(attribute: String, key: String, value: String)], all: Bool
    ) -> [PlannedAction] {
        var steps: [PlannedAction] = []
        for vf in 1...max(spec.vfs, 1) where spec.vfs > 0 {
            for gt in iov.gts {
                for setting in settings where all || iov.setting(vf: vf, setting.attribute) != setting.value {
                    let path = iov.path(vf: vf, gt: gt, setting.attribute)
                    steps.append(
                        PlannedAction(
                            action: .configure, target: "\(spec.name)-\(vf - 1)",
                            reason: "the manifest provisions '\(setting.key)' \(setting.value) for each VF; VF \(vf) "
                                + "has \(iov.setting(vf: vf, setting.attribute) ?? "none")",
                            kind: .sriovVF, gpu: gpu.address, address: gpu.address, path: path, value: setting.value,
                            precondition: .attribute(path: path, current: nil)))
                }
            }
        }
        return steps
    }
}
