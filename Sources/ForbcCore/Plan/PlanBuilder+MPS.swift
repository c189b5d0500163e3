/// Planning of MPS partitions: one control daemon per GPU, its defaults set through the control interface.
/// NVIDIA's reference for the commands: https://docs.nvidia.com/deploy/mps/appendix-tools-and-interface-reference.html
extension PlanBuilder {
    /// The MPS partitions of one `gpus[]` entry, one per matched GPU (`NAME`, or `NAME-i` over several GPUs).
    mutating func expandMPS(_ spec: MPSSpec, _ targets: [Planner.Target]) {
        let settings = MPSSettings(
            activeThreadPercentage: spec.activeThreadPercentage, pinnedMemoryLimit: spec.pinnedMemoryLimit)
        for (i, target) in targets.enumerated() {
            let name = targets.count == 1 ? spec.name : "\(spec.name)-\(i)"
            locations[name] = spec.location
            var partition = DesiredPartition(
                name: name, kind: .mps, gpu: target.id, uuid: target.gpu?.mig?.uuid, address: target.gpu?.address)
            partition.mps = settings
            partition.clients = spec.clients
            addDesired(partition)
        }
    }

    /// The control commands that give `settings`, as the plan shows them.
    static func mpsCommands(_ settings: MPSSettings) -> String {
        var commands = ["set_default_active_thread_percentage \(settings.activeThreadPercentage)"]
        if let limit = settings.pinnedMemoryLimit { commands.append("set_default_device_pinned_mem_limit 0 \(limit)") }
        return commands.joined(separator: "; ")
    }

    /// Start the daemon of the GPU, or re-set its defaults live; nothing when it runs as declared.
    mutating func planMPS(_ spec: MPSSpec, _ target: Planner.Target) {
        guard let gpu = target.gpu, gpu.vendor == .nvidia, let uuid = gpu.mig?.uuid else {
            fail(
                "'\(spec.name)' asks for MPS on \(target.label), which is not an NVIDIA GPU that NVML knows (MPS "
                    + "needs the GPU's UUID)",
                spec.location)
            return
        }
        guard let pipe = inventory.mps?.pipeDirectories[uuid] else {
            fail("'\(spec.name)': forbc does not manage MPS on this host (\(inventory.source))", spec.location)
            return
        }
        if gpu.mig?.currentMode == true || gpu.mig?.pendingMode == true {
            fail(
                "'\(spec.name)' asks for MPS on the whole of \(target.label), whose MIG mode is enabled; add "
                    + "'migMode: disabled' to this entry",
                spec.location)
            return
        }
        guard let name = desired.first(where: { $0.kind == .mps && $0.gpu == gpu.address })?.name,
            var partition = desired(named: name), let wanted = partition.mps
        else { return }
        partition.access = "CUDA_VISIBLE_DEVICES=\(uuid) CUDA_MPS_PIPE_DIRECTORY=\(pipe)"
        replaceDesired(partition)
        let record = OwnedPartition(
            name: name, kind: .mps, gpu: gpu.address, uuid: uuid, address: gpu.address, clients: spec.clients)
        let renamed = state.partitions.contains { $0.kind == .mps && $0.uuid == uuid && $0.name != name }
        guard let running = inventory.mpsDaemon(uuid), !renamed else {
            createActions.append(
                PlannedAction(
                    action: .create, target: name,
                    reason: renamed
                        ? "renamed: the daemon recorded under its old name is quit first, then started again"
                        : "declared, not present: no MPS control daemon answers in \(pipe); "
                            + "'nvidia-cuda-mps-control -d' starts one for this GPU alone, then its defaults are set",
                    kind: .mps, gpu: gpu.address, uuid: uuid, address: gpu.address, path: "\(pipe)/control",
                    value: "start; " + Self.mpsCommands(wanted), precondition: .mpsAbsent(gpu: uuid, settings: wanted),
                    records: [record]))
            return
        }
        guard !running.settings.satisfies(wanted) else { return }
        configureActions.append(
            PlannedAction(
                action: .configure, target: name,
                reason: "the daemon runs with \(running.settings); the manifest wants \(wanted): set live through "
                    + "the control interface, no restart; the defaults apply to MPS servers started afterwards "
                    + "(clients already connected keep theirs)",
                kind: .mps, gpu: gpu.address, uuid: uuid, address: gpu.address, path: "\(pipe)/control",
                value: Self.mpsCommands(wanted), precondition: .mpsSettings(gpu: uuid, wanted: wanted),
                records: [record]))
    }

    /// A `quit` of the daemon recorded as `owned`, if it still runs.
    mutating func destroyMPS(_ owned: OwnedPartition, reason: String) {
        guard let uuid = owned.uuid, let running = inventory.mpsDaemon(uuid), destroyed.insert(uuid).inserted else {
            return
        }
        destroyActions.append(
            PlannedAction(
                action: .destroy, target: owned.name, reason: reason, kind: .mps, gpu: owned.gpu, uuid: uuid,
                address: owned.address, path: "\(running.pipeDirectory)/control", value: "quit",
                precondition: .mpsPresent(gpu: uuid), forgets: [owned.name]))
    }

    /// The daemons forbc started under names the manifest no longer declares (on any GPU), unless prune is none.
    mutating func pruneMPS() {
        guard prune != .none else { return }
        let wanted = Set(desired.filter { $0.kind == .mps }.map(\.name))
        for owned in state.partitions where owned.kind == .mps && !wanted.contains(owned.name) {
            destroyMPS(owned, reason: "forbc started it as '\(owned.name)' and the manifest no longer declares it")
        }
    }
}
