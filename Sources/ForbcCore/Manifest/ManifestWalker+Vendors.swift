internal import Yams

/// The `amdPartition` key of a `gpus[]` entry and the `perVF` key of `sriov`.
extension ManifestWalker {
    /// `amdPartition: {name?, compute, memory?}`. A compute mode and a memory mode that the amdgpu driver never
    /// combines (aqua_vanjaram.c, `__aqua_vanjaram_is_valid_mode`) are refused here; what one device offers is
    /// checked at plan time against its `available_*_partition` files.
    mutating func walkAMDPartition(_ node: Node, path: String) -> AMDPartitionSpec? {
        guard let pairs = mapping(node, at: path, allowed: ["name", "compute", "memory"]) else { return nil }
        var name = "xcp"
        var compute: AMDComputeMode?
        var memory: AMDMemoryMode?
        var valid = true
        let computeModes = AMDComputeMode.allCases.map(\.rawValue).joined(separator: ", ")
        let memoryModes = AMDMemoryMode.allCases.map(\.rawValue).joined(separator: ", ")
        for (key, _, value) in pairs {
            switch key {
            case "name": name = checked(partitionName(value, at: "\(path).name"), &valid) ?? name
            case "compute":
                compute = checked(
                    parsed(value, at: "\(path).compute", expected: "it must be one of: \(computeModes)") {
                        AMDComputeMode(rawValue: $0)
                    }, &valid)
            case "memory":
                memory = checked(
                    parsed(value, at: "\(path).memory", expected: "it must be one of: \(memoryModes)") {
                        AMDMemoryMode(rawValue: $0)
                    }, &valid)
            default: break
            }
        }
        requireKey("compute", present: compute != nil, in: pairs, at: path, node, &valid)
        guard valid, let compute else { return nil }
        if let memory, !compute.memoryModes.contains(memory) {
            let allowed = compute.memoryModes.map(\.rawValue).joined(separator: " or ")
            error(
                "'\(path)' combines compute partition mode '\(compute.rawValue)' with memory partition mode "
                    + "'\(memory.rawValue)', which the amdgpu driver refuses (aqua_vanjaram.c: \(compute.rawValue) "
                    + "needs \(allowed)); change one of them",
                node)
            return nil
        }
        spend(1, at: path, node)
        return AMDPartitionSpec(name: name, compute: compute, memory: memory, location: location(node))
    }

    /// What a size looks like: the i915 quotas are bytes.
    static let sizeExpected = "a size is a whole number of bytes, or a number and 'K', 'M' or 'G' ('4G', '512M')"

    /// `perVF: {localMemory?, ggtt?, contexts?, doorbells?, execQuantumMs?, preemptTimeoutUs?}`, at least one.
    mutating func walkProvisioning(_ node: Node, path: String) -> VFProvisioning? {
        let keys = ["localMemory", "ggtt", "contexts", "doorbells", "execQuantumMs", "preemptTimeoutUs"]
        guard let pairs = mapping(node, at: path, allowed: keys) else { return nil }
        var spec = VFProvisioning(location: location(node))
        var valid = true
        for (key, _, value) in pairs {
            let at = "\(path).\(key)"
            switch key {
            case "localMemory": spec.localMemory = checked(size(value, at: at), &valid)
            case "ggtt": spec.ggtt = checked(size(value, at: at), &valid)
            // i915 takes these as u16 (contexts, doorbells) and u32 (the two scheduling settings).
            case "contexts": spec.contexts = checked(integer(value, at: at, range: 1...65535), &valid)
            case "doorbells": spec.doorbells = checked(integer(value, at: at, range: 1...65535), &valid)
            case "execQuantumMs": spec.execQuantumMs = checked(integer(value, at: at, range: 0...100_000), &valid)
            case "preemptTimeoutUs":
                spec.preemptTimeoutUs = checked(integer(value, at: at, range: 0...100_000_000), &valid)
            default: break
            }
        }
        guard valid else { return nil }
        if spec.settings.isEmpty {
            error("'\(path)' is empty; give at least one of: \(keys.joined(separator: ", ")), or leave it out", node)
            return nil
        }
        // A declared quota turns the driver's automatic provisioning off (xe ABI sysfs-driver-intel-xe-sriov: "Any
        // non-zero initial VRAM provisioning will block VFs auto-provisioning"): a VF left without one of the four
        // would have none of it.
        let quotas = [
            ("localMemory", spec.localMemory != nil), ("ggtt", spec.ggtt != nil), ("contexts", spec.contexts != nil),
            ("doorbells", spec.doorbells != nil),
        ]
        if spec.hasQuotas, let missing = quotas.first(where: { !$0.1 }) {
            error(
                "'\(path)' declares VF quotas but not '\(missing.0)'; a declared quota turns the driver's automatic "
                    + "provisioning off, so declare localMemory, ggtt, contexts and doorbells together, or none",
                node)
            return nil
        }
        return spec
    }

    /// A size in bytes: "4G", "512M", "64K" or decimal bytes (an integer or a string).
    mutating func size(_ node: Node, at path: String) -> UInt64? {
        if case .scalar(let scalar) = node, kind(of: scalar) == .integer {
            guard let value = VFProvisioning.bytes(scalar.string) else {
                error("'\(path)' is \(Self.escaped(scalar.string)); \(Self.sizeExpected), at most 1T", node)
                return nil
            }
            return value
        }
        return parsed(node, at: path, expected: Self.sizeExpected + ", at most 1T", VFProvisioning.bytes)
    }
}
