import Foundation
internal import Yams

/// The walk of a `kind: Campaign` document, with the Host walk's helpers: every key known, every value typed,
/// every problem located; topology files are read and walked as Host manifests.
extension ManifestWalker {
    mutating func walkCampaign(_ root: Node) -> Campaign? {
        guard let pairs = mapping(root, at: "(document)", allowed: ["apiVersion", "kind", "metadata", "spec"]) else {
            return nil
        }
        var values: [String: Node] = [:]
        for (key, _, value) in pairs { values[key] = value }
        if let node = values["apiVersion"] {
            if let version = string(node, at: "apiVersion"), version != Manifest.apiVersion {
                error("unsupported apiVersion \(Self.quoted(version)); this forbc reads '\(Manifest.apiVersion)'", node)
            }
        } else {
            error("missing 'apiVersion'; a campaign starts with 'apiVersion: \(Manifest.apiVersion)'", location(root))
        }
        if let node = values["kind"] {
            if let kind = string(node, at: "kind"), kind != Campaign.kind {
                error("kind is \(Self.quoted(kind)); 'forbc bench campaign' reads documents of kind 'Campaign'", node)
            }
        } else {
            error("missing 'kind'; add 'kind: Campaign'", location(root))
        }
        var name = ""
        if let node = values["metadata"] {
            if let fields = mapping(node, at: "metadata", allowed: ["name"]) {
                if let (_, _, value) = fields.first(where: { $0.0 == "name" }) {
                    name =
                        matching(value, at: "metadata.name", Patterns.isPartitionName, expected: Expected.campaign)
                        ?? ""
                } else {
                    error("missing 'metadata.name'; it names the campaign and its folder in the state dir", node)
                }
            }
        } else {
            error("missing 'metadata'; add 'metadata: {name: CAMPAIGN}'", location(root))
        }
        var campaign = Campaign(file: file, contentHash: Self.hash(text), name: name)
        if let spec = values["spec"] {
            walkCampaignSpec(spec, into: &campaign)
        } else {
            error("missing 'spec'", location(root))
        }
        return campaign
    }

    mutating func walkCampaignSpec(_ node: Node, into campaign: inout Campaign) {
        let keys = ["topologies", "suites", "repetitions", "launches", "maxLaunches", "baseline", "workloads"]
        guard let pairs = mapping(node, at: "spec", allowed: keys) else { return }
        var baselineNode: Node?
        var maxLaunchesNode: Node?
        var topologiesRead = true
        var valid = true
        for (key, _, value) in pairs {
            switch key {
            case "topologies":
                let before = diagnostics.count
                campaign.topologies = walkTopologies(value)
                // A topology that is not there already says why; the baseline naming it is not a second problem.
                topologiesRead = diagnostics.count == before
            case "suites":
                campaign.suites = walkItems(value, at: "spec.suites", ifEmpty: "list at least one suite", &valid) {
                    $0.walkBenchmark($1, path: $2)
                }
            case "repetitions": campaign.repetitions = integer(value, at: "spec.repetitions", range: 1...1000)
            case "launches": campaign.launches = integer(value, at: "spec.launches", range: 1...1000)
            case "maxLaunches":
                campaign.maxLaunches = integer(value, at: "spec.maxLaunches", range: 1...1000)
                maxLaunchesNode = value
            case "baseline":
                campaign.baseline = partitionName(value, at: "spec.baseline")
                baselineNode = value
            case "workloads":
                campaign.workloads = string(value, at: "spec.workloads").map { Campaign.resolve($0, against: file) }
            default: break
            }
        }
        if !pairs.contains(where: { $0.0 == "topologies" }) {
            error("missing 'spec.topologies'; list the topologies to measure, in order", node)
        }
        if !pairs.contains(where: { $0.0 == "suites" }) {
            error("missing 'spec.suites'; list the benchmark suites to run on each topology", node)
        }
        if let launches = campaign.launches, let most = campaign.maxLaunches, most < launches, let maxLaunchesNode {
            error("'spec.maxLaunches' is \(most), below 'spec.launches' (\(launches))", maxLaunchesNode)
        }
        if let baseline = campaign.baseline, let baselineNode, topologiesRead,
            !campaign.topologies.contains(where: { $0.name == baseline })
        {
            error(
                "'spec.baseline' is '\(baseline)', which is not a topology of this campaign; it has "
                    + campaign.topologies.map(\.name).joined(separator: ", "), baselineNode)
        }
        checkCampaignNames(campaign)
    }

