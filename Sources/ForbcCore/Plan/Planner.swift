/// The planner: a pure function of (manifest, inventory, recorded state) to a plan. Every check happens
/// here, before apply changes anything; an impossible manifest yields diagnostics and no plan.
public struct Planner: Sendable {
    public var manifest: Manifest
    public var inventory: Inventory
    public var state: HostState
    /// Detach partitions from running domains so that they can be destroyed.
    public var force: Bool

    public init(manifest: Manifest, inventory: Inventory, state: HostState, force: Bool = false) {
        self.manifest = manifest
        self.inventory = inventory
        self.state = state
        self.force = force
    }

    /// One GPU (or non-PCI mdev parent) that a `gpus[]` entry selected.
    struct Target {
        var id: String
        var gpu: GPU?
        var parents: [MdevParent]
        var label: String
        var isNVIDIA: Bool { gpu?.vendor == .nvidia }
    }

    /// Builds the plan, or throws `DiagnosticsError` with every reason it cannot.
    public func plan() throws -> Plan {
        var work = PlanBuilder(manifest: manifest, inventory: inventory, state: state)
        work.force = force
        work.build()
        if work.errors.isEmpty { work.planAttachments(force: force) }
        if !work.errors.isEmpty { throw DiagnosticsError(work.errors) }
        var plan = Plan(
            host: manifest.name, simulated: inventory.simulated,
            actions: work.detachActions + work.destroyActions + work.relabelActions + work.configureActions
                + work.createActions + work.attachActions,
            partitions: work.desired, prune: manifest.prune)
        plan.source = manifest.source
        plan.notes = work.notes
        plan.attachments = manifest.vms.flatMap { vm in
            vm.attach.compactMap { name in
                work.desired(named: name).flatMap { work.hostdev(for: $0) }.map {
                    OwnedAttachment(domain: vm.domain, partition: name, hostdev: $0)
                }
            }
        }
        return plan
    }
}

/// The mutable work of one planning pass.
struct PlanBuilder {
    let manifest: Manifest
    let inventory: Inventory
    let state: HostState
    var errors: [Diagnostic] = []
    /// What the plan could not check, or records without an action (`Plan.notes`).
    var notes: [String] = []
    var desired: [DesiredPartition] = []
    var destroyActions: [PlannedAction] = []
    var configureActions: [PlannedAction] = []
    var createActions: [PlannedAction] = []
    /// State-only steps (a kept MIG instance under a new name), after the destroys that free old names.
    var relabelActions: [PlannedAction] = []
    var detachActions: [PlannedAction] = []
    var attachActions: [PlannedAction] = []
    /// UUIDs and VF addresses already planned for destruction, so no partition is destroyed twice.
    var destroyed: Set<String> = []
    var targetedIDs: Set<String> = []
    /// Whether partitions in use may be touched (`--force`).
    var force = false
    /// Where each desired partition was declared, for diagnostics.
    var locations: [String: SourceLocation] = [:]
    /// The position in `desired` of the first partition of each name.
    var desiredPositions: [String: Int] = [:]
    /// The inventory's mdevs and the recorded partitions by key, for the lookups made once per partition.
    let index: PlanIndex

    init(manifest: Manifest, inventory: Inventory, state: HostState) {
        self.manifest = manifest
        self.inventory = inventory
        self.state = state
        index = PlanIndex(inventory: inventory, state: state)
    }

    mutating func fail(_ message: String, _ location: SourceLocation?) {
        errors.append(Diagnostic(message, at: location))
    }

    var host: String { manifest.name }
    var prune: PrunePolicy { manifest.prune }

    // MARK: Selection

    func label(_ gpu: GPU) -> String { "\(gpu.address) (\(gpu.model))" }

