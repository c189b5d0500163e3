/// Planning of AMD Instinct compute and memory partition modes (amdgpu's `current_compute_partition` and
/// `current_memory_partition`). The rules and their sources:
/// - which compute mode goes with which memory mode: amdgpu's `__aqua_vanjaram_is_valid_mode`
///   (drivers/gpu/drm/amd/amdgpu/aqua_vanjaram.c), checked at validate time, and on the device against its
///   `available_compute_partition` (the modes the driver accepts with the current memory mode);
/// - memory before compute: a memory mode written to `current_memory_partition` is only a request; the driver
///   makes the change when it is torn down and loaded again ("NPS mode change request done, reload driver to
///   complete the change", amdgpu_gmc.c), and only then offers the compute modes of the new memory mode; AMD's
///   MI300X quick start guide likewise sets the memory partition first, then the compute partition, and AMD SMI's
///   changelog (github.com/ROCm/amdsmi, CHANGELOG.md, "Upcoming changes" of 6.3) says "Memory partition resets
///   (for BM) require driver reloads" and that there are "dependencies regarding available compute partitions
///   when in other memory modes";
/// - not while in use: amdgpu refuses a compute mode change while KFD processes hold the device (EBUSY,
///   `amdgpu_amdkfd_check_and_lock_kfd`); forbc refuses it earlier, and refuses the driver reload of a memory
///   change for the same reason, unless `--force`.
extension PlanBuilder {
    /// The compute partitions of each selected GPU: `NAME-0` …, numbered across GPUs in PCI-address order.
    mutating func expandAMDPartition(_ spec: AMDPartitionSpec, _ targets: [Planner.Target]) {
        var next = 0
        for target in targets {
            let count = spec.compute.partitions(xccs: target.gpu?.amdPartition?.xccs ?? 1)
            for _ in 0..<count {
                let name = "\(spec.name)-\(next)"
                locations[name] = spec.location
                addDesired(
                    DesiredPartition(
                        name: name, kind: .amdXCP, gpu: target.id, type: spec.compute.rawValue,
                        typeName: spec.memory?.rawValue ?? target.gpu?.amdPartition?.memory,
                        address: target.gpu?.address))
                next += 1
            }
        }
    }

    /// The steps that put one GPU into the declared modes: memory request, driver reload, compute mode.
    mutating func planAMDPartition(_ spec: AMDPartitionSpec, _ target: Planner.Target) {
        if let gpu = target.gpu, gpu.vendor == .amd, let driver = gpu.driver, driver != "amdgpu" {
            fail(
                "\(target.label) is bound to '\(driver)', not amdgpu (a VM may hold it): its partition modes are "
                    + "amdgpu's; give it back to amdgpu first",
                spec.location)
            return
        }
        guard let gpu = target.gpu, let state = gpu.amdPartition else {
            fail(
                "\(target.label) has no compute partition modes (no current_compute_partition from amdgpu); "
                    + "'amdPartition' is for AMD Instinct GPUs driven by amdgpu",
                spec.location)
            return
        }
        guard let xccs = state.xccs else {
            fail(
                "\(target.label) has partition modes, but forbc does not know how many XCCs it has, so not how "
                    + "many partitions '\(spec.compute.rawValue)' makes; it knows the MI300X and MI300A",
                spec.location)
            return
        }
        let memory = spec.memory?.rawValue ?? state.memory
        guard checkAMDModes(spec, target, state, xccs: xccs, memory: memory) else { return }
        let changesMemory = spec.memory != nil && spec.memory?.rawValue != state.memory
        let changesCompute = changesMemory || spec.compute.rawValue != state.compute
        let names = desired.filter { $0.gpu == gpu.address && $0.kind == .amdXCP }.map(\.name)
        guard changesCompute else {
            let path = SysPath.pci(gpu.address, "current_compute_partition")
            relabelRecorded(
                .amdXCP, gpu: gpu.address,
                records: names.map {
                    OwnedPartition(name: $0, kind: .amdXCP, gpu: gpu.address, address: gpu.address, type: state.compute)
                }, what: "compute partition mode '\(state.compute)'",
                check: .attribute(path: path, current: state.compute))
            return
        }
        guard allowsAMDChange(spec, target, state, changesMemory: changesMemory) else { return }
        if changesMemory, let memory { configureActions += reloadForMemory(gpu, state, memory: memory, names) }
        configureActions.append(computeModeAction(spec, gpu, state, names, changesMemory: changesMemory))
    }

