internal import Yams

/// Export of the vendor drivers' own partitioning: AMD partition modes, Intel VF provisioning.
extension ExportBuilder {
    /// `amdPartition: {name, compute, memory}` for a GPU with partition modes; the name is the one forbc recorded
    /// when its partitions were numbered from 0 on this GPU, else one made from the GPU's bus (names are unique).
    mutating func amdEntry(_ gpu: GPU) -> Node? {
        guard let state = gpu.amdPartition, let count = state.partitions else { return nil }
        let recorded = self.state.partitions.filter { $0.kind == .amdXCP && $0.gpu == gpu.address }.map(\.name)
        let base = recorded.first.map { $0.split(separator: "-").dropLast().joined(separator: "-") }
        let bus = gpu.address.split(separator: ":").dropFirst().first.map(String.init) ?? "0"
        var name = "xcp\(bus)"
        if let base, !base.isEmpty, recorded.sorted() == (0..<count).map({ "\(base)-\($0)" }).sorted(),
            !used.contains("\(base)-0")
        {
            name = base
        }
        used.formUnion((0..<count).map { "\(name)-\($0)" })
        var fields = [("name", ExportNode.string(name)), ("compute", ExportNode.string(state.compute))]
        if let memory = state.memory { fields.append(("memory", ExportNode.string(memory))) }
        return entry(("pciAddress", gpu.address), "amdPartition", ExportNode.flow(fields))
    }

    /// `perVF` for enabled VFs that all hold the same settings (what the driver provisioned, automatically or
    /// not): the four quotas when every one is set, the two scheduling settings when they are not 0.
    func perVFNode(_ gpu: GPU, enabled: Int) -> Node? {
        guard let iov = gpu.iov, enabled > 0, enabled <= iov.vfs.count else { return nil }
        let first = iov.vfs[0]
        guard iov.vfs.prefix(enabled).allSatisfy({ $0 == first }) else { return nil }
        var fields: [(String, Node)] = []
        let quotas = [
            ("localMemory", "lmem_quota", true), ("ggtt", "ggtt_quota", true),
            ("contexts", "contexts_quota", false), ("doorbells", "doorbells_quota", false),
        ]
        // A count past Int (no driver's: i915 keeps them in 32 bits) is not exported rather than trapping.
        let values: [(String, Node)] = quotas.compactMap { key, attribute, bytes in
            guard let value = first[attribute].flatMap(UInt64.init), value != 0 else { return nil }
            if bytes { return (key, ExportNode.string(VFProvisioning.size(value))) }
            return Int(exactly: value).map { (key, ExportNode.int($0)) }
        }
        if values.count == quotas.count { fields += values }
        for (key, attribute) in [("execQuantumMs", "exec_quantum_ms"), ("preemptTimeoutUs", "preempt_timeout_us")] {
            if let value = first[attribute].flatMap(Int.init), value != 0 {
                fields.append((key, ExportNode.int(value)))
            }
        }
        return fields.isEmpty ? nil : ExportNode.flow(fields)
    }
}
