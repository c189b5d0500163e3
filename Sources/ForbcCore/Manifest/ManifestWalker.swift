internal import Yams

/// The strict walk over a composed YAML document: every key known, every value typed and checked,
/// every problem collected with its location.
struct ManifestWalker {
    let file: String
    let text: String
    /// libyaml's lines and columns as an editor counts them.
    let positions: SourcePositions
    var diagnostics: [Diagnostic] = []
    /// Partitions and partition entries declared so far, against `ManifestParser.maximumPartitions` and
    /// `maximumEntries`; the first entry over either is reported, once.
    var partitions = 0
    var entries = 0
    var overBudget = false

    init(file: String, text: String) {
        self.file = file
        self.text = text
        positions = SourcePositions(text)
    }

    // MARK: Helpers

    func location(_ node: Node) -> SourceLocation {
        let mark = node.mark
        return positions.location(file: file, line: mark?.line ?? 1, column: mark?.column ?? 1)
    }

    mutating func error(_ message: String, _ node: Node) {
        diagnostics.append(Diagnostic(message, at: location(node)))
    }

    mutating func error(_ message: String, _ location: SourceLocation) {
        diagnostics.append(Diagnostic(message, at: location))
    }

    /// The pairs of a mapping with each key checked against `allowed`; unknown keys are reported.
    mutating func mapping(_ node: Node, at path: String, allowed: [String]) -> [(String, Node, Node)]? {
        guard case .mapping(let mapping) = node else {
            error("'\(path)' must be a mapping, not \(describe(node))", node)
            return nil
        }
        if let problem = tagProblem(node) {
            error("'\(path)' \(problem)", node)
            return nil
        }
        var result: [(String, Node, Node)] = []
        for (key, value) in mapping {
            if let problem = tagProblem(key) {
                error("a key of '\(path)' \(problem)", key)
                continue
            }
            guard case .scalar(let scalar) = key, kind(of: scalar) == .string || kind(of: scalar) == .integer else {
                error("keys of '\(path)' must be strings, not \(describe(key))", key)
                continue
            }
            let name = scalar.string
            guard allowed.contains(name) else {
                var message = "unknown key \(Self.quoted(name)) in '\(path)'"
                if let guess = Self.closest(name, in: allowed) {
                    message += "; did you mean '\(guess)'?"
                } else {
                    message += "; expected one of: \(allowed.joined(separator: ", "))"
                }
                error(message, key)
                continue
            }
            result.append((name, key, value))
        }
        return result
    }

    /// Reports `node`'s tag at `path` when it cannot be honoured; true when there was such a tag.
    mutating func refusedTag(_ node: Node, at path: String) -> Bool {
        guard let problem = tagProblem(node) else { return false }
        error("'\(path)' \(problem)", node)
        return true
    }

    mutating func string(_ node: Node, at path: String) -> String? {
        if refusedTag(node, at: path) { return nil }
        guard case .scalar(let scalar) = node, kind(of: scalar) == .string else {
            var message = "'\(path)' must be a string, not \(describe(node))"
            if case .scalar = node { message += "; quote it if it is meant as text" }
            error(message, node)
            return nil
        }
        return scalar.string
    }

    /// A decimal integer in `range`; any other notation (hexadecimal, base 60, '_', a quoted or '!!str' number)
    /// is reported as not an integer.
    mutating func integer(_ node: Node, at path: String, range: ClosedRange<Int>) -> Int? {
        if refusedTag(node, at: path) { return nil }
        guard case .scalar(let scalar) = node, kind(of: scalar) == .integer else {
            var message = "'\(path)' must be an integer, not \(describe(node))"
            if case .scalar(let scalar) = node, kind(of: scalar) == .number { message += "; write decimal digits" }
            error(message, node)
            return nil
        }
        // Decimal digits that overflow Int are out of range as well.
        guard let value = Int(scalar.string), range.contains(value) else {
            error(
                "'\(path)' is \(Self.escaped(scalar.string)); it must be between \(range.lowerBound) and "
                    + "\(range.upperBound)",
                node)
            return nil
        }
        return value
    }

    mutating func boolean(_ node: Node, at path: String) -> Bool? {
        if refusedTag(node, at: path) { return nil }
        guard case .scalar(let scalar) = node, kind(of: scalar) == .boolean else {
            error("'\(path)' must be true or false, not \(describe(node))", node)
            return nil
        }
        return scalar.string.lowercased() == "true"
    }

    mutating func list(_ node: Node, at path: String) -> [Node]? {
        guard case .sequence(let sequence) = node else {
            error("'\(path)' must be a list, not \(describe(node))", node)
            return nil
        }
        if refusedTag(node, at: path) { return nil }
        return Array(sequence)
    }

