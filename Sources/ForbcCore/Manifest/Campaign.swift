import Foundation

/// A `kind: Campaign` document: partitioning topologies measured one after another by `forbc bench campaign`.
/// Each topology is a Host manifest (a file relative to the campaign, or inline); the campaign's suites run on
/// every topology (or on those a topology names in its `suites`), their `on:` names resolved inside each topology.
public struct Campaign: Sendable, Equatable {
    public static let kind = "Campaign"

    public struct Topology: Sendable, Equatable {
        /// Tags the results (their `topology`).
        public var name: String
        public var manifest: Manifest
        /// The topology's manifest file as resolved (relative to the campaign's folder); nil when inline.
        public var file: String?
        /// The names of the campaign suites run on this topology; nil: all of them.
        public var suites: [String]?
        public var location: SourceLocation
    }

    public var file: String
    /// The first 16 hex digits of the SHA-1 of the campaign's text (a resumed campaign must be the same).
    public var contentHash: String
    public var name: String
    public var topologies: [Topology]
    public var suites: [BenchmarkSpec]
    /// Overrides every suite's `repetitions`.
    public var repetitions: Int?
    /// Process launches per workload, at least and at most (the `bench run` defaults when nil).
    public var launches: Int?
    public var maxLaunches: Int?
    /// The topology the comparison divides by (default: the first).
    public var baseline: String?
    /// The workload folder, resolved against the campaign's folder (default: `workloads/` beside the campaign).
    public var workloads: String?

    public init(file: String, contentHash: String, name: String) {
        self.file = file
        self.contentHash = contentHash
        self.name = name
        topologies = []
        suites = []
    }

    /// The topology the comparison and the report divide by.
    public var baselineTopology: String { baseline ?? topologies.first?.name ?? "" }

    /// The suites that run on `topology`, with the campaign's `repetitions` applied.
    public func suites(of topology: Topology) -> [BenchmarkSpec] {
        suites.filter { topology.suites?.contains($0.suite) ?? true }.map { suite in
            var suite = suite
            if let repetitions { suite.repetitions = repetitions }
            return suite
        }
    }

    /// `topology`'s manifest carrying the suites that run on it (its own `spec.benchmarks` are not used).
    public func measured(_ topology: Topology) -> Manifest {
        var manifest = topology.manifest
        manifest.benchmarks = suites(of: topology)
        return manifest
    }

    /// `path` as written in the campaign, resolved against the campaign file's folder.
    public static func resolve(_ path: String, against file: String) -> String {
        if path.hasPrefix("/") { return path }
        let folder = (file as NSString).deletingLastPathComponent
        return folder.isEmpty ? path : "\(folder)/\(path)"
    }
}

/// Reads `kind: Campaign` documents with the Host manifest's rules (every problem at once, each located), and the
/// topology manifests they name.
public enum CampaignParser {
    /// The most topologies one campaign may hold.
    public static let maximumTopologies = 64

    /// Parses the campaign at `path` and every topology manifest it names; throws `DiagnosticsError` with every
    /// problem found (a missing or invalid topology file is located at the campaign's `manifest:` entry, the
    /// topology file's own problems follow).
    public static func parse(contentsOf path: String, streams: BoundedFile.Streams = .refused) throws -> Campaign {
        let data = try ManifestParser.bytes(at: path, streams: streams)
        guard let text = String(data: data, encoding: .utf8) else {
            throw DiagnosticsError([
                Diagnostic("file is not valid UTF-8", at: SourceLocation(file: path, line: 1, column: 1))
            ])
        }
        return try parse(text: text, file: path)
    }

    /// Parses campaign text; `file` names it in diagnostics and anchors the relative paths in it.
    public static func parse(text: String, file: String) throws -> Campaign {
        let (root, text) = try ManifestParser.compose(text: text, file: file)
        var walker = ManifestWalker(file: file, text: text)
        let campaign = walker.walkCampaign(root)
        if !walker.diagnostics.isEmpty || campaign == nil {
            throw DiagnosticsError(ManifestParser.sorted(walker.diagnostics))
        }
        return campaign!
    }

    /// The `kind` a YAML document declares at its top level, read leniently (for commands that take either kind);
    /// nil when it cannot tell. Only a regular file is read (a pipe would be consumed before its real reading).
    public static func declaredKind(ofFileAt path: String) -> String? {
        guard let data = try? ManifestParser.bytes(at: path, streams: .refused),
            let text = String(data: data, encoding: .utf8)
        else {
            return nil
        }
        for line in text.split(separator: "\n") where line.hasPrefix("kind:") {
            return line.dropFirst(5).split(separator: "#").first?.trimmingCharacters(in: .whitespaces)
                .trimmingCharacters(in: CharacterSet(charactersIn: "\"'"))
        }
        return nil
    }
}
