import CNVML
import Foundation

/// Mixed-size (heterogeneous) time-sliced vGPU through NVML's documented calls (R550 / vGPU 17 and later):
/// nvmlDeviceGetVgpuHeterogeneousMode and nvmlDeviceSetVgpuHeterogeneousMode for the mode, and
/// nvmlDeviceGetVgpuTypeSupportedPlacements (nvmlVgpuPlacementList_v2_t, mode heterogeneous) for each supported
/// type's placement size and IDs.
extension NVMLLibrary {
    public func vgpuPlacements(device index: Int) throws -> VGPUPlacementState? {
        try lock.withLock {
            let device = try handle(index)
            let getMode: nvmlDeviceGetVgpuHeterogeneousMode_fn
            let supported: nvmlDeviceGetSupportedVgpus_fn
            do {
                getMode = try symbol("nvmlDeviceGetVgpuHeterogeneousMode", nvmlDeviceGetVgpuHeterogeneousMode_fn.self)
                supported = try symbol("nvmlDeviceGetSupportedVgpus", nvmlDeviceGetSupportedVgpus_fn.self)
            } catch let error as ForbcError where error.code == .unsupported { return nil }
            var mode = nvmlVgpuHeterogeneousMode_t()
            mode.version = UInt32(MemoryLayout<nvmlVgpuHeterogeneousMode_t>.size) | (1 << 24)
            let code = getMode(device, &mode)
            // No vGPU manager, a GPU without the mode, or MIG mode on.
            if code == NVMLReturn.notSupported { return nil }
            try check("nvmlDeviceGetVgpuHeterogeneousMode", code)
            var count: UInt32 = 0
            if supported(device, &count, nil) == NVMLReturn.notSupported || count == 0 {
                return VGPUPlacementState(heterogeneous: mode.mode != 0, rules: [:])
            }
            var ids = [UInt32](repeating: 0, count: Int(count))
            try check("nvmlDeviceGetSupportedVgpus", supported(device, &count, &ids))
            var rules: [Int: VGPUPlacementRule] = [:]
            for id in ids.prefix(Int(count)) {
                if let rule = try placements(device, type: id, creatable: false) { rules[Int(id)] = rule }
            }
            let active = mode.mode != 0 ? try activePlacements(device) : nil
            return VGPUPlacementState(heterogeneous: mode.mode != 0, rules: rules, active: active)
        }
    }

    /// Each active vGPU instance's type and placement ID (heterogeneous mode): nvmlDeviceGetActiveVgpus (the count
    /// first), then nvmlVgpuInstanceGetType and nvmlVgpuInstanceGetPlacementId per instance. The list is a moment's:
    /// a VM that starts between the count and the fetch grows it (NVML_ERROR_INSUFFICIENT_SIZE: asked again with
    /// the new count), and an instance whose VM ended meanwhile answers NVML_ERROR_NOT_FOUND (left out). An
    /// instance without a valid placement ID is left out too. nil (unknown, never a failed discovery) where NVML
    /// lacks a call (before R550: no symbol, or NVML_ERROR_FUNCTION_NOT_FOUND) or does not support it here
    /// (NVML_ERROR_NOT_SUPPORTED), or where the list kept growing. What is left out makes the list shorter than
    /// the GPU's vGPUs, which the planner takes as "placement not checked", never as "moved".
    private func activePlacements(_ device: Device) throws -> [VGPUActivePlacement]? {
        let list: nvmlDeviceGetActiveVgpus_fn
        let getType: nvmlVgpuInstanceGetType_fn
        let getPlacement: nvmlVgpuInstanceGetPlacementId_fn
        do {
            list = try symbol("nvmlDeviceGetActiveVgpus", nvmlDeviceGetActiveVgpus_fn.self)
            getType = try symbol("nvmlVgpuInstanceGetType", nvmlVgpuInstanceGetType_fn.self)
            getPlacement = try symbol("nvmlVgpuInstanceGetPlacementId", nvmlVgpuInstanceGetPlacementId_fn.self)
        } catch let error as ForbcError where error.code == .unsupported { return nil }
        guard let instances = try activeInstances(device, list) else { return nil }
        var active: [VGPUActivePlacement] = []
        for instance in instances {
            var type: UInt32 = 0
            var placement = nvmlVgpuPlacementId_t()
            placement.version = UInt32(MemoryLayout<nvmlVgpuPlacementId_t>.size) | (1 << 24)
            var call = "nvmlVgpuInstanceGetType"
            var code = getType(instance, &type)
            if code == NVML_SUCCESS {
                call = "nvmlVgpuInstanceGetPlacementId"
                code = getPlacement(instance, &placement)
            }
            if Self.unknown(code) { return nil }
            if code == NVMLReturn.notFound { continue }  // its VM ended since the list was read
            try check(call, code)
            if placement.placementId != UInt32(NVML_INVALID_VGPU_PLACEMENT_ID) {
                active.append(VGPUActivePlacement(type: Int(type), placement: Int(placement.placementId)))
            }
        }
        return active.sorted { ($0.placement, $0.type) < ($1.placement, $1.type) }
    }