    /// The string at `path` turned into a value by `parse`; where `parse` gives nil, the one error
    /// "'`path`' is '`text`'; `expected`" is reported (a non-string reports `string`'s error instead).
    mutating func parsed<T>(_ node: Node, at path: String, expected: String, _ parse: (String) -> T?) -> T? {
        guard let text = string(node, at: path) else { return nil }
        guard let value = parse(text) else {
            error("'\(path)' is \(Self.quoted(text)); \(expected)", node)
            return nil
        }
        return value
    }

    /// The string at `path` if `check` accepts it; otherwise the error "'`path`' is '`text`'; `expected`".
    mutating func matching(_ node: Node, at path: String, _ check: (String) -> Bool, expected: String) -> String? {
        parsed(node, at: path, expected: expected) { check($0) ? $0 : nil }
    }

    /// A partition name at `path` (also used for the names that refer to partitions).
    mutating func partitionName(_ node: Node, at path: String) -> String? {
        matching(node, at: path, Patterns.isPartitionName, expected: Expected.partitionName)
    }

    /// What a value that fails its pattern should have looked like: the tail of "'path' is 'text'; …".
    enum Expected {
        static let partitionName =
            "a partition name is 1 to 63 letters, digits, '-' or '_', "
            + "starting with a letter or digit"
        static let hostName = "a host name is 1 to 63 letters, digits, '-', '_', '.' or '+'"
        static let prune = "it must be one of: managed, none, all"
        static let timing =
            "it must be 'auto' (co-tenants windowed, a lone tenant timed by itself) or 'wall-window' (a lone tenant "
            + "windowed too, to divide co-tenants by)"
        static let migMode = "it must be one of: enabled, disabled"
        static let pciAddress = "a PCI address looks like '0000:3b:00.0' (domain:bus:device.function, hexadecimal)"
        static let vendor = "it must be one of: nvidia, amd, intel"
        static let parent = "an mdev parent name is letters, digits, '-', '_', '.' or ':'"
        static let typeReference =
            "a type is an id ('nvidia-558'), a name ('A40-8Q') or 'mtty-2': "
            + "letters, digits, ' ', '-', '_', '.', '+'"
        static let uuid = "a UUID looks like '3b2f5f4e-8b1d-4c2a-9d5e-0a1b2c3d4e5f'"
        static let migProfile = "a MIG profile looks like '3g.40gb' or '1g.10gb+me'"
        static let domain = "a domain name is letters, digits, '-', '_', '.' or '+'"
        static let suite = "a suite name is letters, digits, '-' or '_'"
        static let workload = "a workload is named by letters, digits, '-' or '_', not a command line"
    }

