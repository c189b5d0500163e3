/// `forbc export`: the host's current partitions as a manifest that `apply` accepts and that plans to zero
/// changes on the same host. UUIDs are pinned, so the export does not depend on the host name.
public struct Exporter: Sendable {
    public var inventory: Inventory
    public var state: HostState

    public init(inventory: Inventory, state: HostState) {
        self.inventory = inventory
        self.state = state
    }

    func quote(_ s: String) -> String { "\"\(s.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\""))\"" }

    public func manifest(hostName: String? = nil) -> String {
        let host = hostName ?? state.host ?? "exported-host"
        var gpus: [String] = []
        /// Exported partition names by the hostdev a domain would hold.
        var byDevice: [(Hostdev, String)] = []
        var used: Set<String> = []
        func unique(_ name: String) -> String {
            var candidate = name, n = 1
            while used.contains(candidate) { candidate = "\(name)-x\(n)"; n += 1 }
            used.insert(candidate)
            return candidate
        }
        for parent in inventory.mdevParents where parent.gpu == nil {
            let mdevs = inventory.mdevs.filter { $0.parent == parent.name }
            guard !mdevs.isEmpty else { continue }
            gpus.append(entry(select: "{parent: \(quote(parent.name))}", mdevs: mdevs, unique: unique, names: &byDevice))
        }
        for gpu in inventory.gpus {
            let parents = Set(gpu.parentNames)
            let mdevs = inventory.mdevs.filter { parents.contains($0.parent) }
            let select = "{pciAddress: \(quote(gpu.address))}"
            if !mdevs.isEmpty {
                gpus.append(entry(select: select, mdevs: mdevs, unique: unique, names: &byDevice))
                continue
            }
            if let mig = gpu.mig, mig.currentMode, !mig.instances.isEmpty {
                var lines = ["  - select: \(select)", "    mig:"]
                for instance in mig.instances {
                    let profile = mig.profile(id: instance.profileID)?.name ?? "\(instance.profileID)"
                    let owned = state.partitions.first { $0.kind == .mig && $0.gpu == gpu.address && $0.placement == instance.placement.start && $0.type == profile }
                    let fallback = "mig-" + profile.map { $0.isLetter || $0.isNumber ? String($0) : "-" }.joined() + "-\(instance.placement.start)"
                    let name = unique(owned?.name ?? fallback)
                    var fields = "name: \(quote(name)), profile: \(quote(profile)), placement: \(instance.placement.start)"
                    if instance.uuids.count > 1, let slices = mig.profile(id: instance.profileID)?.slices {
                        fields += ", computeSlices: \(slices / instance.uuids.count)"
                    }
                    lines.append("      - {\(fields)}")
                }
                gpus.append(lines.joined(separator: "\n"))
                continue
            }
            let vgpus = gpu.vfs.filter { ($0.vgpu?.current ?? 0) != 0 }
            if !vgpus.isEmpty {
                var lines = ["  - select: \(select)", "    vgpu:"]
                for vf in vgpus {
                    let owned = state.partitions.first { $0.kind == .vgpuVF && $0.address == vf.address }
                    let name = unique(owned?.name ?? "vgpu-" + vf.address.split(separator: ":").dropFirst().joined(separator: "-").replacingOccurrences(of: ".", with: "-"))
                    byDevice.append((Hostdev.pci(vf.address, managed: false), name))
                    var fields = "name: \(quote(name)), type: \(quote("\(vf.vgpu!.current)"))"
                    if let uuid = owned?.uuid { fields += ", uuid: \(quote(uuid))" }
                    lines.append("      - {\(fields)}")
                }
                gpus.append(lines.joined(separator: "\n"))
                continue
            }
            let sriovRecords = state.partitions.filter { $0.kind == .sriovVF && $0.gpu == gpu.address }
            if let sriov = gpu.sriov, sriov.numVFs > 0, gpu.vendor != .nvidia || !sriovRecords.isEmpty {
                let base = sriovRecords.first.map { $0.name.split(separator: "-").dropLast().joined(separator: "-") } ?? "vf"
                used.formUnion((0..<sriov.numVFs).map { "\(base)-\($0)" })
                for vf in gpu.vfs { byDevice.append((Hostdev.pci(vf.address, managed: true), "\(base)-\(vf.index)")) }
                gpus.append("  - select: \(select)\n    sriov: {name: \(quote(base)), vfs: \(sriov.numVFs)}")
                continue
            }
            if let passthrough = state.partitions.first(where: { $0.kind == .passthrough && $0.gpu == gpu.address }) {
                let name = unique(passthrough.name)
                byDevice.append((Hostdev.pci(gpu.address, managed: true), name))
                gpus.append("  - select: \(select)\n    passthrough: {name: \(quote(name))}")
            }
        }
        var text = """
        # Exported by forbc from \(inventory.simulated ? "a SIMULATED host" : "the host") (\(inventory.source)).
        # Applying it to the same host plans zero changes: every UUID is pinned.
        apiVersion: forbc/v1
        kind: Host
        metadata: {name: \(quote(host))}
        spec:

        """
        text += gpus.isEmpty ? "  gpus: []\n" : "  gpus:\n" + gpus.joined(separator: "\n") + "\n"
        // Attachments of the exported partitions; other hostdevs of the domains are not forbc's to declare.
        var vms: [String] = []
        for domain in inventory.domains ?? [] {
            var names: [String] = []
            var live = true
            for device in domain.configHostdevs {
                guard let name = byDevice.first(where: { $0.0.sameDevice(device) })?.1 else { continue }
                names.append(name)
                if domain.isActive && !domain.liveHostdevs.contains(where: { $0.sameDevice(device) }) { live = false }
            }
            guard !names.isEmpty else { continue }
            vms.append("    - {domain: \(quote(domain.name)), attach: [\(names.map(quote).joined(separator: ", "))], live: \(domain.isActive && live)}")
        }
        if !vms.isEmpty { text += "  vms:\n" + vms.joined(separator: "\n") + "\n" }
        text += "  prune: managed\n"
        return text
    }

    /// The name each mdev is exported under (the recorded name, or one made from its UUID).
    var exportedMdevs: [String: String] {
        var names: [String: String] = [:]
        for mdev in inventory.mdevs { names[mdev.uuid] = state.owned(uuid: mdev.uuid)?.name ?? "mdev-" + mdev.uuid.prefix(8) }
        return names
    }

    /// A `vgpu` entry per mdev, each under the name it is exported as (recorded in `names` for the `vms`).
    func entry(select: String, mdevs: [MediatedDevice], unique: (String) -> String, names: inout [(Hostdev, String)]) -> String {
        var lines = ["  - select: \(select)", "    vgpu:"]
        for mdev in mdevs {
            let name = unique(exportedMdevs[mdev.uuid]!)
            names.append((Hostdev.mdev(mdev.uuid), name))
            lines.append("      - {name: \(quote(name)), type: \(quote(mdev.type)), uuid: \(quote(mdev.uuid))}")
        }
        return lines.joined(separator: "\n")
    }
}
