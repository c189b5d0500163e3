import Foundation

/// A partition forbc created, as recorded in the state dir (what `prune: managed` may destroy).
public struct OwnedPartition: Sendable, Codable, Equatable {
    public var name: String
    public var kind: PartitionKind
    public var gpu: String
    public var uuid: String?
    public var address: String?
    public var parent: String?
    public var type: String?
    public var typeName: String?
    /// MIG: the start slot. Mixed-size vGPU: the placement ID.
    public var placement: Int?
    /// Mixed-size vGPU: true once NVML's read-back of the active vGPUs showed the placement (complete for the type,
    /// see `PlanBuilder.placementChecks`); nil while it is the placement forbc planned, which the driver chooses on
    /// its own. Only a confirmed placement that NVML no longer shows makes the vGPU "moved" (destroyed and made
    /// again); a planned one is replaced by the driver's where the read-back says which it is.
    public var placementConfirmed: Bool?
    /// MPS: the co-tenants the partition is meant for (the daemon does not know it; export reads it here).
    public var clients: Int?

    public init(
        name: String, kind: PartitionKind, gpu: String, uuid: String? = nil, address: String? = nil,
        parent: String? = nil, type: String? = nil, typeName: String? = nil, placement: Int? = nil,
        placementConfirmed: Bool? = nil, clients: Int? = nil
    ) {
        self.name = name
        self.kind = kind
        self.gpu = gpu
        self.uuid = uuid
        self.address = address
        self.parent = parent
        self.type = type
        self.typeName = typeName
        self.placement = placement
        self.placementConfirmed = placementConfirmed
        self.clients = clients
    }
}

/// A hostdev forbc put into a domain.
public struct OwnedAttachment: Sendable, Codable, Equatable {
    public var domain: String
    public var partition: String
    public var hostdev: Hostdev

    public init(domain: String, partition: String, hostdev: Hostdev) {
        self.domain = domain
        self.partition = partition
        self.hostdev = hostdev
    }
}

/// What forbc remembers about a host between runs.
public struct HostState: Sendable, Codable, Equatable {
    public var host: String?
    public var partitions: [OwnedPartition]
    public var attachments: [OwnedAttachment]
    /// libvirt URIs whose driver cannot hot-plug: live changes there wait for the domain's next start.
    public var noLiveAttach: [String]
    /// Where the manifest last applied came from (git provenance); nil when it was not in a git work tree.
    public var source: ManifestSource?
    /// Changes not yet journaled (not part of the saved state).
    var changes: [StateChange] = []

    enum CodingKeys: String, CodingKey {
        case host, partitions, attachments, noLiveAttach, source
    }

    public init(
        host: String? = nil, partitions: [OwnedPartition] = [], attachments: [OwnedAttachment] = [],
        noLiveAttach: [String] = []
    ) {
        self.host = host
        self.partitions = partitions
        self.attachments = attachments
        self.noLiveAttach = noLiveAttach
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        host = try container.decodeIfPresent(String.self, forKey: .host)
        partitions = try container.decodeIfPresent([OwnedPartition].self, forKey: .partitions) ?? []
        attachments = try container.decodeIfPresent([OwnedAttachment].self, forKey: .attachments) ?? []
        noLiveAttach = try container.decodeIfPresent([String].self, forKey: .noLiveAttach) ?? []
        source = try container.decodeIfPresent(ManifestSource.self, forKey: .source)
        partitions.sort { $0.name < $1.name }
    }

    public static func == (lhs: HostState, rhs: HostState) -> Bool {
        lhs.host == rhs.host && lhs.partitions == rhs.partitions && lhs.attachments == rhs.attachments
            && lhs.noLiveAttach == rhs.noLiveAttach && lhs.source == rhs.source
    }

