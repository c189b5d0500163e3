internal import Yams

/// The `vgpuScheduler` key of a `gpus[]` entry.
extension ManifestWalker {
    static let schedulerPolicyExpected = "it must be one of: bestEffort, equalShare, fixedShare"

    /// `vgpuScheduler: {policy, timesliceMs?}`. The device's own bounds (NVML's minTimeslice and maxTimeslice) are
    /// checked by the planner; here a time slice is a whole number of milliseconds, 1 to 1000.
    mutating func walkVGPUScheduler(_ node: Node, path: String) -> VGPUSchedulerSpec? {
        guard let pairs = mapping(node, at: path, allowed: ["policy", "timesliceMs"]) else { return nil }
        var policy: VGPUSchedulerPolicy?
        var timeslice: Int?
        var timesliceNode = node
        var valid = true
        for (key, _, value) in pairs {
            switch key {
            case "policy":
                policy = checked(
                    parsed(
                        value, at: "\(path).policy", expected: Self.schedulerPolicyExpected,
                        VGPUSchedulerPolicy.init(rawValue:)), &valid)
            case "timesliceMs":
                timeslice = checked(integer(value, at: "\(path).timesliceMs", range: 1...1000), &valid)
                timesliceNode = value
            default: break
            }
        }
        requireKey("policy", present: policy != nil, in: pairs, at: path, node, &valid)
        guard valid, let policy else { return nil }
        if timeslice != nil && !policy.takesTimeslice {
            // NVIDIA's time slice belongs to the equal share and fixed share schedulers (vGPU user guide,
            // "Changing Scheduling Behavior for Time-Sliced vGPUs").
            error(
                "'\(path).timesliceMs' is given with policy 'bestEffort'; a time slice is set for 'equalShare' or "
                    + "'fixedShare' only",
                timesliceNode)
            return nil
        }
        spend(1, at: path, node)
        return VGPUSchedulerSpec(policy: policy, timesliceMs: timeslice, location: location(node))
    }

    /// The scheduler shares time-sliced vGPUs only: it goes with `vgpu`, or alone, and not with MIG ("Scheduling
    /// policies apply only to time-sliced vGPUs. MIG-backed vGPUs ... do not use time-slicing", NVIDIA AI
    /// Enterprise, "Scheduling Policies"). False when the entry is refused.
    mutating func checkSchedulerKinds(_ gpu: WalkedGPU, kinds: [String], path: String, _ node: Node) -> Bool {
        guard gpu.vgpuScheduler != nil else { return true }
        if gpu.migMode == true || gpu.hasMIG {
            error(
                "'\(path)' declares 'vgpuScheduler' with MIG; the vGPU scheduler time-slices vGPUs, and MIG-backed "
                    + "vGPUs are not time-sliced; remove one of them",
                node)
            return false
        }
        if let other = kinds.first(where: { $0 != "vgpu" }) {
            error(
                "'\(path)' declares 'vgpuScheduler' with '\(other)'; the vGPU scheduler goes with 'vgpu' (or alone)",
                node)
            return false
        }
        return true
    }
}
