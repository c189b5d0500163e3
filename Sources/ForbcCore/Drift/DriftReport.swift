import Foundation

/// How the host differs from the manifest, for `forbc drift`: one item per partition, from the plan.
public struct DriftReport: Sendable, Codable, Equatable {
    public struct Item: Sendable, Codable, Equatable {
        /// missing (declared, absent), unexpected (present, not declared), changed (present, not as declared)
        public var kind: String
        public var partition: String
        /// The domain, for attachments.
        public var domain: String?
        public var detail: String

        public init(kind: String, partition: String, domain: String? = nil, detail: String) {
            self.kind = kind
            self.partition = partition
            self.domain = domain
            self.detail = detail
        }
    }

    public var host: String
    public var manifest: String
    public var simulated: Bool
    public var inSync: Bool
    public var items: [Item]
    /// Where the manifest came from, when it sits in a git work tree.
    public var source: ManifestSource?
    /// What the check could not tell (`Plan.notes`), when there is something; not drift.
    public var notes: [String]?

    public init(plan: Plan, manifest: Manifest) {
        host = plan.host
        self.manifest = manifest.file
        source = manifest.source
        (simulated, notes) = (plan.simulated, plan.notes.isEmpty ? nil : plan.notes)
        var items: [Item] = []
        let recreated = Set(plan.actions.filter { $0.action == .create }.map(\.target))
        for action in plan.actions {
            switch action.action {
            case .create:
                if plan.actions.contains(where: { $0.action == .destroy && $0.target == action.target }) { continue }
                items.append(
                    Item(kind: "missing", partition: action.target, detail: "\(Self.describe(action)) is not present"))
            case .destroy:
                if recreated.contains(action.target) {
                    items.append(Item(kind: "changed", partition: action.target, detail: action.reason))
                } else {
                    items.append(
                        Item(
                            kind: "unexpected", partition: action.target,
                            detail: "\(Self.describe(action)) is present: \(action.reason)"))
                }
            case .configure where action.kind == .mps:
                items.append(
                    Item(
                        kind: "changed", partition: action.target, detail: "\(Self.describe(action)): \(action.reason)")
                )
            case .configure:
                if action.value == "0"
                    && plan.actions.contains(where: {
                        $0.action == .configure && $0.path == action.path && $0.value != "0"
                    })
                {
                    continue
                }
                items.append(
                    Item(kind: "changed", partition: action.target, detail: "\(action.path) differs: \(action.reason)"))
            case .attach:
                items.append(
                    Item(
                        kind: "missing", partition: action.target, domain: action.domain,
                        detail:
                            "'\(action.target)' is not attached to domain '\(action.domain ?? "?")' "
                            + "(\(action.scope?.description ?? "")): \(action.reason)"
                    ))
            case .detach:
                items.append(
                    Item(
                        kind: "unexpected", partition: action.target, domain: action.domain,
                        detail:
                            "'\(action.target)' is attached to domain '\(action.domain ?? "?")' "
                            + "(\(action.scope?.description ?? "")): \(action.reason)"
                    ))
            default:
                items.append(Item(kind: "changed", partition: action.target, detail: action.reason))
            }
        }
        self.items = items
        inSync = items.isEmpty
    }

    static func describe(_ action: PlannedAction) -> String {
        switch action.kind {
        case .mdev: "mdev \(action.uuid ?? "?") (\(action.typeName ?? action.type ?? "?")) on \(action.parent ?? "?")"
        case .vgpuVF: "vGPU \(action.typeName ?? action.type ?? "?") on VF \(action.address ?? "?")"
        case .mps: "the MPS control daemon of \(action.uuid ?? "?") (\(action.gpu ?? "?"))"
        default: "\(action.kind.rawValue) on \(action.gpu ?? "?")"
        }
    }

    /// Prometheus text exposition (for node_exporter's textfile collector).
    public func prometheus(timestamp: Date = Date()) -> String {
        let labels = Self.labels(host: host, manifest: manifest)
        var text = """
            # HELP forbc_drift Whether the host differs from the manifest (1) or matches it (0).
            # TYPE forbc_drift gauge
            forbc_drift{\(labels)} \(inSync ? 0 : 1)
            # HELP forbc_drift_partitions Partitions that differ from the manifest, by kind of difference.
            # TYPE forbc_drift_partitions gauge

            """
        for kind in ["missing", "unexpected", "changed"] {
            text += "forbc_drift_partitions{\(labels),kind=\"\(kind)\"} \(items.filter { $0.kind == kind }.count)\n"
        }
        text += """
            # HELP forbc_drift_check_success Whether the last drift check could read the host and the manifest.
            # TYPE forbc_drift_check_success gauge
            forbc_drift_check_success{\(labels)} 1
            # HELP forbc_drift_check_timestamp_seconds When the last drift check ran.
            # TYPE forbc_drift_check_timestamp_seconds gauge
            forbc_drift_check_timestamp_seconds{\(labels)} \(Int(timestamp.timeIntervalSince1970))

            """
        if let source { text += Self.sourceInfo(source, labels: labels) }
        return text
    }

    /// The manifest's git provenance as an info metric (always 1; the labels carry it).
    static func sourceInfo(_ source: ManifestSource, labels: String) -> String {
        let escape = Self.escape
        return """
            # HELP forbc_manifest_info Where the manifest came from: its git repository, commit and path, and \
            whether the work tree had uncommitted changes.
            # TYPE forbc_manifest_info gauge
            forbc_manifest_info{\(labels),repository="\(escape(source.repository))",\
            commit="\(escape(source.commit ?? ""))",path="\(escape(source.path))",dirty="\(source.dirty)"} 1

            """
    }

    /// Metrics for a check that failed (manifest or host unreadable).
    public static func failedPrometheus(host: String, manifest: String, timestamp: Date = Date()) -> String {
        let labels = labels(host: host, manifest: manifest)
        return """
            # HELP forbc_drift_check_success Whether the last drift check could read the host and the manifest.
            # TYPE forbc_drift_check_success gauge
            forbc_drift_check_success{\(labels)} 0
            # HELP forbc_drift_check_timestamp_seconds When the last drift check ran.
            # TYPE forbc_drift_check_timestamp_seconds gauge
            forbc_drift_check_timestamp_seconds{\(labels)} \(Int(timestamp.timeIntervalSince1970))

            """
    }

    /// The host and manifest labels, escaped as the exposition format requires (backslash, quote, newline).
    static func labels(host: String, manifest: String) -> String {
        "host=\"\(escape(host))\",manifest=\"\(escape(manifest))\""
    }

    /// A label value escaped as the exposition format requires (backslash, quote, newline).
    static func escape(_ s: String) -> String {
        s.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"")
            .replacingOccurrences(of: "\n", with: "\\n")
    }
}