    /// Writing the compute mode. The partitions the GPU has now beyond the new count go away, and with them the
    /// names forbc recorded that the manifest no longer gives: a disruptive step.
    func computeModeAction(
        _ spec: AMDPartitionSpec, _ gpu: GPU, _ state: AMDPartitionState, _ names: [String], changesMemory: Bool
    ) -> PlannedAction {
        let path = SysPath.pci(gpu.address, "current_compute_partition")
        let now = state.kfdNodes.isEmpty ? (state.partitions ?? 1) : state.kfdNodes.count
        let dropped = self.state.partitions.filter {
            $0.kind == .amdXCP && $0.gpu == gpu.address && !names.contains($0.name)
        }.map(\.name)
        var action =
            PlannedAction(
                action: .configure, target: range(spec.name, names.count, names: names),
                reason: changesMemory
                    ? "the manifest declares compute partition mode '\(spec.compute.rawValue)'; set after the "
                        + "memory mode, as the driver offers it only then"
                    : "the manifest declares compute partition mode '\(spec.compute.rawValue)' and the GPU is in "
                        + "'\(state.compute)'",
                kind: .amdXCP, gpu: gpu.address, type: spec.compute.rawValue, address: gpu.address, path: path,
                value: spec.compute.rawValue,
                precondition: .attribute(path: path, current: changesMemory ? nil : state.compute),
                records: names.map {
                    OwnedPartition(
                        name: $0, kind: .amdXCP, gpu: gpu.address, address: gpu.address, type: spec.compute.rawValue)
                }, forgets: dropped)
        action.disrupts = now > names.count || !dropped.isEmpty
        if action.disrupts {
            action.reason += "; \(max(now - names.count, dropped.count)) partition(s) go away"
        }
        return action
    }

    /// Whether the GPU may change modes now: no memory change inside an XGMI hive, no KFD process (unless
    /// `--force`).
    mutating func allowsAMDChange(
        _ spec: AMDPartitionSpec, _ target: Planner.Target, _ state: AMDPartitionState, changesMemory: Bool
    ) -> Bool {
        if changesMemory, let hive = state.hive {
            // amdgpu_gmc.c: "If device is part of hive, all devices in the hive should request the same mode"; the
            // hive's memory mode changes when all of them are reloaded together, which forbc does not do.
            fail(
                "\(target.label) is in XGMI hive \(hive): amdgpu changes the memory partition mode of a hive for all "
                    + "its GPUs at once, when the driver is reloaded; forbc changes it only for GPUs outside a hive: "
                    + "change it with amd-smi, then declare it",
                spec.location)
            return false
        }
        if !state.kfdProcesses.isEmpty && !force {
            let pids = state.kfdProcesses.map(String.init).joined(separator: ", ")
            fail(
                "cannot change the partition modes of \(target.label): \(state.kfdProcesses.count) KFD process(es) "
                    + "use it (pid \(pids), /sys/class/kfd/kfd/proc); amdgpu refuses a mode change while the "
                    + "device is in use: stop them, or pass '--force'",
                spec.location)
            return false
        }
        return true
    }

    /// The modes a GPU can take: the memory mode it offers, the combination the driver allows, and the compute
    /// mode it offers (with the memory mode it has now; after a memory change, by its XCC count).
    mutating func checkAMDModes(
        _ spec: AMDPartitionSpec, _ target: Planner.Target, _ state: AMDPartitionState, xccs: Int, memory: String?
    ) -> Bool {
        if let wanted = spec.memory?.rawValue, wanted != state.memory, !state.availableMemory.contains(wanted) {
            let offered = state.availableMemory.isEmpty ? "none" : state.availableMemory.joined(separator: ", ")
            fail(
                "\(target.label) offers memory partition modes \(offered) (available_memory_partition), not "
                    + "'\(wanted)'",
                spec.location)
            return false
        }
        if let memory, let mode = AMDMemoryMode(rawValue: memory), !spec.compute.memoryModes.contains(mode) {
            let allowed = spec.compute.memoryModes.map(\.rawValue).joined(separator: " or ")
            fail(
                "compute partition mode '\(spec.compute.rawValue)' does not go with memory partition mode "
                    + "'\(memory)' of \(target.label) (aqua_vanjaram.c: \(spec.compute.rawValue) needs \(allowed)); "
                    + "declare 'memory' too",
                spec.location)
            return false
        }
        let offered =
            memory == state.memory
            ? state.availableCompute.contains(spec.compute.rawValue)
            : spec.compute.fits(xccs: xccs, memoryPartitions: AMDMemoryMode(rawValue: memory ?? "")?.partitions ?? 1)
        if !offered && spec.compute.rawValue != state.compute {
            fail(
                "\(target.label) offers compute partition modes \(state.availableCompute.joined(separator: ", ")) "
                    + "(available_compute_partition, with memory mode '\(state.memory ?? "?")'), not "
                    + "'\(spec.compute.rawValue)'",
                spec.location)
            return false
        }
        return true
    }

