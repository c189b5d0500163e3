import ForbcCore
import Foundation

/// Mixed-size (heterogeneous) time-sliced vGPU in the simulated NVML and driver. The mode lives with the
/// scheduler (`SimVGPUScheduler.heterogeneous`, which nvmlDeviceGetVgpuHeterogeneousMode reports to both); the
/// placement table is the profile's (`SimNVMLDevice.vgpuPlacementRules`). What the driver does, simulated:
/// the mode changes only while no VF of the GPU holds a vGPU (NV_ERR_IN_USE, reported by NVML as
/// NVML_ERROR_IN_USE); in mixed-size mode a VF's `current_vgpu_type` takes any type with a free placement, and the
/// driver puts the vGPU at the lowest free placement ID of its type (on KVM the placement is the driver's choice:
/// no sysfs file to choose it is documented).
extension SimulatedNVML {
    public func vgpuPlacements(device: Int) throws -> VGPUPlacementState? {
        guard let gpu = kernel.model.nvml.first(where: { $0.index == device }) else {
            throw NVMLReturn.error("nvmlDeviceGetVgpuHeterogeneousMode", NVMLReturn.invalidArgument)
        }
        guard let rules = gpu.vgpuPlacementRules, !gpu.currentMode else { return nil }
        let heterogeneous = gpu.vgpuScheduler?.heterogeneous ?? false
        return VGPUPlacementState(
            heterogeneous: heterogeneous, rules: rules,
            active: heterogeneous ? kernel.model.activePlacements(pf: gpu.address) : nil)
    }

    /// The placement IDs of `type` whose slots are free now (in mixed-size mode; none in equal-size mode).
    public func creatablePlacements(device: Int, type: Int) throws -> [Int] {
        let model = kernel.model
        guard let gpu = model.nvml.first(where: { $0.index == device }) else {
            throw NVMLReturn.error("nvmlDeviceGetVgpuTypeCreatablePlacements", NVMLReturn.invalidArgument)
        }
        guard let rules = model.mixedSizeRules(pf: gpu.address) else { return [] }
        return model.freePlacements(pf: gpu.address, type: type, rules: rules)
    }

    public func setVGPUHeterogeneousMode(device: Int, enabled: Bool) throws {
        let call = "nvmlDeviceSetVgpuHeterogeneousMode"
        try kernel.nvmlCall(call, journaled: .heterogeneous(device: device, enabled: enabled)) { model in
            guard let i = model.nvml.firstIndex(where: { $0.index == device }) else {
                throw NVMLReturn.error(call, NVMLReturn.invalidArgument, detail: "no device \(device)")
            }
            guard model.nvml[i].vgpuPlacementRules != nil, model.nvml[i].vgpuScheduler != nil,
                !model.nvml[i].currentMode
            else {
                throw NVMLReturn.error(call, NVMLReturn.notSupported)
            }
            if model.vgpuCount(pf: model.nvml[i].address) > 0 { throw NVMLReturn.error(call, NVMLReturn.inUse) }
            model.nvml[i].vgpuScheduler!.heterogeneous = enabled
        }
    }
}

extension SimulatedHostModel {
    /// The placement rules of the PF's GPU while it is in mixed-size mode; nil in equal-size mode.
    func mixedSizeRules(pf: String) -> [Int: VGPUPlacementRule]? {
        guard let i = nvmlPosition(of: pf), nvml[i].vgpuScheduler?.heterogeneous == true else { return nil }
        return nvml[i].vgpuPlacementRules
    }

    /// Each active vGPU on the PF's VFs (one a running VM uses: `activeVGPUs`) with the placement the driver gave
    /// it, as nvmlDeviceGetActiveVgpus, nvmlVgpuInstanceGetType and nvmlVgpuInstanceGetPlacementId report them (per
    /// GPU: NVML names no VF). A vGPU whose VM is not running is not listed.
    func activePlacements(pf: String) -> [VGPUActivePlacement] {
        guard let (device, _) = SimTree(model: self).locate(pf), let sriov = device.sriov else { return [] }
        return (0..<sriov.numVFs).compactMap { i -> VGPUActivePlacement? in
            let vf = SimTree.vfAddress(pf, sriov, i)
            guard activeVGPUs.contains(vf), let type = vgpus[vf], type != 0, let placement = vgpuPlacements?[vf]
            else { return nil }
            return VGPUActivePlacement(type: type, placement: placement)
        }.sorted { ($0.placement, $0.type) < ($1.placement, $1.type) }
    }

    /// How many of the PF's VFs hold a vGPU.
    func vgpuCount(pf: String) -> Int {
        guard let (device, _) = SimTree(model: self).locate(pf), let sriov = device.sriov else { return 0 }
        return (0..<sriov.numVFs).filter { (vgpus[SimTree.vfAddress(pf, sriov, $0)] ?? 0) != 0 }.count
    }

    /// The lowest placement ID of `type` whose slots no vGPU on the PF's VFs takes; nil when none is free.
    func freePlacement(pf: String, type: Int, rules: [Int: VGPUPlacementRule]) -> Int? {
        freePlacements(pf: pf, type: type, rules: rules).first
    }

    /// The placement IDs of `type` whose slots no vGPU on the PF's VFs takes.
    func freePlacements(pf: String, type: Int, rules: [Int: VGPUPlacementRule]) -> [Int] {
        guard let rule = rules[type], let (device, _) = SimTree(model: self).locate(pf), let sriov = device.sriov
        else { return [] }
        let taken: [(Int, Int)] = (0..<sriov.numVFs).compactMap { i in
            let vf = SimTree.vfAddress(pf, sriov, i)
            guard let id = vgpus[vf], id != 0, let start = vgpuPlacements?[vf], let size = rules[id]?.size else {
                return nil
            }
            return (start, size)
        }
        return rule.ids.filter { start in taken.allSatisfy { start + rule.size <= $0.0 || $0.0 + $0.1 <= start } }
    }
}
