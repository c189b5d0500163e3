import ForbcCore
import Foundation

/// A simulated MPS control daemon: what `nvidia-cuda-mps-control -d` leaves running for one GPU.
public struct SimMPSDaemon: Sendable, Codable, Equatable {
    public var gpuUUID: String
    public var pid: Int
    /// 100 until set, as NVIDIA documents the default.
    public var activeThreadPercentage: Int
    public var pinnedMemoryLimit: String?

    public init(gpuUUID: String, pid: Int, activeThreadPercentage: Int = 100, pinnedMemoryLimit: String? = nil) {
        self.gpuUUID = gpuUUID
        self.pid = pid
        self.activeThreadPercentage = activeThreadPercentage
        self.pinnedMemoryLimit = pinnedMemoryLimit
    }
}

/// A change to the simulated daemons, for the simulated host's journal.
enum SimMPSCall: Codable {
    case start(gpu: String)
    case configure(gpu: String, percentage: Int, limit: String?)
    case quit(gpu: String)
    /// The daemon died or was killed behind forbc's back.
    case kill(gpu: String)
}

/// The simulated host's MPS, behind the same seam as `RealMPS`. It answers as the control program does: one
/// daemon per pipe directory ("An instance of this daemon is already running"), commands only to a daemon that
/// runs, and the GPU must be one NVML knows. It fails chosen calls (SimFault with path "mps:start",
/// "mps:configure", "mps:quit") like the simulated kernel.
public struct SimulatedMPS: MPSChannel {
    let kernel: SimulatedKernel
    /// `STATE/mps`: pipe directories are named, not made (no real daemon listens).
    let directory: URL

    public func pipeDirectory(gpu uuid: String) -> String {
        directory.appendingPathComponent(uuid).appendingPathComponent("pipe").path
    }

    public func daemon(gpu uuid: String) throws -> MPSDaemon? {
        kernel.model.mps.first { $0.gpuUUID == uuid }.map {
            MPSDaemon(
                gpuUUID: uuid, pid: $0.pid, pipeDirectory: pipeDirectory(gpu: uuid),
                settings: MPSSettings(
                    activeThreadPercentage: $0.activeThreadPercentage, pinnedMemoryLimit: $0.pinnedMemoryLimit))
        }
    }

    public func start(gpu uuid: String) throws {
        try kernel.mpsCall("start", .start(gpu: uuid))
    }

    public func configure(gpu uuid: String, _ settings: MPSSettings) throws {
        try kernel.mpsCall(
            "configure",
            .configure(gpu: uuid, percentage: settings.activeThreadPercentage, limit: settings.pinnedMemoryLimit))
    }

    public func quit(gpu uuid: String) throws {
        try kernel.mpsCall("quit", .quit(gpu: uuid))
    }
}

extension SimulatedKernel {
    /// The MPS seam of this simulated host, its pipe directories under `store`.
    public func mps(in store: StateStore) -> any MPSChannel {
        SimulatedMPS(kernel: self, directory: store.directory.appendingPathComponent("mps"))
    }

    /// Ends the daemon of `uuid` as `kill -9` would, behind forbc's back (for drift tests); journaled, so the
    /// next command sees it gone. Throws when none runs.
    public func killMPSDaemon(gpu uuid: String) throws {
        try mpsCall("kill", .kill(gpu: uuid))
    }

    /// One change to the daemons: a fault naming "mps:CALL" fails it first; a change that succeeds is journaled.
    func mpsCall(_ name: String, _ call: SimMPSCall) throws {
        try withState { s in
            if !s.replaying, let index = s.model.faults.firstIndex(where: { $0.path == "mps:\(name)" }) {
                let fault = s.model.faults[index]
                Self.consumeFault(at: index, in: &s.model)
                try record(.fault(index), in: &s)
                throw ForbcError(.system, "nvidia-cuda-mps-control (simulated): \(name) failed", errno: fault.errno)
            }
            try Self.apply(call, to: &s.model)
            try record(.mps(call), in: &s)
        }
    }

    /// Replays a journaled change.
    func replay(_ call: SimMPSCall) throws {
        try withState { s in try Self.apply(call, to: &s.model) }
    }

    /// What the control program does, on the model; errors carry its words.
    static func apply(_ call: SimMPSCall, to model: inout SimulatedHostModel) throws {
        func running(_ uuid: String) throws -> Int {
            guard let index = model.mps.firstIndex(where: { $0.gpuUUID == uuid }) else {
                throw ForbcError(
                    .system, "nvidia-cuda-mps-control (simulated) for \(uuid): Cannot find MPS control daemon process")
            }
            return index
        }
        switch call {
        case .start(let uuid):
            guard model.nvml.contains(where: { $0.uuid == uuid }) else {
                throw ForbcError(.system, "nvidia-cuda-mps-control (simulated): no GPU has UUID \(uuid)")
            }
            guard !model.mps.contains(where: { $0.gpuUUID == uuid }) else {
                throw ForbcError(
                    .system,
                    "nvidia-cuda-mps-control (simulated) for \(uuid): An instance of this daemon is already "
                        + "running")
            }
            model.mps.append(SimMPSDaemon(gpuUUID: uuid, pid: model.nextMPSPID))
            model.nextMPSPID += 1
        case .configure(let uuid, let percentage, let limit):
            let index = try running(uuid)
            model.mps[index].activeThreadPercentage = percentage
            if let limit { model.mps[index].pinnedMemoryLimit = limit }
        case .quit(let uuid), .kill(let uuid):
            model.mps.remove(at: try running(uuid))
        }
    }
}