    /// A memory mode change: the request, then a reload of the device's driver (unbind, bind), which makes it.
    func reloadForMemory(_ gpu: GPU, _ state: AMDPartitionState, memory: String, _ names: [String]) -> [PlannedAction] {
        let path = SysPath.pci(gpu.address, "current_memory_partition")
        let driver = gpu.driver ?? "amdgpu"
        let why = "amdgpu makes a memory partition change when it is loaded again (amdgpu_gmc.c)"
        var unbind = PlannedAction(
            action: .configure, target: gpu.address,
            reason: "unbind \(gpu.address) from '\(driver)': \(why); every process on the GPU loses it",
            kind: .amdXCP, gpu: gpu.address, address: gpu.address,
            path: "/sys/bus/pci/drivers/\(driver)/unbind", value: gpu.address,
            precondition: .driverBinding(device: gpu.address, from: driver, to: nil))
        unbind.disrupts = true
        return [
            PlannedAction(
                action: .configure, target: gpu.address,
                reason: "the manifest declares memory partition mode '\(memory)' and the GPU is in "
                    + "'\(state.memory ?? "?")'; the memory mode changes before the compute mode",
                kind: .amdXCP, gpu: gpu.address, type: memory, address: gpu.address, path: path, value: memory,
                precondition: .attribute(path: path, current: state.memory)),
            unbind,
            PlannedAction(
                action: .configure, target: gpu.address, reason: "bind \(gpu.address) to '\(driver)' again: \(why)",
                kind: .amdXCP, gpu: gpu.address, address: gpu.address, path: "/sys/bus/pci/drivers/\(driver)/bind",
                value: gpu.address, precondition: .driverBinding(device: gpu.address, from: nil, to: driver)),
        ]
    }

    /// How a workload reaches each compute partition on the host: ROCm numbers the GPUs it sees in KFD's order
    /// (PCI order, a device's partitions in turn), and `ROCR_VISIBLE_DEVICES` picks one by that number.
    mutating func assignAMDAccess() {
        var ordinal = 0
        for gpu in inventory.gpus.sorted(by: { $0.address < $1.address }) {
            guard let state = gpu.amdPartition else { continue }
            let mine = desired.indices.filter { desired[$0].kind == .amdXCP && desired[$0].gpu == gpu.address }
            if mine.isEmpty {
                ordinal += state.kfdNodes.isEmpty ? (state.partitions ?? 1) : state.kfdNodes.count
                continue
            }
            for index in mine {
                desired[index].access = "ROCR_VISIBLE_DEVICES=\(ordinal)"
                ordinal += 1
            }
        }
    }
}

extension AMDComputeMode {
    /// Whether the mode divides a device of `xccs` XCCs with `memoryPartitions` memory partitions, as amdgpu's
    /// `__aqua_vanjaram_is_valid_mode` decides it (aqua_vanjaram.c).
    func fits(xccs: Int, memoryPartitions: Int) -> Bool {
        switch self {
        case .spx: memoryPartitions == 1 && xccs > 0
        case .dpx: memoryPartitions <= 2 && xccs % 4 == 0
        case .tpx: (memoryPartitions == 1 || memoryPartitions == 3) && xccs % 3 == 0
        case .qpx: (memoryPartitions == 1 || memoryPartitions == 4) && xccs / 4 >= 2
        case .cpx: xccs > 1 && (memoryPartitions == 1 || memoryPartitions == 4) && xccs % memoryPartitions == 0
        }
    }
}

extension AMDMemoryMode {
    /// The memory partitions the mode makes on a discrete GPU (amdgpu_gmc.c, `amdgpu_gmc_init_sw_mem_ranges`).
    var partitions: Int {
        switch self {
        case .nps1: 1
        case .nps2: 2
        case .nps4: 4
        case .nps8: 8
        }
    }
}
