internal import Yams

/// The `vgpuMode` key of a `gpus[]` entry.
extension ManifestWalker {
    /// `vgpuMode: mixedSize | equalSize` (NVIDIA's words: "mixed-size mode", "equal-size mode").
    mutating func walkVGPUMode(_ node: Node, path: String) -> VGPUModeSpec? {
        guard
            let mode = parsed(
                node, at: path, expected: "it must be one of: equalSize, mixedSize", VGPUMode.init(rawValue:))
        else { return nil }
        spend(1, at: path, node)
        return VGPUModeSpec(mode: mode, location: location(node))
    }

    /// The mode is one of time-sliced vGPU: it goes with `vgpu` (and `vgpuScheduler`), or alone, never with MIG
    /// (NVML: nvmlDeviceSetVgpuHeterogeneousMode returns NVML_ERROR_NOT_SUPPORTED in MIG mode). False when refused.
    mutating func checkModeKinds(_ gpu: WalkedGPU, kinds: [String], path: String, _ node: Node) -> Bool {
        guard gpu.vgpuMode != nil else { return true }
        if gpu.migMode == true || gpu.hasMIG {
            error(
                "'\(path)' declares 'vgpuMode' with MIG; the vGPU mode (equal-size or mixed-size) is one of "
                    + "time-sliced vGPU, and NVML does not set it in MIG mode; remove one of them",
                node)
            return false
        }
        if gpu.vgpuMode?.mode == .mixedSize && gpu.vgpuScheduler?.policy == .fixedShare {
            // NVIDIA AI Enterprise, "Heterogeneous vGPU": best effort and equal share schedulers only.
            error(
                "'\(path)' declares 'vgpuMode: mixedSize' with the 'fixedShare' scheduler; mixed-size "
                    + "(heterogeneous) vGPU mode supports the best effort and equal share schedulers only",
                node)
            return false
        }
        if let other = kinds.first(where: { $0 != "vgpu" }) {
            error("'\(path)' declares 'vgpuMode' with '\(other)'; the vGPU mode goes with 'vgpu' (or alone)", node)
            return false
        }
        return true
    }
}
