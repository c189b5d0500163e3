internal import Yams

/// `forbc export`: the host's current partitions as a manifest that `apply` accepts and that plans to zero
/// changes on the same host. The document is a YAML node tree emitted by Yams, so every value is quoted and
/// escaped as YAML needs; `jsonObject` is the same document for `--output json`.
///
/// Partitions are listed in natural name order within each `gpus[]` entry (`ml-2` before `ml-10`); vGPU types
/// by the readable name the planner resolves back to the same type (`T4-4Q`); a run `NAME-0` … `NAME-(N-1)`
/// whose UUIDs are the ones the planner derives from the exported host name becomes `count: N`, and every
/// other UUID is pinned.
public struct Exporter: Sendable {
    public var inventory: Inventory
    public var state: HostState

    public init(inventory: Inventory, state: HostState) {
        self.inventory = inventory
        self.state = state
    }

    /// The export as YAML: two comment lines, then the document. `hostName` is `metadata.name` (default: the
    /// name forbc recorded).
    public func manifest(hostName: String? = nil) throws -> String {
        let origin = inventory.simulated ? "a SIMULATED host" : "the host"
        // A comment ends at a line break: keep the source on its line.
        let source = String(inventory.source.map { $0.isNewline ? " " : $0 })
        let header = """
            # Exported by forbc from \(origin) (\(source)).
            # Applying it to the same host plans zero changes: UUIDs are pinned or derived from metadata.name.

            """
        return header + (try ExportNode.yaml(document(hostName: hostName)))
    }

    /// The same document as `JSONSerialization` objects (dictionaries, arrays, strings, integers, booleans).
    public func jsonObject(hostName: String? = nil) -> [String: Any] {
        ExportNode.json(document(hostName: hostName)) as? [String: Any] ?? [:]
    }

    /// The document: `apiVersion`, `kind`, `metadata`, then `spec` with `gpus`, `vms` (when any) and `prune`.
    func document(hostName: String?) -> Node {
        let host = hostName ?? state.host ?? "exported-host"
        var builder = ExportBuilder(inventory: inventory, state: state, host: host)
        var spec = [("gpus", ExportNode.list(builder.gpuEntries(), flow: false))]
        let vms = builder.vmEntries()
        if !vms.isEmpty { spec.append(("vms", ExportNode.list(vms, flow: false))) }
        spec.append(("prune", ExportNode.string(PrunePolicy.managed.rawValue)))
        return ExportNode.block([
            ("apiVersion", ExportNode.string(Manifest.apiVersion)),
            ("kind", ExportNode.string("Host")),
            ("metadata", ExportNode.flow([("name", ExportNode.string(host))])),
            ("spec", ExportNode.block(spec)),
        ])
    }
}

/// One pass over the inventory that names every exported partition once (names are unique per host) and
/// remembers the hostdev each name stands for, so that `vms` names attachments as the `gpus` entries do.
struct ExportBuilder {
    let inventory: Inventory
    let state: HostState
    /// `metadata.name`: the seed of the UUIDs a `count` entry stands for.
    let host: String
    var used: Set<String> = []
    /// Exported partition names by the hostdev a domain would hold.
    var byDevice: [(Hostdev, String)] = []

    init(inventory: Inventory, state: HostState, host: String) {
        self.inventory = inventory
        self.state = state
        self.host = host
    }

    /// `name`, or `name-xN` when an earlier partition took it.
    mutating func unique(_ name: String) -> String {
        var candidate = name
        var n = 1
        while used.contains(candidate) {
            candidate = "\(name)-x\(n)"
            n += 1
        }
        used.insert(candidate)
        return candidate
    }

    /// `{select: {KEY: VALUE}, KIND: VALUE}`.
    func entry(_ select: (String, String), _ kind: String, _ value: Node) -> Node {
        ExportNode.block([("select", ExportNode.flow([(select.0, ExportNode.string(select.1))])), (kind, value)])
    }

    /// The `gpus` entries: non-PCI mdev parents holding mdevs, then each GPU with partitions, in inventory order.
    mutating func gpuEntries() -> [Node] {
        var entries: [Node] = []
        for parent in inventory.mdevParents where parent.gpu == nil {
            let mdevs = inventory.mdevs.filter { $0.parent == parent.name }
            guard !mdevs.isEmpty else { continue }
            let partitions = mdevPartitions(mdevs, catalogue: ExportTypes.mdevCatalogue([parent]))
            entries.append(entry(("parent", parent.name), "vgpu", vgpuList(partitions)))
        }
        for gpu in inventory.gpus {
            if let node = withMode(gpu, withScheduler(gpu, gpuEntry(gpu))) { entries.append(node) }
        }
        return entries
    }