    mutating func walkTopologies(_ node: Node) -> [Campaign.Topology] {
        var valid = true
        let topologies = walkItems(node, at: "spec.topologies", ifEmpty: "list at least one topology", &valid) {
            $0.walkTopology($1, path: $2)
        }
        if topologies.count > CampaignParser.maximumTopologies {
            error("a campaign holds at most \(CampaignParser.maximumTopologies) topologies", node)
        }
        var seen: [String: SourceLocation] = [:]
        for topology in topologies {
            if let first = seen[topology.name] {
                error(
                    "topology name '\(topology.name)' is used twice (first at line \(first.line)); it tags the "
                        + "results, so each is unique", topology.location)
            }
            seen[topology.name] = seen[topology.name] ?? topology.location
        }
        return topologies
    }

    mutating func walkTopology(_ node: Node, path: String) -> Campaign.Topology? {
        guard let pairs = mapping(node, at: path, allowed: ["name", "manifest", "suites"]) else { return nil }
        var valid = true
        var name: String?
        var manifest: Manifest?
        var file: String?
        var suites: [String]?
        for (key, _, value) in pairs {
            switch key {
            case "name": name = checked(partitionName(value, at: "\(path).name"), &valid)
            case "manifest":
                if case .mapping = value {
                    manifest = checked(walkInlineTopology(value), &valid)
                } else if let written = string(value, at: "\(path).manifest") {
                    file = Campaign.resolve(written, against: self.file)
                    manifest = checked(readTopology(file!, written: written, value, path: path), &valid)
                } else {
                    valid = false
                }
            case "suites":
                suites = walkItems(value, at: "\(path).suites", ifEmpty: "name at least one suite", &valid) {
                    $0.matching($1, at: $2, Patterns.isPartitionName, expected: Expected.suite)
                }
            default: break
            }
        }
        requireKey("name", present: name != nil, in: pairs, at: path, node, &valid)
        if !pairs.contains(where: { $0.0 == "manifest" }) {
            error("'\(path)' has no 'manifest'; give a Host manifest's path (relative to this file) or inline", node)
            valid = false
        }
        guard valid, let name, var manifest else { return nil }
        // An inline topology's results name the campaign's text and the topology, not the campaign alone.
        if file == nil { manifest.contentHash = Self.hash("\(text)\n# topology \(name)") }
        return Campaign.Topology(name: name, manifest: manifest, file: file, suites: suites, location: location(node))
    }

    /// An inline Host manifest (`manifest: {apiVersion: forbc/v1, kind: Host, ...}`), walked as a Host document.
    mutating func walkInlineTopology(_ node: Node) -> Manifest? {
        let before = diagnostics.count
        (partitions, entries, overBudget) = (0, 0, false)
        let manifest = walk(node)
        return diagnostics.count == before ? manifest : nil
    }

    /// A topology's manifest file; its problems are reported in it, and located at `node` in the campaign too.
    mutating func readTopology(_ path: String, written: String, _ node: Node, path at: String) -> Manifest? {
        guard FileManager.default.fileExists(atPath: path) else {
            error("'\(at).manifest' names '\(written)', and '\(path)' does not exist", node)
            return nil
        }
        do {
            return try ManifestParser.parse(contentsOf: path)
        } catch let problems as DiagnosticsError {
            error(
                "'\(at).manifest': '\(path)' is not a valid Host manifest (\(problems.diagnostics.count) problem(s), "
                    + "listed at their places)", node)
            diagnostics += problems.diagnostics
        } catch {
            self.error("'\(at).manifest': reading '\(path)' failed: \(error)", node)
        }
        return nil
    }

    /// Suite names unique, topologies' suites known, and every suite's `on:` declared by each topology it runs on.
    mutating func checkCampaignNames(_ campaign: Campaign) {
        var suites: [String: SourceLocation] = [:]
        for suite in campaign.suites {
            if let first = suites[suite.suite] {
                error("suite name '\(suite.suite)' is used twice (first at line \(first.line))", suite.location)
            }
            suites[suite.suite] = suites[suite.suite] ?? suite.location
        }
        for topology in campaign.topologies {
            for name in topology.suites ?? [] where suites[name] == nil {
                error(
                    "topology '\(topology.name)' runs suite '\(name)', which 'spec.suites' does not hold; it has "
                        + campaign.suites.map(\.suite).joined(separator: ", "), topology.location)
            }
            let declared = DeclaredNames(topology.manifest)
            for suite in campaign.suites(of: topology) {
                for (name, location) in zip(suite.on, suite.onLocations) where !declared.mayDeclare(name) {
                    let known = declared.exact.keys.sorted().joined(separator: ", ")
                    error(
                        "suite '\(suite.suite)' runs on '\(name)', which topology '\(topology.name)' "
                            + "(\(topology.file ?? "inline")) does not declare; it declares "
                            + (known.isEmpty ? "no partition" : known), location)
                }
            }
        }
    }
}

extension ManifestWalker.Expected {
    static let campaign = "a campaign name is 1 to 63 letters, digits, '-' or '_', starting with a letter or digit"
}