    /// Levenshtein-close suggestion for a misspelt key.
    static func closest(_ word: String, in candidates: [String]) -> String? {
        func distance(_ a: [Character], _ b: [Character]) -> Int {
            var previous = Array(0...b.count)
            for i in 1...max(a.count, 1) where !a.isEmpty {
                var current = [i] + Array(repeating: 0, count: b.count)
                for j in 1...max(b.count, 1) where !b.isEmpty {
                    current[j] = min(
                        previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1))
                }
                previous = current
            }
            return previous[b.count]
        }
        let scored = candidates.map { ($0, distance(Array(word.lowercased()), Array($0.lowercased()))) }
        guard let best = scored.min(by: { $0.1 < $1.1 }), best.1 <= 2, best.1 < word.count else { return nil }
        return best.0
    }

    // MARK: Document

    mutating func walk(_ root: Node) -> Manifest? {
        guard let pairs = mapping(root, at: "(document)", allowed: ["apiVersion", "kind", "metadata", "spec"]) else {
            return nil
        }
        var values: [String: Node] = [:]
        for (key, _, value) in pairs { values[key] = value }

        var ok = true
        if let node = values["apiVersion"] {
            if let version = string(node, at: "apiVersion"), version != Manifest.apiVersion {
                error("unsupported apiVersion \(Self.quoted(version)); this forbc reads '\(Manifest.apiVersion)'", node)
                ok = false
            }
        } else {
            error("missing 'apiVersion'; a manifest starts with 'apiVersion: \(Manifest.apiVersion)'", location(root))
            ok = false
        }
        if let node = values["kind"] {
            if let kind = string(node, at: "kind"), kind != "Host" {
                error("unsupported kind \(Self.quoted(kind)); forbc/v1 manifests are of kind 'Host'", node)
            }
        } else {
            error("missing 'kind'; add 'kind: Host'", location(root))
        }
        var name = ""
        if let node = values["metadata"] {
            if let fields = mapping(node, at: "metadata", allowed: ["name"]) {
                if let (_, _, value) = fields.first(where: { $0.0 == "name" }) {
                    if let text = matching(
                        value, at: "metadata.name", { Patterns.isObjectName($0, max: 63) },
                        expected: Expected.hostName)
                    {
                        name = text
                    }
                } else {
                    error("missing 'metadata.name'; it names the host and seeds partition UUIDs", node)
                }
            }
        } else {
            error("missing 'metadata'; add 'metadata: {name: HOSTNAME}'", location(root))
        }
        var manifest = Manifest(file: file, contentHash: Self.hash(text), name: name)
        if let spec = values["spec"] {
            walkSpec(spec, into: &manifest)
        } else {
            error("missing 'spec'", location(root))
        }
        // Over budget, the names are not expanded: that is the unbounded work the budget prevents.
        if ok && !overBudget {
            checkNames(manifest)
            checkUUIDs(manifest)
        }
        return manifest
    }

    /// The manifest's `contentHash`: the first 16 hex digits (8 bytes) of the SHA-1 of its UTF-8 text.
    static func hash(_ text: String) -> String {
        SHA1.hash(Array(text.utf8)).prefix(8).map { String(format: "%02x", $0) }.joined()
    }

    mutating func walkSpec(_ node: Node, into manifest: inout Manifest) {
        guard let pairs = mapping(node, at: "spec", allowed: ["gpus", "vms", "benchmarks", "prune"]) else { return }
        for (key, _, value) in pairs {
            switch key {
            case "gpus":
                guard let items = list(value, at: "spec.gpus") else { continue }
                for (index, item) in items.enumerated() {
                    if let gpu = walkGPU(item, index: index) { manifest.gpus.append(gpu) }
                }
            case "vms":
                guard let items = list(value, at: "spec.vms") else { continue }
                for (index, item) in items.enumerated() {
                    if let vm = walkVM(item, path: "spec.vms[\(index)]") { manifest.vms.append(vm) }
                }
            case "benchmarks":
                guard let items = list(value, at: "spec.benchmarks") else { continue }
                for (index, item) in items.enumerated() {
                    if let benchmark = walkBenchmark(item, path: "spec.benchmarks[\(index)]") {
                        manifest.benchmarks.append(benchmark)
                    }
                }
            case "prune":
                if let policy = parsed(value, at: "spec.prune", expected: Expected.prune, PrunePolicy.init(rawValue:)) {
                    manifest.prune = policy
                    manifest.pruneLocation = location(value)
                }
            default: break
            }
        }
    }

    mutating func walkGPU(_ node: Node, index: Int) -> GPUSpec? {
        let path = "spec.gpus[\(index)]"
        let keys = [
            "select", "vgpu", "mig", "migMode", "sriov", "passthrough", "mps", "amdPartition", "vgpuScheduler",
            "vgpuMode",
        ]
        guard let pairs = mapping(node, at: path, allowed: keys) else { return nil }
        var gpu = WalkedGPU()
        for (key, _, value) in pairs { walkGPUKey(key, value, path: path, into: &gpu) }
        if gpu.selector == nil && !pairs.contains(where: { $0.0 == "select" }) {
            error("'\(path)' has no 'select'; say which GPU, e.g. 'select: {pciAddress: \"0000:3b:00.0\"}'", node)
            gpu.valid = false
        }
        checkGPUKinds(&gpu, path: path, node)
        guard gpu.valid, let selector = gpu.selector else { return nil }
        var spec = GPUSpec(
            select: selector, vgpu: gpu.vgpu, mig: gpu.mig, sriov: gpu.sriov, passthrough: gpu.passthrough,
            migMode: gpu.migMode ?? (gpu.hasMIG ? true : nil), mps: gpu.mps, amdPartition: gpu.amdPartition,
            location: location(node), index: index)
        spec.vgpuScheduler = gpu.vgpuScheduler
        spec.vgpuMode = gpu.vgpuMode
        return spec
    }

    /// What one `gpus[]` entry declared, while it is walked.
    struct WalkedGPU {
        var selector: GPUSelector?
        var vgpu: [VGPUSpec] = []
        var mig: [MIGSpec] = []
        /// Whether the entry has a `mig` key (an empty list declares MIG mode on and no instances).
        var hasMIG = false
        var migMode: Bool?
        var sriov: SRIOVSpec?
        var passthrough: PassthroughSpec?
        var mps: MPSSpec?
        var amdPartition: AMDPartitionSpec?
        var vgpuScheduler: VGPUSchedulerSpec?
        var vgpuMode: VGPUModeSpec?
        var valid = true
    }

    /// One key of a `gpus[]` entry.
    mutating func walkGPUKey(_ key: String, _ value: Node, path: String, into gpu: inout WalkedGPU) {
        switch key {
        case "select":
            gpu.selector = walkSelector(value, path: "\(path).select")
            if gpu.selector == nil { gpu.valid = false }
        case "vgpu":
            gpu.vgpu = walkItems(
                value, at: "\(path).vgpu", ifEmpty: "list at least one partition or leave the key out", &gpu.valid
            ) {
                $0.walkVGPU($1, path: $2)
            }
        case "mig":
            gpu.hasMIG = true
            gpu.mig = walkMIGItems(value, at: "\(path).mig", &gpu.valid)
        case "migMode":
            let mode = parsed(value, at: "\(path).migMode", expected: Expected.migMode) {
                ["enabled": true, "disabled": false][$0]
            }
            if mode == nil { gpu.valid = false }
            gpu.migMode = mode
        case "sriov":
            gpu.sriov = walkSRIOV(value, path: "\(path).sriov")
            if gpu.sriov == nil { gpu.valid = false }
        case "passthrough":
            gpu.passthrough = walkPassthrough(value, path: "\(path).passthrough")
            if gpu.passthrough == nil { gpu.valid = false }
        case "mps":
            gpu.mps = walkMPS(value, path: "\(path).mps")
            if gpu.mps == nil { gpu.valid = false }
        case "amdPartition":
            gpu.amdPartition = walkAMDPartition(value, path: "\(path).amdPartition")
            if gpu.amdPartition == nil { gpu.valid = false }
        case "vgpuScheduler":
            gpu.vgpuScheduler = walkVGPUScheduler(value, path: "\(path).vgpuScheduler")
            if gpu.vgpuScheduler == nil { gpu.valid = false }
        case "vgpuMode":
            gpu.vgpuMode = walkVGPUMode(value, path: "\(path).vgpuMode")
            if gpu.vgpuMode == nil { gpu.valid = false }
        default: break
        }
    }

    /// A `mig` list; an empty one is allowed (MIG mode on, no instances).
    mutating func walkMIGItems(_ node: Node, at path: String, _ valid: inout Bool) -> [MIGSpec] {
        guard let items = list(node, at: path) else {
            valid = false
            return []
        }
        var walked: [MIGSpec] = []
        for (i, item) in items.enumerated() {
            if let value = walkMIG(item, path: "\(path)[\(i)]") { walked.append(value) } else { valid = false }
        }
        return walked
    }

    /// One way per GPU: at most one of vgpu, mig, sriov, passthrough, mps, and at least one of them or `migMode`;
    /// `migMode: disabled` does not go with `mig`, nor `migMode: enabled` with another kind.
    mutating func checkGPUKinds(_ gpu: inout WalkedGPU, path: String, _ node: Node) {
        let kinds = [
            !gpu.vgpu.isEmpty ? "vgpu" : nil, gpu.hasMIG ? "mig" : nil, gpu.sriov != nil ? "sriov" : nil,
            gpu.passthrough != nil ? "passthrough" : nil, gpu.mps != nil ? "mps" : nil,
            gpu.amdPartition != nil ? "amdPartition" : nil,
        ].compactMap { $0 }
        if !checkSchedulerKinds(gpu, kinds: kinds, path: path, node)
            || !checkModeKinds(gpu, kinds: kinds, path: path, node)
        {
            gpu.valid = false
        } else if kinds.isEmpty && gpu.migMode == nil && gpu.vgpuScheduler == nil && gpu.vgpuMode == nil && gpu.valid {
            error(
                "'\(path)' declares no partitions; add 'vgpu', 'mig', 'sriov', 'passthrough', 'mps', 'amdPartition' "
                    + "or 'migMode'", node)
            gpu.valid = false
        } else if kinds.count > 1 {
            error(
                "'\(path)' combines \(kinds.map { "'\($0)'" }.joined(separator: " and ")); one GPU is partitioned "
                    + "one way",
                node)
            gpu.valid = false
        } else if gpu.migMode == false && gpu.hasMIG {
            error("'\(path)' declares 'mig' with 'migMode: disabled'; remove one of them", node)
            gpu.valid = false
        } else if gpu.migMode == true, let other = kinds.first, other != "mig" {
            error(
                "'\(path)' declares '\(other)' with 'migMode: enabled'; MIG instances are declared under 'mig'", node)
            gpu.valid = false
        }
    }

    mutating func walkSelector(_ node: Node, path: String) -> GPUSelector? {
        let keys = ["pciAddress", "model", "vendor", "index", "all", "parent"]
        guard let pairs = mapping(node, at: path, allowed: keys) else { return nil }
        guard pairs.count == 1, let (key, _, value) = pairs.first else {
            if pairs.count > 1 {
                error(
                    "'\(path)' has \(pairs.count) keys; a selector has exactly one of: \(keys.joined(separator: ", "))",
                    node)
            } else if case .mapping(let m) = node, m.count == 0 {
                error("'\(path)' is empty; it needs one of: \(keys.joined(separator: ", "))", node)
            }
            return nil
        }
        switch key {
        case "pciAddress":
            let address = matching(
                value, at: "\(path).pciAddress", Patterns.isPCIAddress,
                expected: Expected.pciAddress)
            return address.map { .pciAddress($0.lowercased()) }
        case "model":
            guard let model = string(value, at: "\(path).model") else { return nil }
            guard !model.isEmpty, model.count <= 128,
                model.unicodeScalars.allSatisfy({ (0x20...0x7E).contains($0.value) })
            else {
                error("'\(path).model' must be 1 to 128 printable ASCII characters", value)
                return nil
            }
            return .model(model)
        case "vendor":
            let known = parsed(value, at: "\(path).vendor", expected: Expected.vendor) { text in
                Vendor(rawValue: text).flatMap { Vendor.selectable.contains($0) ? $0 : nil }
            }
            return known.map { .vendor($0) }
        case "index":
            guard let index = integer(value, at: "\(path).index", range: 0...255) else { return nil }
            return .index(index)
        case "all":
            guard let all = boolean(value, at: "\(path).all") else { return nil }
            guard all else {
                error("'\(path).all' is false; use 'all: true' or another selector", value)
                return nil
            }
            return .all
        case "parent":
            let parent = matching(value, at: "\(path).parent", Patterns.isParentName, expected: Expected.parent)
            return parent.map { .parent($0) }
        default: return nil
        }
    }

    mutating func walkVGPU(_ node: Node, path: String) -> VGPUSpec? {
        guard let pairs = mapping(node, at: path, allowed: ["name", "type", "count", "uuid"]) else { return nil }
        var name: String?
        var type: String?
        var count = 1
        var uuid: String?
        var valid = true
        var countNode: Node?
        var uuidNode: Node?
        for (key, _, value) in pairs {
            switch key {
            case "name":
                name = partitionName(value, at: "\(path).name")
                if name == nil { valid = false }
            case "type":
                type =
                    checked(
                        matching(value, at: "\(path).type", Patterns.isTypeReference, expected: Expected.typeReference),
                        &valid) ?? type
            case "count":
                countNode = value
                count =
                    checked(integer(value, at: "\(path).count", range: 1...ManifestParser.maximumCount), &valid)
                    ?? count
            case "uuid":
                uuidNode = value
                if let text = matching(value, at: "\(path).uuid", Patterns.isUUID, expected: Expected.uuid) {
                    uuid = text.lowercased()
                } else {
                    valid = false
                }
            default: break
            }
        }
        requireKey("name", present: name != nil, in: pairs, at: path, node, &valid)
        requireKey("type", present: type != nil, in: pairs, at: path, node, &valid)
        if uuid != nil, count > 1, let uuidNode {
            error("'\(path).uuid' pins one UUID but 'count' is \(count); pin UUIDs on entries of count 1", uuidNode)
            valid = false
        }
        _ = countNode
        guard valid, let name, let type else { return nil }
        spend(count, at: path, node)
        return VGPUSpec(
            name: name, type: type, count: count, uuid: uuid, location: location(node),
            uuidLocation: uuidNode.map(location))
    }

    mutating func walkMIG(_ node: Node, path: String) -> MIGSpec? {
        let keys = ["name", "profile", "count", "placement", "computeSlices", "computeCount", "computeInstances"]
        guard let pairs = mapping(node, at: path, allowed: keys) else { return nil }
        var name: String?
        var profile: String?
        var count = 1
        var placement: Int?
        var computeSlices: Int?
        var computeCount: Int?
        var computeInstances: [Int]?
        var valid = true
        for (key, _, value) in pairs {
            switch key {
            case "name":
                name = partitionName(value, at: "\(path).name")
                if name == nil { valid = false }
            case "profile":
                profile =
                    checked(
                        matching(value, at: "\(path).profile", Patterns.isMIGProfile, expected: Expected.migProfile),
                        &valid) ?? profile
            case "count":
                count =
                    checked(integer(value, at: "\(path).count", range: 1...ManifestParser.maximumCount), &valid)
                    ?? count
            case "placement":
                placement = checked(integer(value, at: "\(path).placement", range: 0...7), &valid) ?? placement
            case "computeSlices":
                computeSlices =
                    checked(integer(value, at: "\(path).computeSlices", range: 1...7), &valid) ?? computeSlices
            case "computeCount":
                computeCount =
                    checked(integer(value, at: "\(path).computeCount", range: 1...7), &valid) ?? computeCount
            case "computeInstances":
                computeInstances = walkComputeSizes(value, at: "\(path).computeInstances", &valid)
            default: break
            }
        }
        requireKey("name", present: name != nil, in: pairs, at: path, node, &valid)
        requireKey("profile", present: profile != nil, in: pairs, at: path, node, &valid)
        guard valid, let name, let profile else { return nil }
        let spec = MIGSpec(
            name: name, profile: profile, count: count, placement: placement, computeSlices: computeSlices,
            computeCount: computeCount, computeInstances: computeInstances, location: location(node))
        guard checkMIG(spec, path: path, node) else { return nil }
        spend(count, at: path, node)
        return spec
    }

    /// The keys of a `mig` entry that go together: a placement places one instance; compute instances are given
    /// one way; a count of them needs their size.
    mutating func checkMIG(_ spec: MIGSpec, path: String, _ node: Node) -> Bool {
        if spec.placement != nil && spec.count > 1 {
            error(
                "'\(path).placement' places one instance but 'count' is \(spec.count); give placements to entries of "
                    + "count 1",
                node)
            return false
        }
        if spec.computeInstances != nil && spec.computeSlices != nil {
            error("'\(path)' declares 'computeInstances' with 'computeSlices'; give one of them", node)
            return false
        }
        if spec.computeCount != nil && spec.computeSlices == nil {
            error(
                "'\(path).computeCount' needs 'computeSlices'; say how many slices each compute instance has", node)
            return false
        }
        return true
    }

    /// A list of compute-instance sizes (1 to 7 slices each, at most 7 of them).
    mutating func walkComputeSizes(_ node: Node, at path: String, _ valid: inout Bool) -> [Int]? {
        guard let items = list(node, at: path) else {
            valid = false
            return nil
        }
        guard (1...7).contains(items.count) else {
            error("'\(path)' lists \(items.count) compute instances; list 1 to 7 sizes", node)
            valid = false
            return nil
        }
        var sizes: [Int] = []
        for (i, item) in items.enumerated() {
            guard let size = integer(item, at: "\(path)[\(i)]", range: 1...7) else {
                valid = false
                return nil
            }
            sizes.append(size)
        }
        return sizes
    }

    mutating func walkSRIOV(_ node: Node, path: String) -> SRIOVSpec? {
        guard let pairs = mapping(node, at: path, allowed: ["name", "vfs", "perVF"]) else { return nil }
        var name = "vf"
        var vfs: Int?
        var perVF: VFProvisioning?
        var valid = true
        for (key, _, value) in pairs {
            switch key {
            case "name": name = checked(partitionName(value, at: "\(path).name"), &valid) ?? name
            case "vfs":
                vfs = integer(value, at: "\(path).vfs", range: 0...256)
                if vfs == nil { valid = false }
            case "perVF": perVF = checked(walkProvisioning(value, path: "\(path).perVF"), &valid)
            default: break
            }
        }
        if vfs == nil && !pairs.contains(where: { $0.0 == "vfs" }) {
            error("'\(path)' has no 'vfs'; say how many virtual functions", node)
            valid = false
        }
        guard valid, let vfs else { return nil }
        spend(vfs, at: path, node)
        return SRIOVSpec(name: name, vfs: vfs, location: location(node), perVF: perVF)
    }

    mutating func walkPassthrough(_ node: Node, path: String) -> PassthroughSpec? {
        guard let pairs = mapping(node, at: path, allowed: ["name"]) else { return nil }
        guard let (_, _, value) = pairs.first(where: { $0.0 == "name" }) else {
            error("'\(path)' has no 'name'", node)
            return nil
        }
        guard let name = partitionName(value, at: "\(path).name") else { return nil }
        spend(1, at: path, node)
        return PassthroughSpec(name: name, location: location(node))
    }

    mutating func walkVM(_ node: Node, path: String) -> VMSpec? {
        guard let pairs = mapping(node, at: path, allowed: ["domain", "attach", "live"]) else { return nil }
        var domain: String?
        var attach: [String] = []
        var locations: [SourceLocation] = []
        var live = false
        var valid = true
        for (key, _, value) in pairs {
            switch key {
            case "domain":
                if let text = matching(
                    value, at: "\(path).domain", { Patterns.isObjectName($0) },
                    expected: Expected.domain)
                {
                    domain = text
                } else {
                    valid = false
                }
            case "attach":
                guard let items = list(value, at: "\(path).attach") else {
                    valid = false
                    continue
                }
                for (i, item) in items.enumerated() {
                    if let name = partitionName(item, at: "\(path).attach[\(i)]") {
                        attach.append(name)
                        locations.append(location(item))
                    } else {
                        valid = false
                    }
                }
            case "live":
                if let flag = boolean(value, at: "\(path).live") { live = flag } else { valid = false }
            default: break
            }
        }
        requireKey("domain", present: domain != nil, in: pairs, at: path, node, &valid)
        guard valid, let domain else { return nil }
        return VMSpec(domain: domain, attach: attach, attachLocations: locations, live: live, location: location(node))
    }

    mutating func walkBenchmark(_ node: Node, path: String) -> BenchmarkSpec? {
        guard
            let pairs = mapping(
                node, at: path, allowed: ["suite", "on", "vms", "workloads", "repetitions", "tenants", "timing"])
        else { return nil }
        var vms: [(String, SourceLocation)] = []
        var suite: String?
        var on: [String] = []
        var locations: [SourceLocation] = []
        var workloads: [String] = []
        var repetitions = 5
        var tenants = 1
        var wallWindow = false
        var valid = true
        for (key, _, value) in pairs {
            switch key {
            case "suite":
                suite =
                    checked(
                        matching(value, at: "\(path).suite", Patterns.isPartitionName, expected: Expected.suite), &valid
                    ) ?? suite
            case "on": (on, locations) = walkOn(value, at: "\(path).on", &valid)
            case "vms":
                vms = walkItems(value, at: "\(path).vms", ifEmpty: "name at least one domain", &valid) {
                    walker, item, at in
                    walker.matching(item, at: at, { Patterns.isObjectName($0) }, expected: Expected.domain).map {
                        ($0, walker.location(item))
                    }
                }
            case "workloads":
                workloads = walkItems(
                    value, at: "\(path).workloads", ifEmpty: "name at least one workload", emptyInvalidates: true,
                    &valid
                ) { $0.matching($1, at: $2, Patterns.isPartitionName, expected: Expected.workload) }
            case "repetitions":
                repetitions = checked(integer(value, at: "\(path).repetitions", range: 1...1000), &valid) ?? repetitions
            case "tenants":
                tenants = checked(integer(value, at: "\(path).tenants", range: 1...64), &valid) ?? tenants
            case "timing":
                let timing = matching(
                    value, at: "\(path).timing", { ["auto", "wall-window"].contains($0) }, expected: Expected.timing)
                wallWindow = checked(timing, &valid) == "wall-window"
            default: break
            }
        }
        requireKey("suite", present: suite != nil, in: pairs, at: path, node, &valid)
        requireKey("workloads", present: !workloads.isEmpty, in: pairs, at: path, node, &valid)
        guard valid, let suite else { return nil }
        return BenchmarkSpec(
            suite: suite, on: on, onLocations: locations, workloads: workloads, repetitions: repetitions,
            tenants: tenants, wallWindow: wallWindow, location: location(node), vms: vms.map(\.0),
            vmLocations: vms.map(\.1))
    }

    /// A suite's `on:` list: the partition names and where each is written.
    mutating func walkOn(_ node: Node, at path: String, _ valid: inout Bool) -> ([String], [SourceLocation]) {
        guard let items = list(node, at: path) else {
            valid = false
            return ([], [])
        }
        var names: [String] = []
        var locations: [SourceLocation] = []
        for (i, item) in items.enumerated() {
            if let name = partitionName(item, at: "\(path)[\(i)]") {
                names.append(name)
                locations.append(location(item))
            } else {
                valid = false
            }
        }
        return (names, locations)
    }

    /// Counts the entry at `path` and its `count` partitions against the manifest's budget; the first entry
    /// over it is reported (validate has no host, so a selector matching several GPUs counts once).
    mutating func spend(_ count: Int, at path: String, _ node: Node) {
        entries += 1
        partitions += count
        guard !overBudget else { return }
        if entries > ManifestParser.maximumEntries {
            error(
                "'\(path)' is partition entry \(entries); a manifest holds at most \(ManifestParser.maximumEntries) "
                    + "entries; merge entries of one type with 'count'",
                node)
            overBudget = true
        } else if partitions > ManifestParser.maximumPartitions {
            error(
                "'\(path)' brings the manifest to \(partitions) partitions; a manifest declares at most "
                    + "\(ManifestParser.maximumPartitions) in all; lower 'count'",
                node)
            overBudget = true
        }
    }

    /// `value` when it was read; otherwise marks the entry invalid (the reason was reported where it was read).
    func checked<T>(_ value: T?, _ valid: inout Bool) -> T? {
        if value == nil { valid = false }
        return value
    }

    /// Reports a required key that is missing (and was not reported as invalid already).
    mutating func requireKey(
        _ key: String, present: Bool, in pairs: [(String, Node, Node)], at path: String, _ node: Node,
        _ valid: inout Bool
    ) {
        guard !present && !pairs.contains(where: { $0.0 == key }) else { return }
        error("'\(path)' has no '\(key)'", node)
        valid = false
    }

    /// A list's items, each walked at `PATH[i]`; an empty list is reported with `remedy` (and makes the entry
    /// invalid when `emptyInvalidates`). Marks `valid` false when the list or an item is invalid.
    mutating func walkItems<T>(
        _ node: Node, at path: String, ifEmpty remedy: String, emptyInvalidates: Bool = false,
        _ valid: inout Bool, _ walk: (inout ManifestWalker, Node, String) -> T?
    ) -> [T] {
        guard let items = list(node, at: path) else {
            valid = false
            return []
        }
        if items.isEmpty {
            error("'\(path)' is empty; \(remedy)", node)
            if emptyInvalidates { valid = false }
        }
        var walked: [T] = []
        for (i, item) in items.enumerated() {
            if let value = walk(&self, item, "\(path)[\(i)]") { walked.append(value) } else { valid = false }
        }
        return walked
    }

    // MARK: Cross-checks

    /// Names unique per host; attachments and benchmarks refer to declared partitions.
    mutating func checkNames(_ manifest: Manifest) {
        let declared = DeclaredNames(manifest)
        for (name, locations) in declared.duplicates {
            for location in locations.dropFirst() {
                error(
                    "partition name '\(name)' is declared more than once (first at line \(locations[0].line)); "
                        + "names are unique per host",
                    location)
            }
        }
        var domains: [String: SourceLocation] = [:]
        for vm in manifest.vms {
            if let first = domains[vm.domain] {
                error(
                    "domain '\(vm.domain)' is listed twice (first at line \(first.line)); list its partitions in "
                        + "one entry",
                    vm.location)
            } else {
                domains[vm.domain] = vm.location
            }
            for (name, location) in zip(vm.attach, vm.attachLocations) where !declared.mayDeclare(name) {
                error("'\(vm.domain)' attaches '\(name)', which no 'spec.gpus' entry declares", location)
            }
        }
        var attachedTo: [String: String] = [:]
        for vm in manifest.vms {
            for (name, location) in zip(vm.attach, vm.attachLocations) {
                if let other = attachedTo[name], other != vm.domain {
                    error(
                        "partition '\(name)' is attached to both '\(other)' and '\(vm.domain)'; a partition serves "
                            + "one VM",
                        location)
                }
                attachedTo[name] = vm.domain
            }
        }
        for benchmark in manifest.benchmarks {
            for (name, location) in zip(benchmark.on, benchmark.onLocations) where !declared.mayDeclare(name) {
                error(
                    "benchmark suite '\(benchmark.suite)' runs on '\(name)', which no 'spec.gpus' entry declares",
                    location)
            }
        }
    }
}

