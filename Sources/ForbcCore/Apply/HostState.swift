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

    public init(name: String, kind: PartitionKind, gpu: String, uuid: String? = nil, address: String? = nil,
                parent: String? = nil, type: String? = nil, typeName: String? = nil) {
        self.name = name
        self.kind = kind
        self.gpu = gpu
        self.uuid = uuid
        self.address = address
        self.parent = parent
        self.type = type
        self.typeName = typeName
    }
}

/// What forbc remembers about a host between runs.
public struct HostState: Sendable, Codable, Equatable {
    public var host: String?
    public var partitions: [OwnedPartition]

    public init(host: String? = nil, partitions: [OwnedPartition] = []) {
        self.host = host
        self.partitions = partitions
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
    public var simulatedKernelURL: URL { directory.appendingPathComponent("simulated-host.json") }

    public func load() throws -> HostState {
        guard FileManager.default.fileExists(atPath: stateURL.path) else { return HostState() }
        do {
            return try JSONDecoder().decode(HostState.self, from: Data(contentsOf: stateURL))
        } catch {
            throw ForbcError(.system, "reading \(stateURL.path) failed: \(error); move it aside to start from an empty record")
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
            throw ForbcError(.system, "creating the state dir \(directory.path) failed: \(error.localizedDescription); pass '--state-dir' to choose another")
        }
    }
}
