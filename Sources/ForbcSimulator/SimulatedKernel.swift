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
        /// Where each change is appended as it happens (a command's simulated host), or nil (in-process tests).
        var journal: JournalFile?
        /// Replaying a journal: no faults, no journaling.
        var replaying = false
        /// The saved model and journal as this kernel last left them; when the disk still shows this, nothing
        /// else changed the host and `reload` keeps the model in memory.
        var stamp: DiskStamp?
        /// Dies by SIGKILL right after this many successful writes (crash-safety tests of the command line).
        var killAfterWrites: Int?
    }

    /// The identity of a saved model (inode, modification time and size) and the journal's expected size. It is
    /// read *before* the files it stands for: another command may save between the two reads, and a stamp read
    /// after them could then describe a newer disk than the model in memory, which the next `reload` would keep.
    /// Read first, a stamp is at worst older than the model, and that only costs one more reload.
    struct DiskStamp: Equatable {
        var inode: Int
        var modified: Date
        var modelBytes: Int
        var journalBytes: Int

        /// What the disk shows now; a missing model reads as inode -1.
        static func read(_ snapshot: URL, _ journal: JournalFile) -> DiskStamp {
            let attributes = try? FileManager.default.attributesOfItem(atPath: snapshot.path)
            return DiskStamp(
                inode: attributes?[.systemFileNumber] as? Int ?? -1,
                modified: attributes?[.modificationDate] as? Date ?? .distantPast,
                modelBytes: attributes?[.size] as? Int ?? -1, journalBytes: journal.size)
        }
    }

    let state: Mutex<State>

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

    /// Exclusive access to the whole state (for the simulated NVML, which journals its calls).
    func withState<T>(_ body: (inout State) throws -> T) throws -> T {
        try state.withLock { s in try body(&s) }
    }

    /// Changes the model directly: what another tool or an administrator does behind forbc's back.
    public func mutate(_ body: (inout SimulatedHostModel) -> Void) { state.withLock { body(&$0.model) } }

    // MARK: Persistence

    /// Loads a saved model and replays the journal of changes made since it was saved.
    public static func load(from url: URL, journal: URL? = nil) throws -> SimulatedKernel {
        try load(from: url, journal: journal, read: {})
    }

    /// `load`, with `read` called once the files are read (tests: another command saving at that moment).
    static func load(from url: URL, journal: URL?, read: () -> Void) throws -> SimulatedKernel {
        let file = journal.map(JournalFile.init(url:))
        let stamp = file.map { DiskStamp.read(url, $0) }
        guard let data = try StateDirFile.read(url, what: "a simulated host's model") else {
            throw ForbcError(.system, "reading \(url.path) failed: \(Errno.describe(Errno.ENOENT))", path: url.path)
        }
        let model = try JSONDecoder().decode(SimulatedHostModel.self, from: data)
        try model.validate(file: url.path)
        let kernel = SimulatedKernel(model: model)
        if let file {
            try kernel.replay(file)
            read()
            kernel.state.withLock { $0.stamp = stamp }
        }
        return kernel
    }

    /// The host as the disk holds it: the saved model (or `base` when none was saved yet) with the journal
    /// replayed over it. Changes are journaled from then on.
    public static func restore(model url: URL, journal: URL, base: SimulatedHostModel) throws -> SimulatedKernel {
        try restore(model: url, journal: journal, base: base, read: {})
    }

    /// `restore`, with `read` called once the files are read (tests).
    static func restore(model url: URL, journal: URL, base: SimulatedHostModel, read: () -> Void) throws
        -> SimulatedKernel
    {
        let kernel = try saved(model: url, journal: journal, base: base, read: read)
        kernel.journal(to: journal)
        return kernel
    }

    /// The saved model with the journal replayed over it, or `base` with it when no model was saved yet.
    static func saved(model url: URL, journal: URL, base: SimulatedHostModel, read: () -> Void) throws
        -> SimulatedKernel
    {
        let file = JournalFile(url: journal)
        let stamp = DiskStamp.read(url, file)
        guard stamp.inode == -1, !FileManager.default.fileExists(atPath: url.path) else {
            return try load(from: url, journal: journal, read: read)
        }
        let kernel = SimulatedKernel(model: base)
        try kernel.replay(file)
        read()
        kernel.state.withLock { $0.stamp = stamp }
        return kernel
    }

    /// Appends every later change to `journal`, so a killed command loses none (persistence per step).
    public func journal(to url: URL) { state.withLock { $0.journal = JournalFile(url: url) } }

    /// Makes this process die by SIGKILL right after the `count`-th successful write from now, as `kill -9` would.
    public func killAfterWrites(_ count: Int) {
        state.withLock { $0.killAfterWrites = $0.counters.successfulWrites + count }
    }

    /// Whether changes are journaled (a command's simulated host, not an in-process test's).
    public var isJournaled: Bool { state.withLock { $0.journal != nil } }

    /// Re-reads the host from the disk unless the disk shows what this kernel last saw (another command changed
    /// it, or was killed while changing it).
    public func reload(model url: URL, journal: URL, base: SimulatedHostModel) throws {
        if state.withLock({ $0.stamp == DiskStamp.read(url, JournalFile(url: journal)) }) { return }
        let saved = try Self.saved(model: url, journal: journal, base: base, read: {})
        state.withLock {
            $0.model = saved.model
            $0.stamp = saved.state.withLock { $0.stamp }
        }
    }

    /// Writes the model whole and empties the journal.
    public func save(to url: URL) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .prettyPrinted]
        try AtomicFile.write(try encoder.encode(model), to: url)
        try state.withLock { s in
            try s.journal?.truncate()
            s.stamp = s.journal.map { DiskStamp.read(url, $0) }
        }
    }

    /// Records a change in the journal (inside the state lock, so the order is the order of the changes).
    func record(_ entry: SimJournalEntry, in s: inout State) throws {
        guard !s.replaying, let journal = s.journal else { return }
        let bytes = try journal.append([entry])
        s.stamp?.journalBytes += bytes
    }

    func replay(_ journal: JournalFile) throws {
        let entries = try journal.entries(SimJournalEntry.self)
        state.withLock { $0.replaying = true }
        defer { state.withLock { $0.replaying = false } }
        for entry in entries {
            // A command killed after saving the model but before emptying the journal leaves entries the model
            // already holds: the kernel refuses those again (EEXIST, ENOENT, EBUSY, NVML in use) and they are
            // skipped, so a replay over a newer model converges instead of failing every later command.
            switch entry {
            case .write(let path, let value): try? write(path, value)
            case .fault(let index): state.withLock { Self.consumeFault(at: index, in: &$0.model) }
            case .nvml(let call): try? SimulatedNVML(kernel: self).replay(call)
            case .mps(let call): try? replay(call)
            }
        }
        resetCounters()
    }

    /// A fault used once more: removed when it has no uses left.
    static func consumeFault(at index: Int, in model: inout SimulatedHostModel) {
        guard index < model.faults.count else { return }
        if let remaining = model.faults[index].remaining {
            if remaining <= 1 {
                model.faults.remove(at: index)
            } else {
                model.faults[index].remaining = remaining - 1
            }
        }
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
            let writes = s.counters.writes
            if !s.replaying,
                let index = s.model.faults.firstIndex(where: { f in
                    (f.path == nil || f.path == path) && (f.writeOrdinal == nil || f.writeOrdinal == writes)
                })
            {
                let fault = s.model.faults[index]
                Self.consumeFault(at: index, in: &s.model)
                try record(.fault(index), in: &s)
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
            try record(.write(path: path, value: value), in: &s)
            if s.counters.successfulWrites == s.killAfterWrites { kill(getpid(), SIGKILL) }
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
        for root in [SysPath.pciDevices, SysPath.mdevBus, SysPath.mdevDevices, "/sys/class/drm", "/sys/class/kfd"]
        where exists(root) {
            try walk(root)
        }
    }
}

/// An errno the simulated kernel answers a write with.
struct SimErrno: Error { let errno: Int32 }

/// One change to a simulated host, as its journal keeps it: replayed in order over the saved model.
enum SimJournalEntry: Codable {
    /// A write the kernel's handler accepted.
    case write(path: String, value: String)
    /// A fault that fired (so its remaining uses survive a kill).
    case fault(Int)
    /// An NVML call that changed something.
    case nvml(SimNVMLCall)
    /// An MPS daemon started, re-set, quit or killed.
    case mps(SimMPSCall)
}
