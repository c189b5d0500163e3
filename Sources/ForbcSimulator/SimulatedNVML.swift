import ForbcCore
import Foundation

/// A simulated NVML device: its MIG profile table (the real H100 capture's, or NVIDIA's published A100 tables),
/// MIG mode, instances and processes.
public struct SimNVMLDevice: Sendable, Codable, Equatable {
    public var address: String
    public var index: Int
    public var uuid: String
    public var name: String
    public var memoryMiB: Int
    public var currentMode: Bool
    public var pendingMode: Bool
    /// Whether a mode change waits for a GPU reset (it does in a VM, and on a GPU in use).
    public var modeChangeNeedsReset: Bool
    public var profiles: [MIGProfile]
    public var instances: [MIGInstance]
    public var nextInstanceID: Int
    /// Compute processes not inside any MIG instance (MIG off).
    public var processes: Int
    /// The vGPU manager's scheduler, on a GPU that has one.
    public var vgpuScheduler: SimVGPUScheduler?
    /// VF address → the GPU instance its MIG-backed vGPU lives on.
    public var vgpuBindings: [String: Int]?
    /// vGPU type id → its placement size and IDs in mixed-size mode, on a GPU that has that mode.
    public var vgpuPlacementRules: [Int: VGPUPlacementRule]?

    public init(
        address: String, index: Int, uuid: String, name: String, memoryMiB: Int, currentMode: Bool = false,
        pendingMode: Bool = false, modeChangeNeedsReset: Bool = true, profiles: [MIGProfile]
    ) {
        self.address = address
        self.index = index
        self.uuid = uuid
        self.name = name
        self.memoryMiB = memoryMiB
        self.currentMode = currentMode
        self.pendingMode = pendingMode
        self.modeChangeNeedsReset = modeChangeNeedsReset
        self.profiles = profiles
        instances = []
        nextInstanceID = 1
        processes = 0
    }

    var state: MIGState {
        MIGState(
            index: index, uuid: uuid, name: name, memoryMiB: memoryMiB, currentMode: currentMode,
            pendingMode: pendingMode,
            profiles: profiles, instances: instances.sorted { $0.placement.start < $1.placement.start },
            processes: processes + instances.reduce(0) { $0 + $1.processes })
    }
}

/// The simulated NVML of a simulated host, behind the same seam as the real one. It enforces what the driver
/// does: MIG mode must be on, placements must be offered and free, per-profile instance limits, and it fails
/// chosen calls (SimFault with path "nvml:CALL") like the simulated kernel.
public struct SimulatedNVML: NVMLChannel {
    let kernel: SimulatedKernel

    public init(kernel: SimulatedKernel) { self.kernel = kernel }

    public var summary: String { "simulated NVML of '\(kernel.model.profile)'" }

    public func devices() throws -> [String: MIGState] {
        Dictionary(uniqueKeysWithValues: kernel.model.nvml.map { ($0.address, $0.state) })
    }

    func modify<T>(
        _ call: String, device: Int, journaled: SimNVMLCall, _ body: (inout SimNVMLDevice) throws -> T
    ) throws -> T {
        try kernel.nvmlCall(call, journaled: journaled) { model in
            guard let i = model.nvml.firstIndex(where: { $0.index == device }) else {
                throw NVMLReturn.error(call, NVMLReturn.invalidArgument, detail: "no device \(device)")
            }
            return try body(&model.nvml[i])
        }
    }

    public func createInstance(
        device: Int, profileID: Int, placement: MIGPlacement, computeSlices: Int?, computeCount: Int?,
        computeInstances: [Int]?
    ) throws -> MIGInstance {
        let journaled = SimNVMLCall.create(
            device: device, profileID: profileID, start: placement.start, size: placement.size,
            computeSlices: computeSlices, computeCount: computeCount, computeInstances: computeInstances)
        return try modify("nvmlDeviceCreateGpuInstanceWithPlacement", device: device, journaled: journaled) { gpu in
            let call = "nvmlDeviceCreateGpuInstanceWithPlacement"
            guard gpu.currentMode else {
                throw NVMLReturn.error(call, NVMLReturn.notSupported, detail: "MIG mode is disabled")
            }
            guard let profile = gpu.profiles.first(where: { $0.id == profileID }),
                profile.placements.contains(placement)
            else {
                throw NVMLReturn.error(call, NVMLReturn.invalidArgument)
            }
            let occupied = gpu.instances.reduce(UInt32(0)) { $0 | $1.placement.mask }
            guard placement.mask & occupied == 0,
                gpu.instances.filter({ $0.profileID == profileID }).count < profile.instances
            else {
                throw NVMLReturn.error(call, NVMLReturn.insufficientResources)
            }
            let sizes = MIGLayout.computeSizes(
                each: computeSlices, count: computeCount, listed: computeInstances, in: profile.slices)
            guard sizes.allSatisfy(MIGLayout.computeSizes(in: profile.slices).contains) else {
                throw NVMLReturn.error("nvmlGpuInstanceGetComputeInstanceProfileInfo", NVMLReturn.notSupported)
            }
            guard !sizes.isEmpty || computeInstances == [], MIGLayout.computeFits(sizes, in: profile.slices) else {
                throw NVMLReturn.error("nvmlGpuInstanceCreateComputeInstance", NVMLReturn.insufficientResources)
            }
            let count = sizes.count
            let id = gpu.nextInstanceID
            gpu.nextInstanceID += 1
            let uuids = (0..<count).map { ci in
                "MIG-"
                    + UUIDv5.make(
                        namespace: UUIDv5.forbcNamespace, name: "\(gpu.uuid)/gi\(id)/ci\(ci)/\(gpu.nextInstanceID)"
                    ).uuidString.lowercased()
            }
            let instance = MIGInstance(
                id: id, profileID: profileID, placement: placement, uuids: uuids, computeSizes: sizes.sorted(by: >))
            gpu.instances.append(instance)
            return instance
        }
    }