extension ManifestWalker {
    /// A pinned UUID names one partition: pinned once (pins are kept lower case, so case does not hide a repeat),
    /// and not the UUID forbc derives for another partition the manifest declares (UUIDv5 of "HOST/NAME"). The
    /// names a selector matching several GPUs numbers across them are known only to plan, which checks those.
    mutating func checkUUIDs(_ manifest: Manifest) {
        var pins: [String: (name: String, location: SourceLocation)] = [:]
        for gpu in manifest.gpus {
            for entry in gpu.vgpu {
                guard let uuid = entry.uuid else { continue }
                let at = entry.uuidLocation ?? entry.location
                if let first = pins[uuid] {
                    error(
                        "'\(entry.name)' pins UUID \(uuid), which '\(first.name)' pins too (line "
                            + "\(first.location.line)); a UUID identifies one partition, pin another",
                        at)
                } else {
                    pins[uuid] = (entry.name, at)
                }
            }
        }
        guard !pins.isEmpty, !manifest.name.isEmpty else { return }
        for gpu in manifest.gpus {
            for entry in gpu.vgpu where entry.uuid == nil {
                let names = entry.count == 1 ? [entry.name] : (0..<entry.count).map { "\(entry.name)-\($0)" }
                for name in names {
                    let derived = UUIDv5.partition(host: manifest.name, name: name)
                    guard let pin = pins[derived] else { continue }
                    error(
                        "'\(pin.name)' pins UUID \(derived), the UUID forbc derives for partition '\(name)' "
                            + "(UUIDv5 of '\(manifest.name)/\(name)', line \(entry.location.line)); pin another",
                        pin.location)
                }
            }
        }
    }
}

