import CNVML
import Foundation

/// The vGPU scheduler through NVML's documented calls (R535 and later): capabilities and state to read, state to
/// set. NVML says the state may be set "only when no VM is running" and does not persist across a module reload.
extension NVMLLibrary {
    public func vgpuScheduler(device index: Int) throws -> VGPUSchedulerState? {
        try lock.withLock {
            let device = try handle(index)
            var capabilities = nvmlVgpuSchedulerCapabilities_t()
            var state = nvmlVgpuSchedulerGetState_t()
            do {
                let getCapabilities = try symbol(
                    "nvmlDeviceGetVgpuSchedulerCapabilities", nvmlDeviceGetVgpuSchedulerCapabilities_fn.self)
                try check("nvmlDeviceGetVgpuSchedulerCapabilities", getCapabilities(device, &capabilities))
                let getState = try symbol(
                    "nvmlDeviceGetVgpuSchedulerState", nvmlDeviceGetVgpuSchedulerState_fn.self)
                try check("nvmlDeviceGetVgpuSchedulerState", getState(device, &state))
            } catch let error as ForbcError where error.code == .unsupported {
                // No vGPU manager on this GPU, or an NVML without the calls: no scheduler to manage.
                return nil
            }
            let supported = withUnsafeBytes(of: capabilities.supportedSchedulers) {
                $0.bindMemory(to: UInt32.self).compactMap(VGPUSchedulerPolicy.init(nvml:))
            }
            // Without adaptive round robin the union holds vgpuSchedData; with it, vgpuSchedDataWithARR.
            let timeslice =
                state.arrMode == NVML_VGPU_SCHEDULER_ARR_DISABLE || state.arrMode == NVML_VGPU_SCHEDULER_ARR_DEFAULT
                ? state.schedulerParams.vgpuSchedData.timeslice
                : state.schedulerParams.vgpuSchedDataWithARR.timeslice
            return VGPUSchedulerState(
                policy: VGPUSchedulerPolicy(nvml: state.schedulerPolicy), timesliceNs: Int(timeslice),
                supported: supported, minTimesliceNs: Int(capabilities.minTimeslice),
                maxTimesliceNs: Int(capabilities.maxTimeslice), heterogeneous: try heterogeneousMode(device))
        }
    }

    /// nvmlDeviceGetVgpuHeterogeneousMode (R550, vGPU 17); false where NVML has no such call or mode.
    func heterogeneousMode(_ device: Device) throws -> Bool {
        let get: nvmlDeviceGetVgpuHeterogeneousMode_fn
        do {
            get = try symbol("nvmlDeviceGetVgpuHeterogeneousMode", nvmlDeviceGetVgpuHeterogeneousMode_fn.self)
        } catch let error as ForbcError where error.code == .unsupported { return false }
        var mode = nvmlVgpuHeterogeneousMode_t()
        mode.version = UInt32(MemoryLayout<nvmlVgpuHeterogeneousMode_t>.size) | (1 << 24)
        let code = get(device, &mode)
        if code == NVMLReturn.notSupported { return false }
        try check("nvmlDeviceGetVgpuHeterogeneousMode", code)
        return mode.mode != 0
    }

    public func setVGPUScheduler(device index: Int, policy: VGPUSchedulerPolicy, timesliceNs: Int) throws {
        try lock.withLock {
            let device = try handle(index)
            let set = try symbol("nvmlDeviceSetVgpuSchedulerState", nvmlDeviceSetVgpuSchedulerState_fn.self)
            var wanted = nvmlVgpuSchedulerSetState_t()
            wanted.schedulerPolicy = policy.nvml
            wanted.enableARRMode = UInt32(NVML_VGPU_SCHEDULER_ARR_DISABLE)
            wanted.schedulerParams.vgpuSchedData.timeslice = UInt32(clamping: timesliceNs)
            try check("nvmlDeviceSetVgpuSchedulerState", set(device, &wanted))
        }
    }
}