    public mutating func record(_ attachment: OwnedAttachment) {
        attachments.removeAll { $0.domain == attachment.domain && $0.hostdev.sameDevice(attachment.hostdev) }
        attachments.append(attachment)
        attachments.sort { ($0.domain, $0.partition) < ($1.domain, $1.partition) }
        changes.append(.recordAttachment(attachment))
    }

    public mutating func forget(_ attachment: OwnedAttachment) {
        attachments.removeAll { $0.domain == attachment.domain && $0.hostdev.sameDevice(attachment.hostdev) }
        changes.append(.forgetAttachment(attachment))
    }

    public func owned(uuid: String) -> OwnedPartition? { partitions.first { $0.uuid == uuid } }
    public func owned(name: String) -> OwnedPartition? { partitions.first { $0.name == name } }

    /// Records a partition as forbc's (replacing one of the same name), keeping the list in name order.
    public mutating func record(_ partition: OwnedPartition) {
        let index = partitionIndex(partition.name)
        if index < partitions.count && partitions[index].name == partition.name {
            partitions[index] = partition
        } else {
            partitions.insert(partition, at: index)
        }
        changes.append(.record(partition))
    }

    /// Forgets the record named `name` only while it is still the partition `planned` was (the record a plan meant
    /// to drop, as the state held it when apply began): the same kind on the same GPU, address and parent. Names are
    /// labels that can move between GPUs within one apply (a relabel, a VF name given to another GPU's VFs), so by
    /// the time a step forgets a name an earlier step may have recorded another GPU's partition under it; that record
    /// stays. Nothing is forgotten where the plan meant none (`planned` nil). Journaled as `forget(name)`, which
    /// replays the same: the journal holds the same records in the same order.
    public mutating func forget(_ name: String, planned: OwnedPartition?) {
        guard let planned, let current = owned(name: name), current.kind == planned.kind,
            current.gpu == planned.gpu, current.address == planned.address, current.parent == planned.parent
        else { return }
        forget(name)
    }

    public mutating func forget(_ name: String) {
        let index = partitionIndex(name)
        if index < partitions.count && partitions[index].name == name { partitions.remove(at: index) }
        changes.append(.forget(name))
    }

    /// Remembers that the driver behind `uri` cannot hot-plug.
    public mutating func noteNoLiveAttach(_ uri: String) {
        guard !noLiveAttach.contains(uri) else { return }
        noLiveAttach.append(uri)
        changes.append(.noLiveAttach(uri))
    }

    /// Names the host the state belongs to.
    public mutating func setHost(_ name: String) {
        guard host != name else { return }
        host = name
        changes.append(.host(name))
    }

    /// Records where the manifest applied came from (nil: not from a git work tree).
    public mutating func setSource(_ source: ManifestSource?) {
        guard self.source != source else { return }
        self.source = source
        changes.append(.source(source))
    }

    /// The changes made since the last call, for the journal.
    public mutating func takeChanges() -> [StateChange] {
        defer { changes.removeAll() }
        return changes
    }

    /// Replays a journaled change.
    mutating func apply(_ change: StateChange) {
        switch change {
        case .record(let partition): record(partition)
        case .forget(let name): forget(name)
        case .recordAttachment(let attachment): record(attachment)
        case .forgetAttachment(let attachment): forget(attachment)
        case .noLiveAttach(let uri): noteNoLiveAttach(uri)
        case .host(let name): setHost(name)
        case .source(let source): setSource(source)
        }
    }

    /// Where `name` is, or would be inserted, in the name-ordered partitions (a binary search).
    func partitionIndex(_ name: String) -> Int {
        var low = 0
        var high = partitions.count
        while low < high {
            let middle = (low + high) / 2
            if partitions[middle].name < name { low = middle + 1 } else { high = middle }
        }
        return low
    }
}

/// One change to the recorded state, as the journal keeps it.
public enum StateChange: Sendable, Codable, Equatable {
    case record(OwnedPartition)
    case forget(String)
    case recordAttachment(OwnedAttachment)
    case forgetAttachment(OwnedAttachment)
    case noLiveAttach(String)
    case host(String)
    case source(ManifestSource?)
}

