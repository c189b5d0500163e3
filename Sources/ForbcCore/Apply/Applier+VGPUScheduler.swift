import Foundation

extension Applier {
    /// Sets a GPU's vGPU scheduler after reading it again: nothing to do when it already schedules as planned.
    func changeVGPUScheduler(_ action: PlannedAction) throws -> Bool {
        guard case .vgpuScheduler(let device, let gpu, let policy, let timesliceNs) = action.precondition else {
            return false
        }
        guard let nvml else {
            throw ForbcError(.unsupported, "the plan sets the vGPU scheduler of \(gpu) but NVML is not available")
        }
        guard let now = try nvml.vgpuScheduler(device: device) else {
            throw ForbcError(.changedWorld, "NVML no longer reports a vGPU scheduler on \(gpu); run 'forbc plan' again")
        }
        if now.policy == policy && (timesliceNs == 0 || now.timesliceNs == timesliceNs) { return false }
        try nvml.setVGPUScheduler(device: device, policy: policy, timesliceNs: timesliceNs)
        return true
    }
}
