import ForbcCore

extension Render {
    /// AMD partition modes (with the KFD processes that hold the GPU) and Intel VF provisioning, for `discover`.
    static func vendorLines(_ gpu: GPU) -> [String] {
        var lines: [String] = []
        if let amd = gpu.amdPartition {
            var line =
                "  AMD partitions: compute \(amd.compute) (offers \(amd.availableCompute.joined(separator: ", ")))"
            if let memory = amd.memory {
                line += ", memory \(memory) (offers \(amd.availableMemory.joined(separator: ", ")))"
            }
            if let partitions = amd.partitions { line += ", \(partitions) partition(s)" }
            if !amd.kfdNodes.isEmpty { line += ", \(amd.kfdNodes.count) KFD node(s)" }
            if !amd.kfdProcesses.isEmpty {
                line += "; in use by KFD process(es) \(amd.kfdProcesses.map(String.init).joined(separator: ", "))"
            }
            lines.append(line)
        }
        if let iov = gpu.iov {
            let offered = VFProvisioning.quotaAttributes.sorted().compactMap { quota in
                iov.available[quota].map { "\(quota.replacingOccurrences(of: "_quota", with: "")) \($0)" }
            }
            lines.append(
                "  SR-IOV provisioning: \(iov.root) (\(iov.gts.joined(separator: ", "))); offers "
                    + offered.joined(separator: ", "))
            let enabled = gpu.sriov?.numVFs ?? 0
            for vf in 1...max(enabled, 1) where enabled > 0 {
                let settings = Discovery.iovAttributes.compactMap { attribute in
                    iov.setting(vf: vf, attribute).map { "\(attribute) \($0)" }
                }
                lines.append("    vf\(vf): \(settings.joined(separator: ", "))")
            }
        }
        return lines
    }
}
