import Foundation

/// The only writer. Executes a plan step by step: before each step it re-reads what the step depends on
/// (assert, then act), skips a step whose result already holds, and stops at the first failure with a
/// report of what was done, what failed and what was not attempted. A rerun converges.
public struct Applier: Sendable {
    public let sysfs: any SysfsChannel
    public let hypervisor: (any HypervisorChannel)?
    public let nvml: (any NVMLChannel)?
    public let store: StateStore
    /// MPS daemons (nil: a plan with MPS actions fails at them).
    public let mps: (any MPSChannel)?
    /// Destroy MIG instances that run processes.
    public var force = false
    /// Reset a GPU whose MIG mode change is pending, instead of stopping there.
    public var resetGPU = false
    /// How long a live detach may take before the guest is taken not to release the device.
    public var liveDetachTimeout: Duration = .seconds(15)
    /// Asked before each step: a reason (the signal that asked forbc to stop) ends the apply there, the steps done
    /// so far finished, the rest not attempted.
    public var stopRequested: (@Sendable () -> String?)?

    public init(
        sysfs: any SysfsChannel, hypervisor: (any HypervisorChannel)? = nil, nvml: (any NVMLChannel)? = nil,
        store: StateStore, mps: (any MPSChannel)? = nil
    ) {
        self.sysfs = sysfs
        self.hypervisor = hypervisor
        self.nvml = nvml
        self.store = store
        self.mps = mps
    }

    /// The outcome of one apply.
    public struct Report: Sendable {
        public var done: [PlannedAction] = []
        /// Steps whose result already held when apply re-read the host (no write).
        public var alreadyDone: [PlannedAction] = []
        public var failed: (action: PlannedAction, error: ForbcError)?
        public var notAttempted: [PlannedAction] = []
        /// What people should know (a driver that cannot hot-plug).
        public var notes: [String] = []
        /// Why apply stopped before the rest (a signal), the steps before it done.
        public var stopped: String?
        public var succeeded: Bool { failed == nil && stopped == nil }
        public init() {}
    }

    /// Runs the plan. The caller holds the host lock.
    public func apply(_ plan: Plan) throws -> Report {
        var report = Report()
        var state = try store.load()
        // The records as the plan saw them: a step forgets a name only while it still names that partition.
        let planned = state
        for (index, action) in plan.actions.enumerated() {
            if let reason = stopRequested?() {
                report.stopped = reason
                report.notAttempted = Array(plan.actions[index...])
                return report
            }
            do {
                // The intent first: a kill during the step leaves what it may have created recorded as forbc's (a
                // relabel creates nothing: its records are made once it is done).
                if action.action != .relabel {
                    let cut = try store.append(
                        action.records.map(StateChange.record)
                            + action.attachmentRecords.map(StateChange.recordAttachment))
                    if cut > 0 { report.notes.append(Self.tornNote(cut, store)) }
                }
                if try perform(action, state: &state, report: &report) {
                    report.done.append(action)
                } else {
                    report.alreadyDone.append(action)
                }
                for name in action.forgets { state.forget(name, planned: planned.owned(name: name)) }
                for record in action.records { state.record(record) }
                for attachment in action.attachmentForgets { state.forget(attachment) }
                for attachment in action.attachmentRecords { state.record(attachment) }
                let cut = try store.append(state.takeChanges())
                if cut > 0 { report.notes.append(Self.tornNote(cut, store)) }
            } catch {
                let failure = error as? ForbcError ?? ForbcError(.system, "\(error)", cause: error)
                report.failed = (action, failure)
                report.notAttempted = Array(plan.actions[(index + 1)...])
                return report
            }
        }
        // Converged: the state dir now owns every declared partition and attachment, at the identity it has.
        state.setHost(plan.host)
        state.setSource(plan.source)
        let migNow = plan.partitions.contains { $0.kind == .mig } ? try nvml?.devices() : nil
        for partition in plan.partitions {
            var uuid = partition.uuid
            if partition.kind == .mig {
                // The MIG UUID of the instance now at the partition's placement.
                let instance = migNow?[partition.gpu]?.instances.first { $0.placement.start == partition.placement }
                uuid = instance?.uuids.first ?? state.owned(name: partition.name)?.uuid
            }
            state.record(
                OwnedPartition(
                    name: partition.name, kind: partition.kind, gpu: partition.gpu, uuid: uuid,
                    address: partition.address, parent: partition.parent, type: partition.type,
                    typeName: partition.typeName, placement: partition.placement,
                    placementConfirmed: partition.placementConfirmed, clients: partition.clients))
        }
        for attachment in plan.attachments { state.record(attachment) }
        try store.save(state)
        return report
    }

