internal import Yams

extension ExportBuilder {
    /// A GPU's entry with `vgpuScheduler` added where NVML reports a scheduler other than the default best
    /// effort; an entry of the scheduler alone when the GPU holds nothing else. An entry of another kind (MIG,
    /// VFs, passthrough, MPS) stays as it is: the scheduler goes with vGPUs only.
    func withScheduler(_ gpu: GPU, _ node: Node?) -> Node? {
        guard let scheduler = gpu.vgpuScheduler, let policy = scheduler.policy, policy != .bestEffort,
            gpu.mig?.currentMode != true
        else { return node }
        var fields = [("policy", ExportNode.string(policy.rawValue))]
        if scheduler.timesliceNs > 0 && scheduler.timesliceNs % 1_000_000 == 0 {
            fields.append(("timesliceMs", ExportNode.int(scheduler.timesliceNs / 1_000_000)))
        }
        let value = ExportNode.flow(fields)
        guard let node, case .mapping(let mapping) = node else {
            return ExportNode.block([
                ("select", ExportNode.flow([("pciAddress", ExportNode.string(gpu.address))])), ("vgpuScheduler", value),
            ])
        }
        let keys = mapping.map { $0.key.string ?? "" }
        guard keys.allSatisfy({ $0 == "select" || $0 == "vgpu" }) else { return node }
        return ExportNode.block(mapping.map { ($0.key.string ?? "", $0.value) } + [("vgpuScheduler", value)])
    }
}