    /// A GPU's entry by what it holds: mdevs, MIG instances, VF-based vGPUs, VFs, or passthrough; nil if none.
    mutating func gpuEntry(_ gpu: GPU) -> Node? {
        let select = ("pciAddress", gpu.address)
        let parents = Set(gpu.parentNames)
        let mdevs = inventory.mdevs.filter { parents.contains($0.parent) }
        if !mdevs.isEmpty {
            let catalogue = ExportTypes.mdevCatalogue(inventory.mdevParents.filter { $0.gpu == gpu.address })
            return entry(select, "vgpu", vgpuList(mdevPartitions(mdevs, catalogue: catalogue)))
        }
        // VFs holding vGPUs first: with MIG mode on they are MIG-backed, and their GPU instances go with them.
        let vgpus = gpu.vfs.filter { ($0.vgpu?.current ?? 0) != 0 }
        if !vgpus.isEmpty { return entry(select, "vgpu", vgpuList(vfPartitions(gpu, vgpus))) }
        if let mig = gpu.mig, mig.currentMode, !mig.instances.isEmpty {
            return entry(select, "mig", ExportNode.list(migEntries(gpu, mig), flow: false))
        }
        let sriovRecords = state.partitions.filter { $0.kind == .sriovVF && $0.gpu == gpu.address }
        if let sriov = gpu.sriov, sriov.numVFs > 0, gpu.vendor != .nvidia || !sriovRecords.isEmpty {
            let recorded = sriovRecords.first.map { $0.name.split(separator: "-").dropLast().joined(separator: "-") }
            let base = recorded ?? "vf"
            used.formUnion((0..<sriov.numVFs).map { "\(base)-\($0)" })
            for vf in gpu.vfs { byDevice.append((Hostdev.pci(vf.address, managed: true), "\(base)-\(vf.index)")) }
            var fields = [("name", ExportNode.string(base)), ("vfs", ExportNode.int(sriov.numVFs))]
            if let perVF = perVFNode(gpu, enabled: sriov.numVFs) { fields.append(("perVF", perVF)) }
            return entry(select, "sriov", ExportNode.flow(fields))
        }
        if let uuid = gpu.mig?.uuid, let daemon = inventory.mpsDaemon(uuid) { return mpsEntry(gpu, daemon) }
        if let passthrough = state.partitions.first(where: { $0.kind == .passthrough && $0.gpu == gpu.address }) {
            let name = unique(passthrough.name)
            byDevice.append((Hostdev.pci(gpu.address, managed: true), name))
            return entry(select, "passthrough", ExportNode.flow([("name", ExportNode.string(name))]))
        }
        return amdEntry(gpu)
    }

    /// An MPS daemon as `mps: {name, clients, activeThreadPercentage, pinnedMemoryLimit?}`: the defaults the daemon
    /// reports, the name and clients forbc recorded (one client, and a name from the GPU's address, if none).
    mutating func mpsEntry(_ gpu: GPU, _ daemon: MPSDaemon) -> Node {
        let owned = state.partitions.first { $0.kind == .mps && $0.uuid == daemon.gpuUUID }
        let slug = gpu.address.split(separator: ":").dropFirst().joined(separator: "-")
            .replacingOccurrences(of: ".", with: "-")
        var fields = [
            ("name", ExportNode.string(unique(owned?.name ?? "mps-\(slug)"))),
            ("clients", ExportNode.int(owned?.clients ?? 1)),
            ("activeThreadPercentage", ExportNode.int(daemon.settings.activeThreadPercentage)),
        ]
        if let limit = daemon.settings.pinnedMemoryLimit {
            fields.append(("pinnedMemoryLimit", ExportNode.string(limit)))
        }
        return entry(("pciAddress", gpu.address), "mps", ExportNode.flow(fields))
    }

    /// A `vgpu` list: sorted, runs collapsed into `count` (`ExportOrder.vgpuEntries`).
    func vgpuList(_ partitions: [ExportedVGPU]) -> Node {
        ExportNode.list(ExportOrder.vgpuEntries(partitions, host: host), flow: false)
    }