    static func tornNote(_ bytes: Int, _ store: StateStore) -> String {
        "\(store.journalURL.path) ended in an entry never completed (\(bytes) bytes: a forbc killed, or a full "
            + "disk, while writing it); it was dropped and the entries before it kept"
    }

    /// Re-reads, then acts; false when the action's result already holds.
    func perform(_ action: PlannedAction, state: inout HostState, report: inout Report) throws -> Bool {
        switch action.precondition {
        case .attachment(let domain, let device, let scope, let present):
            return try changeAttachment(
                domain: domain, device: device, scope: scope, detach: present, state: &state, report: &report)
        case .migMode, .migAbsent, .migPresent, .migKept:
            return try changeMIG(action, state: &state, report: &report)
        case .mpsAbsent, .mpsSettings, .mpsPresent:
            return try changeMPS(action)
        case .vgpuScheduler:
            return try changeVGPUScheduler(action)
        case .vgpuMode:
            return try changeVGPUMode(action)
        default:
            break
        }
        if action.action == .relabel { return try confirmKept(action) }
        guard try check(action) else { return false }
        try checkPlacement(action)
        try sysfs.write(action.path, action.value)
        return true
    }

    /// Re-reads the host for one sysfs action: true to act, false when its result already holds; throws when
    /// the host changed in a way the plan did not expect.
    func check(_ action: PlannedAction) throws -> Bool {
        switch action.precondition {
        case .mdevAbsent(let uuid, let parent, let type):
            if sysfs.exists(SysPath.mdev(uuid)) {
                if sysfs.exists(SysPath.mdevType(parent, type, "devices/\(uuid)")) { return false }
                throw ForbcError(
                    .changedWorld,
                    "mdev '\(uuid)' appeared since planning, not as '\(type)' on '\(parent)'; run 'forbc plan' again",
                    path: SysPath.mdev(uuid))
            }
            let path = SysPath.mdevType(parent, type, "available_instances")
            let available = Int(try sysfs.read(path).trimmingCharacters(in: .whitespacesAndNewlines)) ?? 0
            if available < 1 {
                throw ForbcError(
                    .changedWorld,
                    "\(path) reads \(available): no instance of '\(type)' is free on '\(parent)'; another tool may "
                        + "have taken it; run 'forbc plan' again",
                    path: path)
            }
            return true
        case .mdevPresent(let uuid):
            return sysfs.exists(SysPath.mdev(uuid))
        case .numVFs(let pf, let current):
            return try expect(SysPath.pci(pf, "sriov_numvfs"), reads: current, before: action.value)
        case .vgpuType(let vf, let current):
            return try expect(SysPath.pci(vf, "nvidia/current_vgpu_type"), reads: current, before: action.value)
        case .attachment, .migMode, .migAbsent, .migPresent, .migKept, .mpsAbsent, .mpsSettings, .mpsPresent,
            .vgpuScheduler, .vgpuMode, .stateOnly:
            return true
        case .attribute(let path, let current):
            return try expectWord(path, reads: current, before: action.value)
        case .driverBinding(let device, let from, let to):
            return try expectDriver(device, from: from, to: to)
        }
    }

