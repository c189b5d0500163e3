/// Renames of partitions that are modes of a device rather than objects of their own (AMD compute partitions,
/// SR-IOV VFs): a new `name` for the same modes changes nothing on the device, but the names are forbc's labels,
/// recorded in the state dir (export and prune read them). So a rename is a `relabel` step, as for a MIG instance
/// kept under a new name: apply re-reads that the device still holds what was planned, writes nothing, and the
/// records move to the new names.
extension PlanBuilder {
    /// A relabel of `kind`'s records on `gpu` when forbc recorded them under other names than `records` carry;
    /// nothing when it recorded none (the first apply records them) or the same names.
    mutating func relabelRecorded(
        _ kind: PartitionKind, gpu: String, records: [OwnedPartition], what: String, check: Precondition
    ) {
        let recorded = state.partitions.filter { $0.kind == kind && $0.gpu == gpu }.map(\.name)
        let names = records.map(\.name)
        guard !recorded.isEmpty, !names.isEmpty, recorded.sorted() != names.sorted() else { return }
        let old = range("", recorded.count, names: recorded.sorted(by: Self.numbered))
        relabelActions.append(
            PlannedAction(
                action: .relabel, target: range("", names.count, names: names),
                reason: "forbc recorded \(recorded.count == 1 ? "it" : "them") as '\(old)'; the manifest names "
                    + "\(recorded.count == 1 ? "it" : "them") '\(range("", names.count, names: names))' now: \(what) "
                    + "stays as it is, only forbc's records change",
                kind: kind, gpu: gpu, address: gpu, path: "forbc state (no sysfs write)", value: what,
                precondition: check, records: records, forgets: recorded.filter { !names.contains($0) }))
    }

    /// `NAME-2` before `NAME-10`.
    static func numbered(_ a: String, _ b: String) -> Bool {
        func key(_ name: String) -> (String, Int) {
            let parts = name.split(separator: "-")
            guard let number = parts.last.flatMap({ Int($0) }) else { return (name, -1) }
            return (parts.dropLast().joined(separator: "-"), number)
        }
        return key(a) < key(b)
    }
}