    /// Each mdev under its recorded name (or one made from its UUID), with its UUID.
    mutating func mdevPartitions(_ mdevs: [MediatedDevice], catalogue: [PlanBuilder.TypeRef]) -> [ExportedVGPU] {
        mdevs.map { mdev in
            let name = unique(state.owned(uuid: mdev.uuid)?.name ?? "mdev-" + mdev.uuid.prefix(8))
            byDevice.append((Hostdev.mdev(mdev.uuid), name))
            let type = ExportTypes.reference(mdev.type, in: catalogue)
            return ExportedVGPU(name: name, type: type, typeID: mdev.type, uuid: mdev.uuid)
        }
    }

    /// Each VF holding a vGPU under its recorded name (or one made from its address), with the recorded UUID.
    mutating func vfPartitions(_ gpu: GPU, _ vfs: [VirtualFunction]) -> [ExportedVGPU] {
        let catalogue = ExportTypes.vfCatalogue(gpu, state: state)
        return vfs.map { vf in
            let owned = state.partitions.first { $0.kind == .vgpuVF && $0.address == vf.address }
            let fallback =
                "vgpu-"
                + vf.address.split(separator: ":").dropFirst().joined(separator: "-")
                .replacingOccurrences(of: ".", with: "-")
            let name = unique(owned?.name ?? fallback)
            byDevice.append((Hostdev.pci(vf.address, managed: false), name))
            let id = "\(vf.vgpu?.current ?? 0)"
            let type = ExportTypes.reference(id, in: catalogue)
            return ExportedVGPU(name: name, type: type, typeID: id, uuid: owned?.uuid)
        }
    }

    /// Each MIG instance pinned to its placement, under its recorded name (or one made from profile and slot),
    /// in natural name order.
    mutating func migEntries(_ gpu: GPU, _ mig: MIGState) -> [Node] {
        var entries: [(String, Node)] = []
        for instance in mig.instances {
            let profile = mig.profile(id: instance.profileID)?.name ?? "\(instance.profileID)"
            let start = instance.placement.start
            let owned = state.partitions.first {
                $0.kind == .mig && $0.gpu == gpu.address && $0.placement == start && $0.type == profile
            }
            let slug = profile.map { $0.isLetter || $0.isNumber ? String($0) : "-" }.joined()
            let name = unique(owned?.name ?? "mig-\(slug)-\(start)")
            var fields = [
                ("name", ExportNode.string(name)), ("profile", ExportNode.string(profile)),
                ("placement", ExportNode.int(start)),
            ]
            if let slices = mig.profile(id: instance.profileID)?.slices {
                fields += Self.computeFields(instance, slices: slices)
            }
            entries.append((name, ExportNode.flow(fields)))
        }
        return entries.sorted { ExportOrder.precedes($0.0, $1.0) }.map(\.1)
    }

    /// A MIG instance's compute instances as manifest keys: none for one over all of it, `computeSlices` (and
    /// `computeCount` for fewer than fit) for equal sizes, `computeInstances` for mixed ones. Without their sizes
    /// (an older discovery), equal sizes are assumed from the count of UUIDs.
    static func computeFields(_ instance: MIGInstance, slices: Int) -> [(String, Node)] {
        let sizes =
            instance.computeSizes
            ?? (instance.uuids.count > 1
                ? Array(repeating: slices / instance.uuids.count, count: instance.uuids.count) : [])
        guard let each = sizes.first, sizes != [slices] else { return [] }
        guard sizes.allSatisfy({ $0 == each }) else {
            return [("computeInstances", ExportNode.list(sizes.map(ExportNode.int), flow: true))]
        }
        var fields = [("computeSlices", ExportNode.int(each))]
        if slices / each != sizes.count { fields.append(("computeCount", ExportNode.int(sizes.count))) }
        return fields
    }

    /// The `vms` entries: each domain holding exported partitions, naming them as the `gpus` entries do, in the
    /// order of its definition; other hostdevs of the domains are not forbc's to declare.
    func vmEntries() -> [Node] {
        var entries: [Node] = []
        for domain in inventory.domains ?? [] {
            var names: [String] = []
            var live = true
            for device in domain.configHostdevs {
                guard let name = byDevice.first(where: { $0.0.sameDevice(device) })?.1 else { continue }
                names.append(name)
                if domain.isActive && !domain.liveHostdevs.contains(where: { $0.sameDevice(device) }) { live = false }
            }
            guard !names.isEmpty else { continue }
            entries.append(
                ExportNode.flow([
                    ("domain", ExportNode.string(domain.name)),
                    ("attach", ExportNode.list(names.map(ExportNode.string), flow: true)),
                    ("live", ExportNode.bool(domain.isActive && live)),
                ]))
        }
        return entries
    }
}