    /// For attributes that hold one number: false when it already reads `value`, true when it reads `current`.
    func expect(_ path: String, reads current: Int, before value: String) throws -> Bool {
        let now = Int(try sysfs.read(path).trimmingCharacters(in: .whitespacesAndNewlines)) ?? -1
        if "\(now)" == value { return false }
        if now != current {
            throw ForbcError(
                .changedWorld, "\(path) reads \(now), the plan expected \(current); run 'forbc plan' again", path: path)
        }
        return true
    }

    /// A live detach of a PCI device is a request to the guest (PCIe or ACPI unplug); libvirt may return before
    /// the guest releases it. Nothing may be destroyed while the device is still in the guest: wait, then give up
    /// with the reason rather than block in the kernel's mdev remove.
    func awaitRelease(_ device: Hostdev, from name: String, hypervisor: any HypervisorChannel) throws {
        let clock = ContinuousClock()
        let deadline = clock.now + liveDetachTimeout
        while true {
            let domain = try hypervisor.domain(named: name)
            if try !domain.isActive
                || !DomainXML.hostdevs(in: domain.liveXML, domain: name).contains(where: { $0.sameDevice(device) })
            {
                return
            }
            if clock.now >= deadline {
                throw ForbcError(
                    .changedWorld,
                    "libvirt asked domain '\(name)' to release \(device), but the guest has not released it after "
                        + "\(liveDetachTimeout) (a paused guest, or one without an OS, does not answer unplug "
                        + "requests); nothing was destroyed: resume or shut down '\(name)', then run apply again"
                )
            }
            Thread.sleep(forTimeInterval: 0.25)
        }
    }

    /// Attach or detach one hostdev, only in the definitions that still need it. A driver that cannot
    /// (libvirt's test driver; some drivers for shut-off domains) gets its persistent definition edited and
    /// redefined; a live change it cannot make is recorded, and waits for the domain's next start.
    func changeAttachment(
        domain name: String, device: Hostdev, scope: AttachScope, detach: Bool,
        state: inout HostState, report: inout Report
    ) throws -> Bool {
        guard let hypervisor else {
            throw ForbcError(.unsupported, "the plan changes domain '\(name)' but no libvirt connection is open")
        }
        let domain = try hypervisor.domain(named: name)
        let now = try domain.summary()
        func needs(_ list: [Hostdev]) -> Bool { list.contains { $0.sameDevice(device) } == detach }
        var todo = AttachScope(
            live: scope.live && domain.isActive && needs(now.liveHostdevs),
            config: scope.config && needs(now.configHostdevs))
        guard todo.live || todo.config else { return false }
        let verb = detach ? "detach" : "attach"
        func call(_ scope: AttachScope) throws {
            if detach {
                try hypervisor.detach(device.xml, from: name, scope: scope)
            } else {
                try hypervisor.attach(device.xml, to: name, scope: scope)
            }
        }
        do {
            try call(todo)
            if detach && todo.live { try awaitRelease(device, from: name, hypervisor: hypervisor) }
            return true
        } catch let error as ForbcError where error.code == .unsupported {
            if todo.live {
                state.noteNoLiveAttach(hypervisor.uri)
                report.notes.append(
                    "the driver of '\(hypervisor.uri)' cannot \(verb) '\(device.id)' live (\(error.message)); "
                        + "'\(name)' sees the change at its next start"
                )
                todo.live = false
            }
            guard todo.config else { return true }
            if scope.live {
                // Maybe only the live half was unsupported.
                do {
                    try call(todo)
                    return true
                } catch let again as ForbcError where again.code == .unsupported {}
            }
            let definition = try hypervisor.domain(named: name).persistentXML
            let edited =
                detach ? try DomainXML.removing(device, from: definition) : try DomainXML.adding(device, to: definition)
            try hypervisor.define(edited)
            return true
        }
    }
}
