import ForbcCore
import Foundation

/// A simulated GPU's vGPU scheduler: what nvmlDeviceGetVgpuSchedulerCapabilities and
/// nvmlDeviceGetVgpuSchedulerState report, and the state nvmlDeviceSetVgpuSchedulerState changes.
public struct SimVGPUScheduler: Sendable, Codable, Equatable {
    public var policy: VGPUSchedulerPolicy
    /// The time slice the state reports (the default until one is set).
    public var timesliceNs: Int
    public var supported: [VGPUSchedulerPolicy]
    public var minTimesliceNs: Int
    public var maxTimesliceNs: Int
    /// What a time slice of 0 ("unspecified", NVML's nvmlVgpuSchedulerSetParams_t) sets.
    public var defaultTimesliceNs: Int
    /// Heterogeneous (mixed-size) vGPU mode, as nvmlDeviceGetVgpuHeterogeneousMode reports it (nil: off).
    public var heterogeneous: Bool?

    public init(
        policy: VGPUSchedulerPolicy = .bestEffort, supported: [VGPUSchedulerPolicy], minTimesliceNs: Int,
        maxTimesliceNs: Int, defaultTimesliceNs: Int
    ) {
        self.policy = policy
        self.timesliceNs = defaultTimesliceNs
        self.supported = supported
        self.minTimesliceNs = minTimesliceNs
        self.maxTimesliceNs = maxTimesliceNs
        self.defaultTimesliceNs = defaultTimesliceNs
    }
}

/// The scheduler half of the simulated NVML. It enforces what NVML documents for the set call: a policy the
/// capabilities list, a time slice within their bounds. NVML's "only when no VM is running" is not simulated
/// here (the simulated NVML does not see domains); the planner refuses such a change first.
extension SimulatedNVML {
    public func vgpuScheduler(device: Int) throws -> VGPUSchedulerState? {
        guard let gpu = kernel.model.nvml.first(where: { $0.index == device }) else {
            throw NVMLReturn.error("nvmlDeviceGetVgpuSchedulerState", NVMLReturn.invalidArgument)
        }
        return gpu.vgpuScheduler.map {
            VGPUSchedulerState(
                policy: $0.policy, timesliceNs: $0.timesliceNs, supported: $0.supported,
                minTimesliceNs: $0.minTimesliceNs, maxTimesliceNs: $0.maxTimesliceNs,
                heterogeneous: $0.heterogeneous ?? false)
        }
    }

    public func setVGPUScheduler(device: Int, policy: VGPUSchedulerPolicy, timesliceNs: Int) throws {
        let call = "nvmlDeviceSetVgpuSchedulerState"
        let journaled = SimNVMLCall.scheduler(device: device, policy: policy, timesliceNs: timesliceNs)
        try modify(call, device: device, journaled: journaled) { gpu in
            guard var scheduler = gpu.vgpuScheduler else {
                throw NVMLReturn.error(call, NVMLReturn.notSupported)
            }
            let slice = timesliceNs == 0 ? scheduler.defaultTimesliceNs : timesliceNs
            guard scheduler.supported.contains(policy),
                scheduler.minTimesliceNs <= slice, slice <= scheduler.maxTimesliceNs
            else {
                throw NVMLReturn.error(call, NVMLReturn.invalidArgument)
            }
            scheduler.policy = policy
            scheduler.timesliceNs = slice
            gpu.vgpuScheduler = scheduler
        }
    }
}
