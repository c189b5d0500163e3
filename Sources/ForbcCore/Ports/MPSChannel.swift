import Foundation

/// The defaults an MPS control daemon gives the MPS servers it starts.
public struct MPSSettings: Sendable, Codable, Equatable, CustomStringConvertible {
    /// `get_default_active_thread_percentage` (100 when never set).
    public var activeThreadPercentage: Int
    /// `get_default_device_pinned_mem_limit 0` ("2G"), or nil when no limit is set.
    public var pinnedMemoryLimit: String?

    public init(activeThreadPercentage: Int, pinnedMemoryLimit: String? = nil) {
        self.activeThreadPercentage = activeThreadPercentage
        self.pinnedMemoryLimit = pinnedMemoryLimit
    }

    public var description: String {
        "active thread percentage \(activeThreadPercentage)%, pinned memory limit \(pinnedMemoryLimit ?? "none")"
    }
}

/// A running MPS control daemon that forbc can reach, one per GPU.
public struct MPSDaemon: Sendable, Codable, Equatable {
    /// The GPU's UUID ("GPU-…"), which the daemon's `CUDA_VISIBLE_DEVICES` names.
    public var gpuUUID: String
    /// The daemon's process id (from `nvidia-cuda-mps-control.pid` in its pipe directory), when known.
    public var pid: Int?
    public var pipeDirectory: String
    public var settings: MPSSettings

    public init(gpuUUID: String, pid: Int?, pipeDirectory: String, settings: MPSSettings) {
        self.gpuUUID = gpuUUID
        self.pid = pid
        self.pipeDirectory = pipeDirectory
        self.settings = settings
    }
}

/// The seam to NVIDIA's Multi-Process Service: one control daemon per GPU, its pipe and log directories under
/// forbc's state dir (`STATE/mps/GPU-UUID/{pipe,log}`), driven through `nvidia-cuda-mps-control`. The real side
/// is `RealMPS` (it runs the program); `ForbcSimulator` keeps a simulated daemon per GPU in the simulated host.
/// Reference: NVIDIA, "Multi-Process Service", appendix "Tools and Interface Reference"
/// (https://docs.nvidia.com/deploy/mps/appendix-tools-and-interface-reference.html).
public protocol MPSChannel: Sendable {
    /// Where the daemon of `gpu` keeps its pipes and sockets (`CUDA_MPS_PIPE_DIRECTORY` for it and its clients).
    func pipeDirectory(gpu uuid: String) -> String
    /// The daemon of `gpu` if one answers on its pipe directory, with its current defaults; nil when none runs.
    func daemon(gpu uuid: String) throws -> MPSDaemon?
    /// `nvidia-cuda-mps-control -d` for `gpu` alone (`CUDA_VISIBLE_DEVICES` is its UUID).
    func start(gpu uuid: String) throws
    /// Sets the defaults through the control interface; they apply to MPS servers started afterwards.
    func configure(gpu uuid: String, _ settings: MPSSettings) throws
    /// `quit`: the daemon (and the servers it started) ends.
    func quit(gpu uuid: String) throws
}

/// An MPS channel for a host where forbc does not manage MPS (a sysfs under `--root`): no daemon is ever found,
/// and starting one is refused with the reason.
public struct NoMPS: MPSChannel {
    public let reason: String

    public init(reason: String) { self.reason = reason }

    public func pipeDirectory(gpu uuid: String) -> String { "" }
    public func daemon(gpu uuid: String) throws -> MPSDaemon? { nil }
    public func start(gpu uuid: String) throws { throw ForbcError(.unsupported, reason) }
    public func configure(gpu uuid: String, _ settings: MPSSettings) throws {
        throw ForbcError(.unsupported, reason)
    }
    public func quit(gpu uuid: String) throws { throw ForbcError(.unsupported, reason) }
}

extension MPSSettings {
    /// A pinned-memory value in bytes: digits and a unit K, M or G (an optional trailing 'B' is read too, as the
    /// control program may print one); nil for anything else (no limit set).
    public static func bytes(_ text: String) -> Int? {
        var value = text.trimmingCharacters(in: .whitespaces).uppercased()
        if value.hasSuffix("B") { value.removeLast() }
        guard let unit = value.last, let shift = ["K": 10, "M": 20, "G": 30][String(unit)],
            let number = Int(value.dropLast()), number > 0
        else { return nil }
        return number << shift
    }

    /// Whether a daemon with `self` gives what `wanted` asks: the same percentage, and the same limit when one
    /// is asked for (a limit nobody asked for is left alone: the control interface has no command to clear it).
    public func satisfies(_ wanted: MPSSettings) -> Bool {
        guard activeThreadPercentage == wanted.activeThreadPercentage else { return false }
        guard let limit = wanted.pinnedMemoryLimit else { return true }
        return pinnedMemoryLimit.flatMap(Self.bytes) == Self.bytes(limit)
    }
}
