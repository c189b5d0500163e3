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

    /// A mixed-size vGPU is created only while its planned placement ID is still creatable
    /// (nvmlDeviceGetVgpuTypeCreatablePlacements): another tool may have taken those slots since planning.
    func checkPlacement(_ action: PlannedAction) throws {
        guard action.action == .create, action.kind == .vgpuVF, let placement = action.records.first?.placement,
            let nvml, let gpu = action.gpu, let type = Int(action.type ?? ""),
            let device = try nvml.devices()[gpu]?.index,
            try nvml.vgpuPlacements(device: device)?.heterogeneous == true  // not MIG-backed (MIG placement)
        else { return }
        let creatable = try nvml.creatablePlacements(device: device, type: type)
        guard creatable.contains(placement) else {
            let listed = creatable.map(String.init).joined(separator: ", ")
            throw ForbcError(
                .changedWorld,
                "placement ID \(placement) of '\(action.typeName ?? action.value)' on \(gpu) is no longer free "
                    + "(nvmlDeviceGetVgpuTypeCreatablePlacements lists \(listed)); another tool may have taken its "
                    + "slots; run 'forbc plan' again")
        }
    }
}
