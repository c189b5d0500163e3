import Foundation

extension Applier {
    /// MIG steps, each after re-reading the GPU through NVML.
    func changeMIG(_ action: PlannedAction, state: inout HostState, report: inout Report) throws -> Bool {
        guard let nvml else { throw ForbcError(.unsupported, "the plan changes MIG but NVML is not available") }
        switch action.precondition {
        case .migMode(let device, let gpu, let enabled):
            return try setMIGMode(nvml, device: device, gpu: gpu, enabled: enabled, report: &report)
        case .migAbsent(
            let device, let gpu, let profileID, let placement, let computeSlices, let computeCount, let listed):
            try requireMIGMode(nvml, device: device, gpu: gpu, report: &report)
            let now = try readMIG(nvml, gpu)
            if now.instances.contains(where: { $0.profileID == profileID && $0.placement == placement }) {
                return false
            }
            if let other = now.instances.first(where: { $0.placement.mask & placement.mask != 0 }) {
                throw ForbcError(
                    .changedWorld,
                    "slot \(placement.start) of \(gpu) is taken by GPU instance \(other.id) since planning; run "
                        + "'forbc plan' again"
                )
            }
            let created = try nvml.createInstance(
                device: device, profileID: profileID, placement: placement, computeSlices: computeSlices,
                computeCount: computeCount, computeInstances: listed)
            for var record in action.records {
                record.uuid = created.uuids.first
                state.record(record)
            }
            return true
        case .migPresent(let device, let gpu, let profileID, let placement):
            return try destroyMIGInstance(nvml, device: device, gpu: gpu, profileID: profileID, placement: placement)
        case .migKept(_, let gpu, let profileID, let placement):
            return try relabelMIG(nvml, action, gpu: gpu, profileID: profileID, placement: placement)
        default:
            return false
        }
    }

    /// The GPU's MIG state as NVML shows it now.
    func readMIG(_ nvml: any NVMLChannel, _ gpu: String) throws -> MIGState {
        guard let mig = try nvml.devices()[gpu] else {
            throw ForbcError(.changedWorld, "NVML no longer lists GPU \(gpu)")
        }
        return mig
    }

    /// Applies a pending MIG mode by resetting the GPU, only with `--reset-gpu`.
    func applyPendingMode(
        _ nvml: any NVMLChannel, gpu: String, device: Int, enabled: Bool = true, report: inout Report
    ) throws {
        guard resetGPU else {
            throw ForbcError(
                .changedWorld,
                "MIG mode of \(gpu) is pending a GPU reset; reset it (apply --reset-gpu) or restart the VM or "
                    + "host, then run apply again"
            )
        }
        try nvml.resetGPU(device: device)
        report.notes.append("reset GPU \(gpu) to apply its pending MIG mode")
        guard try readMIG(nvml, gpu).currentMode == enabled else {
            throw ForbcError(.system, "MIG mode of \(gpu) is still not \(enabled ? "on" : "off") after the reset")
        }
    }

    /// Turns MIG mode on or off. Turning it on, a change the driver keeps pending is this step done (the next
    /// step that needs the mode says what to do); turning it off, a pending change stops apply unless the GPU
    /// may be reset.
    func setMIGMode(
        _ nvml: any NVMLChannel, device: Int, gpu: String, enabled: Bool, report: inout Report
    ) throws -> Bool {
        let mig = try readMIG(nvml, gpu)
        if mig.currentMode == enabled && mig.pendingMode == enabled { return false }
        if mig.pendingMode != enabled {
            guard mig.processes == 0 || (force && !enabled) else {
                throw ForbcError(
                    .changedWorld,
                    "\(mig.processes) compute process(es) use \(gpu); MIG mode cannot change while it is in use")
            }
            let pending = try nvml.setMIGMode(device: device, enabled: enabled)
            if !pending || mig.currentMode == enabled || (enabled && !resetGPU) { return true }
        } else if enabled && !resetGPU {
            return true
        }
        try applyPendingMode(nvml, gpu: gpu, device: device, enabled: enabled, report: &report)
        return true
    }

    /// Relabels a kept GPU instance: it must still be there; its new record carries the MIG UUID NVML shows.
    func relabelMIG(
        _ nvml: any NVMLChannel, _ action: PlannedAction, gpu: String, profileID: Int, placement: MIGPlacement
    ) throws -> Bool {
        let mig = try readMIG(nvml, gpu)
        guard mig.instances.contains(where: { $0.profileID == profileID && $0.placement == placement }) else {
            throw ForbcError(
                .changedWorld,
                "the GPU instance at slot \(placement.start) of \(gpu) that '\(action.target)' keeps is gone since "
                    + "planning; run 'forbc plan' again")
        }
        return true
    }

    /// Before creating an instance: MIG mode is on, or pending and reset now, or the world changed.
    func requireMIGMode(_ nvml: any NVMLChannel, device: Int, gpu: String, report: inout Report) throws {
        let mig = try readMIG(nvml, gpu)
        guard !mig.currentMode else { return }
        guard mig.pendingMode else {
            throw ForbcError(.changedWorld, "MIG mode of \(gpu) is off; run 'forbc plan' again")
        }
        try applyPendingMode(nvml, gpu: gpu, device: device, report: &report)
    }

    /// Destroys a GPU instance that is still there, unless it runs processes and `--force` is not given.
    func destroyMIGInstance(
        _ nvml: any NVMLChannel, device: Int, gpu: String, profileID: Int, placement: MIGPlacement
    ) throws -> Bool {
        let mig = try readMIG(nvml, gpu)
        guard let instance = mig.instances.first(where: { $0.profileID == profileID && $0.placement == placement })
        else { return false }
        if instance.processes > 0 && !force {
            throw ForbcError(
                .changedWorld,
                "GPU instance \(instance.id) of \(gpu) now runs \(instance.processes) process(es); forbc does "
                    + "not destroy it without '--force'"
            )
        }
        try nvml.destroyInstance(device: device, instanceID: instance.id)
        return true
    }
}
