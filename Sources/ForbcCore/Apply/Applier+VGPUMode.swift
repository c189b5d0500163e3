import Foundation

extension Applier {
    /// Turns a GPU's mixed-size (heterogeneous) vGPU mode on or off after reading it again: nothing to do when it
    /// already is.
    func changeVGPUMode(_ action: PlannedAction) throws -> Bool {
        guard case .vgpuMode(let device, let gpu, let heterogeneous) = action.precondition else { return false }
        guard let nvml else {
            throw ForbcError(.unsupported, "the plan sets the vGPU mode of \(gpu) but NVML is not available")
        }
        guard let now = try nvml.vgpuPlacements(device: device) else {
            throw ForbcError(
                .changedWorld, "NVML no longer reports a vGPU mode on \(gpu); run 'forbc plan' again")
        }
        if now.heterogeneous == heterogeneous { return false }
        try nvml.setVGPUHeterogeneousMode(device: device, enabled: heterogeneous)
        return true
    }
}
