/// Planning of NVIDIA's vGPU scheduler: a declared, drift-checked setting of one physical GPU, set through NVML
/// (`nvmlDeviceSetVgpuSchedulerState`) before the GPU's vGPUs are created. Each refusal follows a rule NVIDIA
/// documents; the message names it.
extension PlanBuilder {
    /// Checks `spec` against what NVML reports of the GPU and plans a `configure` step where it differs.
    mutating func planVGPUScheduler(_ spec: VGPUSchedulerSpec, _ target: Planner.Target) {
        guard let gpu = target.gpu, target.isNVIDIA, let mig = gpu.mig, let scheduler = gpu.vgpuScheduler else {
            fail(
                "'vgpuScheduler' is declared for \(target.label), but NVML reports no vGPU scheduler there; it "
                    + "needs NVIDIA's vGPU manager (vGPU 16 or later) on the GPU",
                spec.location)
            return
        }
        guard checkScheduler(spec, scheduler, mig: mig, target: target) else { return }
        if scheduler.satisfies(spec) { return }
        if let domain = runningDomain(onVGPUsOf: gpu) {
            // NVML: "Scheduler state and params will be allowed to set only when no VM is running."
            fail(
                "the vGPU scheduler of \(target.label) can change only while no VM runs on its vGPUs "
                    + "(NVML, nvmlDeviceSetVgpuSchedulerState), and domain '\(domain)' runs on one; shut it down, "
                    + "then apply again",
                spec.location)
            return
        }
        configureActions.append(
            PlannedAction(
                action: .configure, target: gpu.address,
                reason: "the vGPU scheduler is '\(scheduler.value)'; the manifest declares '\(spec.value)'",
                kind: .vgpuVF, gpu: gpu.address, path: "NVML nvmlDeviceSetVgpuSchedulerState(device \(mig.index))",
                value: spec.value,
                precondition: .vgpuScheduler(
                    device: mig.index, gpu: gpu.address, policy: spec.policy,
                    timesliceNs: (spec.timesliceMs ?? 0) * 1_000_000)))
    }

    /// The rules the GPU's own state and capabilities decide; false (with a diagnostic) when one is broken.
    private mutating func checkScheduler(
        _ spec: VGPUSchedulerSpec, _ scheduler: VGPUSchedulerState, mig: MIGState, target: Planner.Target
    ) -> Bool {
        if mig.currentMode || mig.pendingMode {
            // NVIDIA AI Enterprise, "Scheduling Policies": scheduling applies only to time-sliced vGPUs;
            // MIG-backed vGPUs do not use time-slicing.
            fail(
                "'vgpuScheduler' is declared for \(target.label), which is in MIG mode; the vGPU scheduler "
                    + "time-slices vGPUs, and MIG-backed vGPUs are not time-sliced; turn MIG mode off "
                    + "('migMode: disabled' in another apply) or remove 'vgpuScheduler'",
                spec.location)
            return false
        }
        if scheduler.heterogeneous && spec.policy == .fixedShare {
            // NVIDIA AI Enterprise, "Heterogeneous vGPU": only the Best Effort and Equal Share schedulers.
            fail(
                "policy 'fixedShare' is declared for \(target.label), which is in heterogeneous (mixed-size) vGPU "
                    + "mode; that mode supports the best effort and equal share schedulers only",
                spec.location)
            return false
        }
        guard scheduler.supported.contains(spec.policy) else {
            fail(
                "policy '\(spec.policy.rawValue)' is not one the vGPU scheduler of \(target.label) supports "
                    + "(nvmlVgpuSchedulerCapabilities_t lists: "
                    + "\(scheduler.supported.map(\.rawValue).joined(separator: ", ")))",
                spec.location)
            return false
        }
        if let ms = spec.timesliceMs,
            scheduler.maxTimesliceNs <= 0 || scheduler.minTimesliceNs > scheduler.maxTimesliceNs
        {
            // A range the GPU reports upside down (or empty) is no range: nothing to check the time slice against.
            fail(
                "'timesliceMs' is \(ms), but the vGPU scheduler of \(target.label) reports no valid time slice range "
                    + "(nvmlVgpuSchedulerCapabilities_t minTimeslice \(scheduler.minTimesliceNs) ns, maxTimeslice "
                    + "\(scheduler.maxTimesliceNs) ns); leave 'timesliceMs' out, or check the vGPU manager",
                spec.location)
            return false
        }
        if let ms = spec.timesliceMs, !(scheduler.minTimesliceNs...scheduler.maxTimesliceNs).contains(ms * 1_000_000) {
            fail(
                "'timesliceMs' is \(ms); the vGPU scheduler of \(target.label) takes a time slice of "
                    + "\(Self.milliseconds(scheduler.minTimesliceNs)) to "
                    + "\(Self.milliseconds(scheduler.maxTimesliceNs)) ms (nvmlVgpuSchedulerCapabilities_t "
                    + "minTimeslice and maxTimeslice)",
                spec.location)
            return false
        }
        return true
    }

    static func milliseconds(_ ns: Int) -> String {
        ns % 1_000_000 == 0 ? "\(ns / 1_000_000)" : String(Double(ns) / 1_000_000)
    }

    /// A running (or paused) domain whose live definition holds a vGPU of `gpu`: one of its VFs or an mdev on it.
    func runningDomain(onVGPUsOf gpu: GPU) -> String? {
        let addresses = Set(gpu.vfs.map(\.address) + [gpu.address])
        let parents = Set(gpu.parentNames)
        let mdevs = Set(inventory.mdevs.filter { parents.contains($0.parent) }.map(\.uuid))
        return inventory.domains?.first { domain in
            domain.isActive
                && domain.liveHostdevs.contains {
                    $0.kind == .pci ? addresses.contains($0.id) : mdevs.contains($0.id)
                }
        }?.name
    }
}