    public func destroyInstance(device: Int, instanceID: Int) throws {
        try modify(
            "nvmlGpuInstanceDestroy", device: device, journaled: .destroy(device: device, instanceID: instanceID)
        ) { gpu in
            guard let instance = gpu.instances.first(where: { $0.id == instanceID }) else {
                throw NVMLReturn.error("nvmlGpuInstanceDestroy", NVMLReturn.notFound)
            }
            guard instance.processes == 0, !(gpu.vgpuBindings ?? [:]).values.contains(instanceID) else {
                throw NVMLReturn.error("nvmlComputeInstanceDestroy", NVMLReturn.inUse)
            }
            gpu.instances.removeAll { $0.id == instanceID }
        }
    }

    public func setMIGMode(device: Int, enabled: Bool) throws -> Bool {
        try modify("nvmlDeviceSetMigMode", device: device, journaled: .mode(device: device, enabled: enabled)) { gpu in
            guard gpu.state.processes == 0 else { throw NVMLReturn.error("nvmlDeviceSetMigMode", NVMLReturn.inUse) }
            if !enabled && !gpu.instances.isEmpty {
                throw NVMLReturn.error("nvmlDeviceSetMigMode", NVMLReturn.inUse, detail: "GPU instances exist")
            }
            gpu.pendingMode = enabled
            if !gpu.modeChangeNeedsReset { gpu.currentMode = enabled }
            return gpu.currentMode != gpu.pendingMode
        }
    }

    public func resetGPU(device: Int) throws {
        try modify("nvmlDeviceResetGpu", device: device, journaled: .reset(device: device)) { gpu in
            guard gpu.state.processes == 0 else { throw NVMLReturn.error("nvmlDeviceResetGpu", NVMLReturn.inUse) }
            gpu.currentMode = gpu.pendingMode
            gpu.instances.removeAll()
        }
    }
}

extension SimulatedKernel {
    /// Runs one NVML call on the model, failing it first if a fault names "nvml:CALL"; a call that succeeds is
    /// journaled as `journaled`.
    func nvmlCall<T>(
        _ call: String, journaled: SimNVMLCall, _ body: (inout SimulatedHostModel) throws -> T
    ) throws -> T {
        try withState { s in
            s.counters.nvmlCalls += 1
            if !s.replaying, let index = s.model.faults.firstIndex(where: { $0.path == "nvml:\(call)" }) {
                let fault = s.model.faults[index]
                Self.consumeFault(at: index, in: &s.model)
                try record(.fault(index), in: &s)
                throw NVMLReturn.error(call, fault.errno)
            }
            let result = try body(&s.model)
            try record(.nvml(journaled), in: &s)
            return result
        }
    }
}

/// A changing NVML call with its arguments, for the simulated host's journal.
enum SimNVMLCall: Codable {
    case create(
        device: Int, profileID: Int, start: Int, size: Int, computeSlices: Int?, computeCount: Int?,
        computeInstances: [Int]?)
    case destroy(device: Int, instanceID: Int)
    case mode(device: Int, enabled: Bool)
    case reset(device: Int)
    case scheduler(device: Int, policy: VGPUSchedulerPolicy, timesliceNs: Int)
    case heterogeneous(device: Int, enabled: Bool)
}

extension SimulatedNVML {
    /// Makes a journaled call again (while the kernel replays its journal).
    func replay(_ call: SimNVMLCall) throws {
        switch call {
        case .create(
            let device, let profileID, let start, let size, let computeSlices, let computeCount, let computeInstances):
            _ = try createInstance(
                device: device, profileID: profileID, placement: MIGPlacement(start: start, size: size),
                computeSlices: computeSlices, computeCount: computeCount, computeInstances: computeInstances)
        case .destroy(let device, let instanceID): try destroyInstance(device: device, instanceID: instanceID)
        case .mode(let device, let enabled): _ = try setMIGMode(device: device, enabled: enabled)
        case .reset(let device): try resetGPU(device: device)
        case .scheduler(let device, let policy, let timesliceNs):
            try setVGPUScheduler(device: device, policy: policy, timesliceNs: timesliceNs)
        case .heterogeneous(let device, let enabled): try setVGPUHeterogeneousMode(device: device, enabled: enabled)
        }
    }
}