    func matches(_ selector: GPUSelector) -> [Planner.Target] {
        // Other PCI functions are in the inventory only because a manifest names their address.
        let gpus = inventory.gpus.filter { $0.vendor != .other }.sorted { $0.address < $1.address }
        let chosen: [GPU]
        switch selector {
        case .pciAddress(let address): chosen = inventory.gpus.filter { $0.address == address }
        case .model(let text): chosen = gpus.filter { $0.model.lowercased().contains(text.lowercased()) }
        case .vendor(let vendor): chosen = gpus.filter { $0.vendor == vendor }
        case .index(let index): chosen = index < gpus.count ? [gpus[index]] : []
        case .all: chosen = gpus
        case .parent(let name):
            if let gpu = gpus.first(where: { $0.address == name }) { return [target(gpu)] }
            guard let parent = inventory.parent(name) else { return [] }
            return [Planner.Target(id: name, gpu: nil, parents: [parent], label: "mdev parent '\(name)'")]
        }
        return chosen.map(target)
    }

    func target(_ gpu: GPU) -> Planner.Target {
        Planner.Target(
            id: gpu.address, gpu: gpu, parents: inventory.mdevParents.filter { $0.gpu == gpu.address },
            label: label(gpu))
    }

    var hostGPUs: String {
        inventory.gpus.isEmpty
            ? "this host has no NVIDIA, AMD or Intel GPU"
            : "this host has " + inventory.gpus.map { label($0) }.joined(separator: ", ")
    }

    // MARK: Build

    mutating func build() {
        var selections: [(GPUSpec, [Planner.Target])] = []
        var claimedBy: [String: Int] = [:]
        for spec in manifest.gpus {
            let targets = matches(spec.select)
            if targets.isEmpty {
                fail("select \(spec.select) matches no GPU; \(hostGPUs)", spec.location)
                continue
            }
            for target in targets {
                if let other = claimedBy[target.id] {
                    fail(
                        "\(target.label) is selected by both 'spec.gpus[\(other)]' and 'spec.gpus[\(spec.index)]'; "
                            + "one entry partitions a GPU",
                        spec.location)
                }
                claimedBy[target.id] = spec.index
                targetedIDs.insert(target.id)
            }
            selections.append((spec, targets))
        }
        for (spec, targets) in selections { expand(spec, targets) }
        checkNames()
        checkUUIDs()
        guard errors.isEmpty else { return }
        for (spec, targets) in selections {
            for target in targets {
                let mine = desired.filter { $0.gpu == target.id }
                if !spec.vgpu.isEmpty { planVGPU(spec, target, mine) }
                if let sriov = spec.sriov { planProvisionedSRIOV(sriov, target, mine) }
                if spec.migMode == true {
                    planMIG(spec, target, mine)
                } else if !isMIGBacked(spec, target) {
                    planMIGOff(spec, target)
                }
                if let passthrough = spec.passthrough { planPassthrough(passthrough, target) }
                if let mps = spec.mps { planMPS(mps, target) }
                if let amd = spec.amdPartition { planAMDPartition(amd, target) }
                if let scheduler = spec.vgpuScheduler { planVGPUScheduler(scheduler, target) }
                if let mode = spec.vgpuMode, spec.vgpu.isEmpty { planVGPUMode(mode, target) }
            }
        }
        assignAMDAccess()
        pruneMPS()
        pruneUntargeted()
        settleRelabels()
    }

