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
    /// MIG: the start slot.
    public var placement: Int?

    public init(
        name: String, kind: PartitionKind, gpu: String, uuid: String? = nil, address: String? = nil,
        parent: String? = nil, type: String? = nil, typeName: String? = nil, placement: Int? = nil
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
    }

    public mutating func record(_ attachment: OwnedAttachment) {
        attachments.removeAll { $0.domain == attachment.domain && $0.hostdev.sameDevice(attachment.hostdev) }
        attachments.append(attachment)
        attachments.sort { ($0.domain, $0.partition) < ($1.domain, $1.partition) }
    }

    public mutating func forget(_ attachment: OwnedAttachment) {
        attachments.removeAll { $0.domain == attachment.domain && $0.hostdev.sameDevice(attachment.hostdev) }
    }

    public func owned(uuid: String) -> OwnedPartition? { partitions.first { $0.uuid == uuid } }
    public func owned(name: String) -> OwnedPartition? { partitions.first { $0.name == name } }

    public mutating func record(_ partition: OwnedPartition) {
        partitions.removeAll { $0.name == partition.name }
        partitions.append(partition)
        partitions.sort { $0.name < $1.name }
    }

    public mutating func forget(_ name: String) { partitions.removeAll { $0.name == name } }
}

/// The state dir: `state.json` (owned partitions), the apply lock, and for simulated hosts the kernel model.
public struct StateStore: Sendable {
    public let directory: URL

    public init(directory: URL) { self.directory = directory }

    public var stateURL: URL { directory.appendingPathComponent("state.json") }
    public var lockURL: URL { directory.appendingPathComponent("apply.lock") }

    public func load() throws -> HostState {
        guard FileManager.default.fileExists(atPath: stateURL.path) else { return HostState() }
        do {
            return try JSONDecoder().decode(HostState.self, from: Data(contentsOf: stateURL))
        } catch {
            throw ForbcError(
                .system, "reading \(stateURL.path) failed: \(error); move it aside to start from an empty record",
                path: stateURL.path, cause: error)
        }
    }

    public func save(_ state: HostState) throws {
        try ensureDirectory()
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .prettyPrinted]
        try encoder.encode(state).write(to: stateURL, options: .atomic)
    }

    public func ensureDirectory() throws {
        do {
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        } catch {
            throw ForbcError(
                .system,
                "creating the state dir \(directory.path) failed: \(error.localizedDescription); pass '--state-dir' "
                    + "to choose another", path: directory.path, cause: error)
        }
    }
}
