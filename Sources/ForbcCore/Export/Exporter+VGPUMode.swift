internal import Yams

extension ExportBuilder {
    /// A GPU's entry with `vgpuMode: mixedSize` added where NVML reports mixed-size (heterogeneous) mode on (the
    /// default, equal-size, is left out); an entry of the mode alone when the GPU holds nothing else. An entry of
    /// another kind stays as it is: the mode goes with time-sliced vGPUs only.
    func withMode(_ gpu: GPU, _ node: Node?) -> Node? {
        guard gpu.vgpuPlacements?.heterogeneous == true, gpu.mig?.currentMode != true else { return node }
        let value = ExportNode.string(VGPUMode.mixedSize.rawValue)
        guard let node, case .mapping(let mapping) = node else {
            return ExportNode.block([
                ("select", ExportNode.flow([("pciAddress", ExportNode.string(gpu.address))])), ("vgpuMode", value),
            ])
        }
        let keys = mapping.map { $0.key.string ?? "" }
        guard keys.allSatisfy({ ["select", "vgpu", "vgpuScheduler"].contains($0) }) else { return node }
        return ExportNode.block(mapping.map { ($0.key.string ?? "", $0.value) } + [("vgpuMode", value)])
    }
}