    /// Names per matched GPU; numbering continues across GPUs in PCI-address order.
    mutating func expand(_ spec: GPUSpec, _ targets: [Planner.Target]) {
        func names(_ base: String, _ count: Int) -> [[String]] {
            let total = count * targets.count
            var next = 0
            return targets.map { _ in
                (0..<count).map { _ in
                    defer { next += 1 }
                    return total == 1 ? base : "\(base)-\(next)"
                }
            }
        }
        for entry in spec.vgpu {
            for (target, list) in zip(targets, names(entry.name, entry.count)) {
                for name in list {
                    locations[name] = entry.location
                    addDesired(
                        DesiredPartition(
                            name: name, kind: .mdev, gpu: target.id,
                            uuid: entry.uuid ?? UUIDv5.partition(host: host, name: name), type: entry.type))
                }
            }
        }
        for entry in spec.mig {
            for (target, list) in zip(targets, names(entry.name, entry.count)) {
                for name in list {
                    locations[name] = entry.location
                    addDesired(
                        DesiredPartition(
                            name: name, kind: .mig, gpu: target.id, uuid: nil, type: entry.profile,
                            address: target.gpu?.address, placement: entry.placement,
                            computeSlices: entry.computeSlices,
                            computeCount: entry.computeCount, computeInstances: entry.computeInstances
                        ))
                }
            }
        }
        if let sriov = spec.sriov {
            var next = 0
            for target in targets {
                for _ in 0..<sriov.vfs {
                    locations["\(sriov.name)-\(next)"] = sriov.location
                    addDesired(DesiredPartition(name: "\(sriov.name)-\(next)", kind: .sriovVF, gpu: target.id))
                    next += 1
                }
            }
        }
        if let mps = spec.mps { expandMPS(mps, targets) }
        if let amd = spec.amdPartition { expandAMDPartition(amd, targets) }
        if let passthrough = spec.passthrough {
            for (i, target) in targets.enumerated() {
                let name = targets.count == 1 ? passthrough.name : "\(passthrough.name)-\(i)"
                locations[name] = passthrough.location
                addDesired(
                    DesiredPartition(name: name, kind: .passthrough, gpu: target.id, address: target.gpu?.address))
            }
        }
    }

    /// One UUID per mdev, case aside: validate refuses a UUID pinned twice, or pinned to another declared name's
    /// derived UUID; here are the repeats only a host shows (a pin under a selector matching several GPUs, a pin
    /// equal to the UUID of a name numbered across GPUs). Before any change is planned.
    mutating func checkUUIDs() {
        var owners: [String: DesiredPartition] = [:]
        for partition in desired where partition.kind == .mdev {
            guard let uuid = partition.uuid?.lowercased() else { continue }
            guard let first = owners[uuid] else {
                owners[uuid] = partition
                continue
            }
            fail(
                "partitions '\(first.name)' (on \(first.gpu)) and '\(partition.name)' (on \(partition.gpu)) would "
                    + "both have UUID \(uuid); a UUID identifies one partition: pin it under a selector that matches "
                    + "one GPU, or pin another",
                locations[partition.name])
        }
    }

    mutating func checkNames() {
        var seen: [String: String] = [:]
        for partition in desired {
            if let gpu = seen[partition.name] {
                fail(
                    "partition name '\(partition.name)' is produced twice (on \(gpu) and \(partition.gpu)); names "
                        + "are unique per host",
                    locations[partition.name])
            }
            seen[partition.name] = partition.gpu
        }
        for vm in manifest.vms {
            for (name, location) in zip(vm.attach, vm.attachLocations) where seen[name] == nil {
                fail("'\(vm.domain)' attaches '\(name)', which the manifest does not produce on this host", location)
            }
        }
        for benchmark in manifest.benchmarks {
            for (name, location) in zip(benchmark.on, benchmark.onLocations) where seen[name] == nil {
                fail(
                    "benchmark suite '\(benchmark.suite)' runs on '\(name)', which the manifest does not produce on "
                        + "this host",
                    location)
            }
            let domains = Set((inventory.domains ?? []).map(\.name))
            for (name, location) in zip(benchmark.vms, benchmark.vmLocations) where !domains.contains(name) {
                fail(
                    "benchmark suite '\(benchmark.suite)' runs in domain '\(name)', which is not defined on "
                        + "'\(inventory.hypervisor ?? "libvirt")'; define it first, or fix the name",
                    location)
            }
        }
    }

    /// Adds a partition the manifest declares.
    mutating func addDesired(_ partition: DesiredPartition) {
        if desiredPositions[partition.name] == nil { desiredPositions[partition.name] = desired.count }
        desired.append(partition)
    }

    /// The first declared partition named `name`.
    func desired(named name: String) -> DesiredPartition? { desiredPositions[name].map { desired[$0] } }