/// The partition names a manifest declares, before any host is known. A `count` under a selector that may
/// match several GPUs continues numbering across them, so its names past `count` are known only at plan time.
struct DeclaredNames {
    var exact: [String: [SourceLocation]] = [:]
    /// Base names whose numbering is open-ended (selector may match several GPUs).
    var openBases: Set<String> = []

    init(_ manifest: Manifest) {
        func add(_ name: String, _ location: SourceLocation) { exact[name, default: []].append(location) }
        func addCounted(_ base: String, count: Int, single: Bool, _ location: SourceLocation) {
            if count == 1 && single {
                add(base, location)
                return
            }
            if count == 1 { add(base, location) }
            if !single { openBases.insert(base) }
            if count > 1 { for i in 0..<count { add("\(base)-\(i)", location) } }
        }
        for gpu in manifest.gpus {
            let single = gpu.select.matchesAtMostOne
            for v in gpu.vgpu { addCounted(v.name, count: v.count, single: single, v.location) }
            for m in gpu.mig { addCounted(m.name, count: m.count, single: single, m.location) }
            if let s = gpu.sriov {
                for i in 0..<s.vfs { add("\(s.name)-\(i)", s.location) }
                if !single { openBases.insert(s.name) }
            }
            if let p = gpu.passthrough { add(p.name, p.location) }
            if let m = gpu.mps {
                add(m.name, m.location)
                if !single { openBases.insert(m.name) }
            }
            // How many compute partitions a mode makes depends on the device: the names are known at plan time.
            // Each entry numbers its partitions from 0, so two entries of one name both make NAME-0.
            if let a = gpu.amdPartition {
                openBases.insert(a.name)
                add("\(a.name)-0", a.location)
            }
        }
    }

    var duplicates: [(String, [SourceLocation])] {
        exact.filter { $0.value.count > 1 }.sorted { $0.key < $1.key }.map { ($0.key, $0.value) }
    }

    func mayDeclare(_ name: String) -> Bool {
        if exact[name] != nil { return true }
        guard let dash = name.lastIndex(of: "-"), Int(name[name.index(after: dash)...]) != nil else { return false }
        return openBases.contains(String(name[..<dash]))
    }
}
