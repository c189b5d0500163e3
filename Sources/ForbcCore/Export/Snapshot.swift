internal import Yams

extension Exporter {
    /// The export with the MIG mode of every MIG-capable GPU it has no entry for stated (`migMode`): an export
    /// leaves a GPU without partitions out, so applying it would not undo a MIG mode that changed since. What
    /// `forbc bench campaign` applies at its end to put the host back as it was.
    public func snapshot(hostName: String? = nil) throws -> String {
        let host = hostName ?? state.host ?? "exported-host"
        var builder = ExportBuilder(inventory: inventory, state: state, host: host)
        var entries = builder.gpuEntries()
        var stated = ExportBuilder(inventory: inventory, state: state, host: host)
        for gpu in inventory.gpus where stated.gpuEntry(gpu) == nil {
            guard let mig = gpu.mig else { continue }
            entries.append(
                ExportNode.block([
                    ("select", ExportNode.flow([("pciAddress", ExportNode.string(gpu.address))])),
                    ("migMode", ExportNode.string(mig.currentMode ? "enabled" : "disabled")),
                ]))
        }
        var spec = [("gpus", ExportNode.list(entries, flow: false))]
        let vms = builder.vmEntries()
        if !vms.isEmpty { spec.append(("vms", ExportNode.list(vms, flow: false))) }
        spec.append(("prune", ExportNode.string(PrunePolicy.managed.rawValue)))
        let document = ExportNode.block([
            ("apiVersion", ExportNode.string(Manifest.apiVersion)),
            ("kind", ExportNode.string("Host")),
            ("metadata", ExportNode.flow([("name", ExportNode.string(host))])),
            ("spec", ExportNode.block(spec)),
        ])
        let origin = inventory.simulated ? "a SIMULATED host" : "the host"
        return "# Snapshot of \(origin) taken by forbc (an export, with each MIG-capable GPU's MIG mode).\n"
            + (try ExportNode.yaml(document))
    }
}