    mutating func replaceDesired(_ partition: DesiredPartition) {
        if let position = desiredPositions[partition.name] { desired[position] = partition }
    }

    // MARK: Undeclared partitions

    /// Why an undeclared partition goes, or nil when prune keeps it.
    func pruneReason(owned: OwnedPartition?) -> String? {
        if let owned, prune != .none {
            return "forbc created it as '\(owned.name)' and the manifest no longer declares it"
        }
        if owned == nil, prune == .all { return "the manifest does not declare it and 'prune' is 'all'" }
        return nil
    }

    mutating func destroyMdev(_ mdev: MediatedDevice, target: String, gpu: String?, reason: String) {
        guard destroyed.insert(mdev.uuid).inserted else { return }
        let owned = index.owned(uuid: mdev.uuid)
        destroyActions.append(
            PlannedAction(
                action: .destroy, target: target, reason: reason, kind: .mdev, gpu: gpu, parent: mdev.parent,
                type: mdev.type,
                typeName: inventory.parent(mdev.parent)?.types.first { $0.id == mdev.type }?.name, uuid: mdev.uuid,
                path: SysPath.mdev(mdev.uuid, "remove"), value: "1", precondition: .mdevPresent(uuid: mdev.uuid),
                forgets: owned.map { [$0.name] } ?? []))
    }

    mutating func destroyVGPU(_ vf: VirtualFunction, gpu: String, target: String, reason: String) {
        guard destroyed.insert(vf.address).inserted, let current = vf.vgpu?.current else { return }
        let owned = state.partitions.first { $0.kind == .vgpuVF && $0.address == vf.address }
        destroyActions.append(
            PlannedAction(
                action: .destroy, target: target, reason: reason, kind: .vgpuVF, gpu: gpu, parent: vf.address,
                type: "\(current)",
                typeName: owned?.typeName, address: vf.address,
                path: SysPath.pci(vf.address, "nvidia/current_vgpu_type"), value: "0",
                precondition: .vgpuType(vf: vf.address, current: current), forgets: owned.map { [$0.name] } ?? []))
    }

    /// Partitions forbc recorded on GPUs the manifest no longer selects.
    mutating func pruneUntargeted() {
        guard prune != .none else { return }
        let wanted = Set(desired.map(\.name))
        for owned in state.partitions where !wanted.contains(owned.name) && !targetedIDs.contains(owned.gpu) {
            let reason = "forbc created it as '\(owned.name)' and the manifest no longer declares it"
            switch owned.kind {
            case .mdev:
                if let uuid = owned.uuid, let mdev = index.mdev(uuid) {
                    destroyMdev(mdev, target: owned.name, gpu: owned.gpu, reason: reason)
                }
            case .vgpuVF:
                if let address = owned.address, let gpu = inventory.gpu(owned.gpu),
                    let vf = gpu.vfs.first(where: { $0.address == address }),
                    let current = vf.vgpu?.current, current != 0, owned.type == nil || owned.type == "\(current)"
                {
                    destroyVGPU(vf, gpu: gpu.address, target: owned.name, reason: reason)
                }
            case .sriovVF:
                if let gpu = inventory.gpu(owned.gpu), let sriov = gpu.sriov, sriov.numVFs > 0,
                    !destroyed.contains(gpu.address)
                {
                    destroyed.insert(gpu.address)
                    let names = state.partitions.filter { $0.gpu == gpu.address && $0.kind == .sriovVF }.map(\.name)
                    configureActions.append(
                        PlannedAction(
                            action: .configure, target: owned.name,
                            reason: "forbc enabled these VFs and the manifest no longer declares them",
                            kind: .sriovVF, gpu: gpu.address, address: gpu.address,
                            path: SysPath.pci(gpu.address, "sriov_numvfs"), value: "0",
                            precondition: .numVFs(pf: gpu.address, current: sriov.numVFs), forgets: names))
                }
            case .mig:
                pruneUntargetedMIG(owned)
            case .passthrough, .mps, .amdXCP:
                break
            }
        }
    }
}
