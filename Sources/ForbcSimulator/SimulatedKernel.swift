import ForbcCore
import Foundation
import Synchronization

/// A simulated kernel behind the sysfs seam. It answers the same paths real sysfs has and reacts to writes
/// with the kernel's semantics: a UUID written to `create` makes `/sys/bus/mdev/devices/<uuid>` with its
/// `mdev_type` link and lowers `available_instances`; `remove`; `sriov_numvfs` (non-zero to non-zero is
/// EBUSY; more than `sriov_totalvfs` is ERANGE); NVIDIA's `current_vgpu_type`. It can fail chosen writes
/// with chosen errnos, and counts every read, listing, link read and write.
public final class SimulatedKernel: SysfsChannel, Sendable {
    /// What the simulated kernel has been asked so far.
    public struct Counters: Sendable, Equatable {
        public var reads = 0
        public var lists = 0
        public var links = 0
        public var writes = 0
        /// Writes that reached the kernel's handler and succeeded.
        public var successfulWrites = 0
        /// Every successful write, in order, as (path, value).
        public var writeLog: [String] = []
        /// Calls to the simulated NVML that change something.
        public var nvmlCalls = 0

        public init() {}
    }

    struct State {
        var model: SimulatedHostModel
        var counters = Counters()
    }

    private let state: Mutex<State>

    public init(model: SimulatedHostModel) {
        state = Mutex(State(model: model))
    }

    public var summary: String { "simulated host '\(state.withLock { $0.model.profile })'" }
    public var isSimulated: Bool { true }

    /// The model as it is now (to persist it).
    public var model: SimulatedHostModel { state.withLock { $0.model } }
    public var counters: Counters { state.withLock { $0.counters } }
    public func resetCounters() { state.withLock { $0.counters = Counters() } }

    /// Makes future writes fail: the next write to `path`, or the N-th write from now.
    public func inject(_ fault: SimFault) {
        state.withLock { s in
            var fault = fault
            if let ordinal = fault.writeOrdinal { fault.writeOrdinal = s.counters.writes + ordinal }
            s.model.faults.append(fault)
        }
    }

    public func clearFaults() { state.withLock { $0.model.faults.removeAll() } }

    /// Exclusive access to the model and the counters (for the simulated NVML).
    func withModel<T>(_ body: (inout SimulatedHostModel, inout Counters) throws -> T) throws -> T {
        try state.withLock { s in try body(&s.model, &s.counters) }
    }

    /// Changes the model directly: what another tool or an administrator does behind forbc's back.
    public func mutate(_ body: (inout SimulatedHostModel) -> Void) { state.withLock { body(&$0.model) } }

    // MARK: Persistence

    public static func load(from url: URL) throws -> SimulatedKernel {
        let data = try Data(contentsOf: url)
        return SimulatedKernel(model: try JSONDecoder().decode(SimulatedHostModel.self, from: data))
    }

    public func save(to url: URL) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .prettyPrinted]
        try encoder.encode(model).write(to: url, options: .atomic)
    }

    // MARK: SysfsChannel

    public func read(_ path: String) throws -> String {
        let parts = try SysPath.components(path)
        return try state.withLock { s in
            s.counters.reads += 1
            switch SimTree(model: s.model).node(parts) {
            case .file(let value, _): return value
            case .directory: throw ForbcError.sysfs("reading", path: path, errno: Errno.EISDIR)
            case .link: throw ForbcError.sysfs("reading", path: path, errno: Errno.EISDIR)
            case nil: throw ForbcError.sysfs("reading", path: path, errno: Errno.ENOENT)
            }
        }
    }

    public func list(_ path: String) throws -> [String] {
        let parts = try SysPath.components(path)
        return try state.withLock { s in
            s.counters.lists += 1
            guard case .directory(let names) = SimTree(model: s.model).node(parts) else {
                throw ForbcError.sysfs("listing", path: path, errno: Errno.ENOENT)
            }
            return names.sorted()
        }
    }

    public func readLink(_ path: String) throws -> String? {
        let parts = try SysPath.components(path)
        return try state.withLock { s in
            s.counters.links += 1
            switch SimTree(model: s.model).node(parts) {
            case .link(let target): return target
            case nil: throw ForbcError.sysfs("reading link", path: path, errno: Errno.ENOENT)
            default: return nil
            }
        }
    }

    public func exists(_ path: String) -> Bool {
        guard let parts = try? SysPath.components(path) else { return false }
        return state.withLock { s in
            s.counters.reads += 1
            return SimTree(model: s.model).node(parts) != nil
        }
    }

    public func write(_ path: String, _ value: String) throws {
        let parts = try SysPath.components(path)
        try state.withLock { s in
            s.counters.writes += 1
            if let index = s.model.faults.firstIndex(where: { f in
                (f.path == nil || f.path == path) && (f.writeOrdinal == nil || f.writeOrdinal == s.counters.writes)
            }) {
                let fault = s.model.faults[index]
                if let remaining = fault.remaining {
                    if remaining <= 1 {
                        s.model.faults.remove(at: index)
                    } else {
                        s.model.faults[index].remaining = remaining - 1
                    }
                }
                throw ForbcError.sysfs("writing '\(value)' to", path: path, errno: fault.errno)
            }
            let tree = SimTree(model: s.model)
            guard let node = tree.node(parts) else {
                throw ForbcError.sysfs("opening", path: path, errno: Errno.ENOENT)
            }
            guard case .file(_, let handler) = node, let handler else {
                throw ForbcError.sysfs("opening", path: path, errno: Errno.EACCES)
            }
            do {
                try handler.apply(value: value.trimmingCharacters(in: .whitespacesAndNewlines), to: &s.model)
            } catch let code as SimErrno {
                throw ForbcError.sysfs("writing '\(value)' to", path: path, errno: code.errno)
            }
            s.counters.successfulWrites += 1
            s.counters.writeLog.append("\(path) <- \(value)")
        }
    }

    /// Writes the simulated tree as real files and links under `directory`, for tests of the real sysfs side.
    public func materialize(into directory: URL) throws {
        let fm = FileManager.default
        func walk(_ path: String) throws {
            let target = directory.path + path
            if let link = try readLink(path) {
                try fm.createDirectory(
                    atPath: (target as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
                try fm.createSymbolicLink(atPath: target, withDestinationPath: link)
                return
            }
            if let names = try? list(path) {
                try fm.createDirectory(atPath: target, withIntermediateDirectories: true)
                for name in names { try walk("\(path)/\(name)") }
            } else {
                try fm.createDirectory(
                    atPath: (target as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
                try Data(((try? read(path)) ?? "").utf8).write(to: URL(fileURLWithPath: target))
            }
        }
        for root in [SysPath.pciDevices, SysPath.mdevBus, SysPath.mdevDevices] where exists(root) { try walk(root) }
    }
}

/// An errno the simulated kernel answers a write with.
struct SimErrno: Error { let errno: Int32 }