    /// nvmlDeviceGetActiveVgpus: the count, then the instances, asked again (at most 8 times) while the list grows;
    /// nil where NVML cannot tell.
    private func activeInstances(_ device: Device, _ list: nvmlDeviceGetActiveVgpus_fn) throws -> [UInt32]? {
        var count: UInt32 = 0
        var code = list(device, &count, nil)
        var instances: [UInt32] = []
        var attempts = 0
        while code == NVMLReturn.insufficientSize && attempts < 8 {
            attempts += 1
            instances = [UInt32](repeating: 0, count: Int(count))
            code = instances.withUnsafeMutableBufferPointer { list(device, &count, $0.baseAddress) }
        }
        if Self.unknown(code) || code == NVMLReturn.insufficientSize { return nil }
        try check("nvmlDeviceGetActiveVgpus", code)
        return Array(instances.prefix(Int(count)))
    }

    /// Codes that say NVML cannot give the read-back here (the call is missing or not supported): unknown.
    static func unknown(_ code: nvmlReturn_t) -> Bool {
        code == NVMLReturn.notSupported || code == NVMLReturn.functionNotFound
    }

    public func creatablePlacements(device index: Int, type: Int) throws -> [Int] {
        try lock.withLock {
            try placements(try handle(index), type: UInt32(type), creatable: true)?.ids ?? []
        }
    }

    /// One type's supported (or creatable) placements in heterogeneous mode: the count first
    /// (NVML_ERROR_INSUFFICIENT_SIZE), then the IDs; nil for a type with none (a MIG-backed type:
    /// NVML_ERROR_NOT_SUPPORTED or NVML_ERROR_INVALID_ARGUMENT). The two calls take the same list.
    private func placements(_ device: Device, type: UInt32, creatable: Bool) throws -> VGPUPlacementRule? {
        let call =
            creatable ? "nvmlDeviceGetVgpuTypeCreatablePlacements" : "nvmlDeviceGetVgpuTypeSupportedPlacements"
        let get =
            creatable
            ? try symbol(call, nvmlDeviceGetVgpuTypeCreatablePlacements_fn.self)
            : try symbol(call, nvmlDeviceGetVgpuTypeSupportedPlacements_fn.self)
        var list = nvmlVgpuPlacementList_t()
        list.version = UInt32(MemoryLayout<nvmlVgpuPlacementList_t>.size) | (2 << 24)
        list.mode = UInt32(NVML_VGPU_PGPU_HETEROGENEOUS_MODE)
        let first = get(device, type, &list)
        if first == NVMLReturn.notSupported || first == NVMLReturn.invalidArgument { return nil }
        if first != 7 { try check(call, first) }  // 7: NVML_ERROR_INSUFFICIENT_SIZE
        guard list.count > 0 else { return nil }
        var ids = [UInt32](repeating: 0, count: Int(list.count))
        let code = ids.withUnsafeMutableBufferPointer { buffer in
            list.placementIds = buffer.baseAddress
            return get(device, type, &list)
        }
        list.placementIds = nil
        try check(call, code)
        return VGPUPlacementRule(size: Int(list.placementSize), ids: ids.prefix(Int(list.count)).map { Int($0) })
    }

    public func setVGPUHeterogeneousMode(device index: Int, enabled: Bool) throws {
        try lock.withLock {
            let device = try handle(index)
            let set = try symbol(
                "nvmlDeviceSetVgpuHeterogeneousMode", nvmlDeviceSetVgpuHeterogeneousMode_fn.self)
            var mode = nvmlVgpuHeterogeneousMode_t()
            mode.version = UInt32(MemoryLayout<nvmlVgpuHeterogeneousMode_t>.size) | (1 << 24)
            mode.mode = enabled ? 1 : 0
            try check("nvmlDeviceSetVgpuHeterogeneousMode", set(device, &mode))
        }
    }
}
