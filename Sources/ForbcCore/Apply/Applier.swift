/// The only writer. Executes a plan step by step: before each step it re-reads what the step depends on
/// (assert, then act), skips a step whose result already holds, and stops at the first failure with a
/// report of what was done, what failed and what was not attempted. A rerun converges.
public struct Applier: Sendable {
    public let sysfs: any SysfsChannel
    public let store: StateStore

    public init(sysfs: any SysfsChannel, store: StateStore) {
        self.sysfs = sysfs
        self.store = store
    }

    /// The outcome of one apply.
    public struct Report: Sendable {
        public var done: [PlannedAction] = []
        /// Steps whose result already held when apply re-read the host (no write).
        public var alreadyDone: [PlannedAction] = []
        public var failed: (action: PlannedAction, error: ForbcError)?
        public var notAttempted: [PlannedAction] = []
        public var succeeded: Bool { failed == nil }
        public init() {}
    }

    /// Runs the plan. The caller holds the host lock.
    public func apply(_ plan: Plan) throws -> Report {
        var report = Report()
        var state = try store.load()
        for (index, action) in plan.actions.enumerated() {
            do {
                if try check(action) {
                    try sysfs.write(action.path, action.value)
                    report.done.append(action)
                } else {
                    report.alreadyDone.append(action)
                }
                for name in action.forgets { state.forget(name) }
                for record in action.records { state.record(record) }
                try store.save(state)
            } catch {
                let failure = error as? ForbcError ?? ForbcError(.system, "\(error)")
                report.failed = (action, failure)
                report.notAttempted = Array(plan.actions[(index + 1)...])
                return report
            }
        }
        // Converged: the state dir now owns every declared partition, at the identity it has.
        state.host = plan.host
        for partition in plan.partitions where partition.kind != .mig {
            state.record(OwnedPartition(name: partition.name, kind: partition.kind, gpu: partition.gpu, uuid: partition.uuid,
                                        address: partition.address, parent: partition.parent, type: partition.type,
                                        typeName: partition.typeName))
        }
        try store.save(state)
        return report
    }

    /// Re-reads the host for one action: true to act, false when its result already holds; throws when the
    /// host changed in a way the plan did not expect.
    func check(_ action: PlannedAction) throws -> Bool {
        switch action.precondition {
        case .mdevAbsent(let uuid, let parent, let type):
            if sysfs.exists(SysPath.mdev(uuid)) {
                let link = try sysfs.readLink(SysPath.mdev(uuid, "mdev_type")) ?? ""
                if link.hasSuffix("/\(parent)/mdev_supported_types/\(type)") { return false }
                throw ForbcError(.changedWorld, "mdev '\(uuid)' appeared since planning as \(link.split(separator: "/").suffix(3).joined(separator: "/")); run 'forbc plan' again",
                                 path: SysPath.mdev(uuid))
            }
            let path = SysPath.mdevType(parent, type, "available_instances")
            let available = Int(try sysfs.read(path).trimmingCharacters(in: .whitespacesAndNewlines)) ?? 0
            if available < 1 {
                throw ForbcError(.changedWorld, "\(path) reads \(available): no instance of '\(type)' is free on '\(parent)'; another tool may have taken it; run 'forbc plan' again",
                                 path: path)
            }
            return true
        case .mdevPresent(let uuid):
            return sysfs.exists(SysPath.mdev(uuid))
        case .numVFs(let pf, let current):
            return try expect(SysPath.pci(pf, "sriov_numvfs"), reads: current, before: action.value)
        case .vgpuType(let vf, let current):
            return try expect(SysPath.pci(vf, "nvidia/current_vgpu_type"), reads: current, before: action.value)
        }
    }

    /// For attributes that hold one number: false when it already reads `value`, true when it reads `current`.
    func expect(_ path: String, reads current: Int, before value: String) throws -> Bool {
        let now = Int(try sysfs.read(path).trimmingCharacters(in: .whitespacesAndNewlines)) ?? -1
        if "\(now)" == value { return false }
        if now != current {
            throw ForbcError(.changedWorld, "\(path) reads \(now), the plan expected \(current); run 'forbc plan' again", path: path)
        }
        return true
    }
}