/// The state dir: `state.json` (a snapshot of what forbc owns), `state.journal` (the changes since that snapshot,
/// one JSON line each, appended as apply goes), the apply lock, and for simulated hosts the kernel model.
/// Appending a line per step keeps apply linear and loses nothing when forbc is killed: `load` replays the
/// journal over the snapshot; `save` writes a new snapshot (through a temporary file that a later run removes
/// if a kill left it) and empties the journal.
public struct StateStore: Sendable {
    public let directory: URL

    public init(directory: URL) { self.directory = directory }

    public var stateURL: URL { directory.appendingPathComponent("state.json") }
    public var journalURL: URL { directory.appendingPathComponent("state.journal") }
    public var lockURL: URL { directory.appendingPathComponent("apply.lock") }

    public func load() throws -> HostState {
        var state = HostState()
        let remedy = "move it aside to start from an empty record"
        let snapshot: Data?
        do {
            // Not through a link, a regular file only, bounded (a located error otherwise).
            snapshot = try StateDirFile.read(stateURL, what: "the state snapshot")
        } catch var error as ForbcError where error.errno != Errno.ELOOP {
            // (a link there has its own remedy: remove the link)
            error.message += "; \(remedy)"
            throw error
        }
        if let snapshot {
            do {
                state = try JSONDecoder().decode(HostState.self, from: snapshot)
            } catch {
                throw ForbcError(
                    .system, "reading \(stateURL.path) failed: \(error); \(remedy)",
                    path: stateURL.path, cause: error)
            }
        }
        for change in try JournalFile(url: journalURL).entries(StateChange.self) { state.apply(change) }
        _ = state.takeChanges()
        return state
    }

    /// Appends changes to the journal (one line each): O(1) per step of apply. Returns the bytes of a torn last
    /// line (an entry a killed forbc or a full disk left half written) cut off first, for a note.
    @discardableResult
    public func append(_ changes: [StateChange]) throws -> Int {
        guard !changes.isEmpty else { return 0 }
        try ensureDirectory()
        return try JournalFile(url: journalURL).appendCutting(changes).cut
    }

    /// Writes a snapshot of `state` and empties the journal.
    public func save(_ state: HostState) throws {
        try ensureDirectory()
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .prettyPrinted]
        try AtomicFile.write(try encoder.encode(state), to: stateURL)
        try JournalFile(url: journalURL).truncate()
    }

    /// Removes temporary files a killed forbc left in the state dir (call with the lock held); one another forbc
    /// is still writing (outside the lock, as a simulated host's first libvirt file) is left to it.
    public func removeStaleTemporaries() {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: directory.path)) ?? []
        for name in names where AtomicFile.isStaleTemporary(name) {
            try? FileManager.default.removeItem(at: directory.appendingPathComponent(name))
        }
    }

    /// The folder `name` of the state dir (bench logs, a campaign's), made if missing; a link in its place is
    /// refused like a linked file, so nothing forbc writes in it lands outside the state dir.
    public func folder(_ name: String) throws -> URL {
        try ensureDirectory()
        let url = directory.appendingPathComponent(name)
        try StateDirFile.makeFolder(url.path)
        return url
    }

    /// Makes the state dir and the folders above it (mkdir(2) each, as `mkdir -p`); a failure names the folder that
    /// could not be made and the kernel's errno.
    public func ensureDirectory() throws {
        let remedy = "pass '--state-dir' to choose another"
        do {
            try Directories.make(directory.path)
        } catch let failure as Directories.Failure {
            let what = failure.path == directory.path ? "the state dir" : "the state dir's folder"
            throw ForbcError(
                .system, "creating \(what) \(failure.path) failed: \(failure.reason); \(remedy)", path: failure.path,
                errno: failure.errno)
        }
    }
}
