import ForbcCore
import Foundation

/// Text and JSON renderings of forbc's values; the core has none.
enum Render {
    static let jsonOptions: JSONSerialization.WritingOptions = [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes]

    /// `object` as JSON; a number that is not finite (a ratio to a zero baseline) is null, as JSON has no NaN.
    static func json(_ object: Any) throws -> String {
        do {
            return String(
                decoding: try JSONSerialization.data(withJSONObject: finite(object), options: jsonOptions),
                as: UTF8.self)
        } catch {
            throw ForbcError(.system, "forbc could not write its output as JSON: \(error)", cause: error)
        }
    }

    static func json<T: Encodable>(encodable value: T) throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes]
        do {
            return String(decoding: try encoder.encode(value), as: UTF8.self)
        } catch EncodingError.invalidValue {
            // A number that is not finite (a ratio to a zero baseline): encoded again with a marker for such
            // numbers, which become null.
            encoder.nonConformingFloatEncodingStrategy = .convertToString(
                positiveInfinity: nonFinite, negativeInfinity: nonFinite, nan: nonFinite)
            let marked = try JSONSerialization.jsonObject(with: try encoder.encode(value), options: .fragmentsAllowed)
            return try json(marked)
        } catch {
            throw ForbcError(.system, "forbc could not write its output as JSON: \(error)", cause: error)
        }
    }

    /// What a number that is not finite is encoded as before it becomes null (no value forbc writes holds it).
    static let nonFinite = "\u{1}forbc: not a finite number\u{1}"

    /// `object` with every number that is not finite, and every `nonFinite` marker, made null.
    static func finite(_ object: Any) -> Any {
        switch object {
        case let number as Double where !number.isFinite: return NSNull()
        case let number as Float where !number.isFinite: return NSNull()
        case let text as String where text == nonFinite: return NSNull()
        case let array as [Any]: return array.map(finite)
        case let dictionary as [String: Any]: return dictionary.mapValues(finite)
        default: return object
        }
    }

    // MARK: Actions

    static func dictionary(_ action: PlannedAction) -> [String: Any] {
        var object: [String: Any] = [
            "action": action.action.rawValue, "target": action.target, "reason": action.reason,
            "kind": action.kind.rawValue, "path": action.path, "value": action.value,
        ]
        let optional: [(String, String?)] = [
            ("gpu", action.gpu), ("parent", action.parent), ("type", action.type),
            ("typeName", action.typeName), ("uuid", action.uuid), ("address", action.address),
            ("domain", action.domain),
        ]
        for (key, value) in optional { if let value { object[key] = value } }
        if action.disrupts { object["disrupts"] = true }
        if let scope = action.scope {
            object["live"] = scope.live
            object["config"] = scope.config
        }
        return object
    }

    static func dictionary(_ partition: DesiredPartition) -> [String: Any] {
        var object: [String: Any] = ["name": partition.name, "kind": partition.kind.rawValue, "gpu": partition.gpu]
        let optional: [(String, String?)] = [
            ("uuid", partition.uuid), ("type", partition.type), ("typeName", partition.typeName),
            ("address", partition.address), ("parent", partition.parent), ("access", partition.access),
        ]
        for (key, value) in optional { if let value { object[key] = value } }
        if let placement = partition.placement { object["placement"] = placement }
        return object
    }

    static let symbols: [PlannedAction.Verb: String] = [
        .create: "+", .destroy: "-", .configure: "~", .attach: ">", .detach: "<", .relabel: "=",
    ]

    static func what(_ action: PlannedAction) -> String {
        if let domain = action.domain, let device = action.hostdev {
            let direction = action.action == .attach ? "to" : "from"
            return "\(device) \(direction) domain '\(domain)' (\(action.scope?.description ?? ""))"
        }
        let type =
            action.typeName.map { "\($0.replacingOccurrences(of: "NVIDIA ", with: "")) (\(action.type ?? ""))" }
            ?? action.type ?? ""
        switch action.kind {
        case .mdev: return "mdev \(type) on \(action.parent ?? "?"), uuid \(action.uuid ?? "?")"
        case .vgpuVF: return "vGPU \(type) on VF \(action.address ?? "?")"
        case .sriovVF where !action.path.hasSuffix("/sriov_numvfs"), .amdXCP:
            return "\(action.path) to \(action.value)"
        case .sriovVF, .passthrough: return "sriov_numvfs of \(action.gpu ?? "?") to \(action.value)"
        case .mps: return "MPS control daemon of \(action.uuid ?? "?") on \(action.gpu ?? "?"): \(action.value)"
        case .mig:
            if action.action == .configure {
                return "MIG mode of \(action.gpu ?? "?") to \(action.value == "1" ? "enabled" : "disabled")"
            }
            let slot = action.value.split(separator: "@").last.map(String.init) ?? "?"
            return
                "MIG instance \(action.typeName ?? type) at slot \(slot) of "
                + "\(action.gpu ?? "?")\(action.uuid.map { " (\($0))" } ?? "")"
        }
    }

    static func line(_ action: PlannedAction, verbose: Bool) -> String {
        let verb = action.action.rawValue.padding(toLength: 9, withPad: " ", startingAt: 0)
        var text = "  \(symbols[action.action] ?? "*") \(verb) '\(action.target)': \(what(action)); \(action.reason)"
        if verbose { text += "\n        write '\(action.value)' to \(action.path)" }
        return text
    }

    static func summary(_ plan: Plan) -> String {
        let count = { (verb: PlannedAction.Verb) in plan.actions.filter { $0.action == verb }.count }
        var text = "\(count(.create)) to create, \(count(.destroy)) to destroy, \(count(.configure)) to configure"
        if count(.attach) + count(.detach) > 0 { text += ", \(count(.attach)) to attach, \(count(.detach)) to detach" }
        if count(.relabel) > 0 { text += ", \(count(.relabel)) to relabel" }
        let disruptive = plan.actions.filter { $0.action == .configure && $0.disrupts }.count
        if disruptive > 0 {
            text += " (\(disruptive) configure step\(disruptive == 1 ? "" : "s") remove partitions or reload a driver)"
        }
        return text
    }

    /// The plan's statement, its actions, then where the manifest came from (when it sits in a git work tree).
    static func planText(_ plan: Plan, manifest: Manifest, verbose: Bool) -> String {
        let source = (plan.source.map { [sourceLine($0)] } ?? []) + plan.notes.map { "Note: \($0)." }
        if plan.isEmpty {
            let none =
                "No changes: host '\(plan.host)'\(plan.simulated ? " (simulated)" : "") matches \(manifest.file)."
            return ([none] + source).joined(separator: "\n")
        }
        var lines = ["Plan for host '\(plan.host)'\(plan.simulated ? " (simulated)" : ""): \(summary(plan))."]
        lines += plan.actions.map { line($0, verbose: verbose) }
        return (lines + source).joined(separator: "\n")
    }

    static func planJSON(_ plan: Plan, manifest: Manifest) throws -> String {
        var object: [String: Any] = [
            "host": plan.host, "simulated": plan.simulated, "manifest": manifest.file, "prune": plan.prune.rawValue,
            "actions": plan.actions.map(dictionary), "partitions": plan.partitions.map(dictionary),
        ]
        if let source = plan.source { object["source"] = dictionary(source) }
        if !plan.notes.isEmpty { object["notes"] = plan.notes }
        return try json(object)
    }

    /// The manifest's git provenance in one line.
    static func sourceLine(_ source: ManifestSource) -> String { "Source: \(source.summary)" }

    /// The provenance as JSON: repository, commit (null before the first), path, dirty.
    static func dictionary(_ source: ManifestSource) -> [String: Any] {
        [
            "repository": source.repository, "commit": source.commit.map { $0 as Any } ?? NSNull(),
            "path": source.path, "dirty": source.dirty,
        ]
    }

    // MARK: Inventory

    static func inventoryText(_ inventory: Inventory) -> String {
        var lines = [inventory.simulated ? "Host: SIMULATED (\(inventory.source))" : "Host: \(inventory.source)"]
        if inventory.gpus.isEmpty && inventory.mdevParents.isEmpty {
            lines.append("No NVIDIA, AMD or Intel GPU and no mdev parent found.")
        }
        for (index, gpu) in inventory.gpus.enumerated() { lines += gpuLines(gpu, index: index, inventory) }
        lines += domainLines(inventory)
        lines += nonPCIParentLines(inventory)
        return lines.joined(separator: "\n")
    }

    /// One GPU: its identity, mdev types (its own, and summed over its VFs), SR-IOV, vGPU on VFs, MIG, its mdevs.
    static func gpuLines(_ gpu: GPU, index: Int, _ inventory: Inventory) -> [String] {
        var head = "GPU \(index)  \(gpu.address)  \(gpu.model)"
        head += "  [\(gpu.vendorID.dropFirst(2)):\(gpu.deviceID.dropFirst(2))]"
        head += "  driver \(gpu.driver ?? "none")  NUMA \(gpu.numaNode.map(String.init) ?? "n/a")"
        head += "  IOMMU group \(gpu.iommuGroup.map(String.init) ?? "n/a")"
        var lines = [head]
        let parents = inventory.mdevParents.filter { $0.gpu == gpu.address }
        lines += mdevTypeLines(parents)
        if let sriov = gpu.sriov { lines.append("  SR-IOV: \(sriov.numVFs) of \(sriov.totalVFs) VFs enabled") }
        let vgpuVFs = gpu.vfs.filter { $0.vgpu != nil }
        lines += vgpuOnVFLines(vgpuVFs)
        if let mig = gpu.mig { lines += migLines(mig) }
        if let uuid = gpu.mig?.uuid, let daemon = inventory.mpsDaemon(uuid) {
            lines.append(
                "  MPS: control daemon\(daemon.pid.map { " pid \($0)" } ?? ""), \(daemon.settings), pipe directory "
                    + daemon.pipeDirectory)
        }
        lines += vendorLines(gpu)
        if parents.isEmpty && vgpuVFs.isEmpty && gpu.sriov == nil && (gpu.mig?.profiles.isEmpty ?? true)
            && gpu.amdPartition == nil
        {
            lines.append("  no partitioning capability (no mdev types, no SR-IOV, no vGPU on VFs, no MIG)")
        }
        let names = Set(parents.map(\.name))
        let mdevs = inventory.mdevs.filter { names.contains($0.parent) }
        if !mdevs.isEmpty {
            lines.append("  mdevs (\(mdevs.count)):")
            for mdev in mdevs { lines.append("    \(mdev.uuid)  \(mdev.type)  on \(mdev.parent)") }
        }
        return lines
    }

    /// A GPU's mdev types: those of the GPU itself, then those of its VFs with free instances summed over the VFs.
    static func mdevTypeLines(_ parents: [MdevParent]) -> [String] {
        var lines: [String] = []
        if let own = parents.first(where: { !$0.isVF }) {
            lines.append("  mdev types on the GPU (\(own.types.count)):")
            lines += typeLines(own.types)
        }
        let vfParents = parents.filter(\.isVF)
        if let first = vfParents.first {
            lines.append(
                "  mdev types on its \(vfParents.count) VFs (one vGPU per VF), "
                    + "free instances summed over VFs:")
            var summed = first.types
            for i in summed.indices {
                summed[i].availableInstances = vfParents.reduce(0) {
                    $0 + ($1.types.first { $0.id == summed[i].id }?.availableInstances ?? 0)
                }
            }
            lines += typeLines(summed)
        }
        return lines
    }

    /// NVIDIA vGPU on VFs: how many VFs, how many in use, the types creatable now, and the type of each VF in use.
    static func vgpuOnVFLines(_ vgpuVFs: [VirtualFunction]) -> [String] {
        guard !vgpuVFs.isEmpty else { return [] }
        let used = vgpuVFs.filter { $0.vgpu!.current != 0 }
        var creatable: [VGPUType] = []
        for vf in vgpuVFs { for type in vf.vgpu!.creatable where !creatable.contains(type) { creatable.append(type) } }
        let names = creatable.map { "\($0.name.replacingOccurrences(of: "NVIDIA ", with: "")) (\($0.id))" }
        var lines = [
            "  NVIDIA vGPU on VFs: \(vgpuVFs.count) VFs, \(used.count) in use; creatable now: "
                + (creatable.isEmpty ? "none" : names.joined(separator: ", "))
        ]
        for vf in used { lines.append("    VF \(vf.address): vGPU type \(vf.vgpu!.current)") }
        return lines
    }

    /// MIG: the mode, each profile with its placements, each instance.
    static func migLines(_ mig: MIGState) -> [String] {
        let mode = { (enabled: Bool) in enabled ? "enabled" : "disabled" }
        var lines = [
            "  MIG: mode \(mode(mig.currentMode)) (pending \(mode(mig.pendingMode))), \(mig.uuid), "
                + "\(mig.processes) compute process(es)"
        ]
        for profile in mig.profiles {
            let starts = profile.placements.map { "\($0.start)" }.joined(separator: ",")
            lines.append(
                "    \(profile.name.padding(toLength: 12, withPad: " ", startingAt: 0)) id \(profile.id), "
                    + "\(profile.slices) slice(s), \(profile.instances) instance(s), \(profile.memoryMiB) MiB, "
                    + "\(profile.multiprocessors) SMs, placements {\(starts)}:\(profile.placements.first?.size ?? 0)")
        }
        for instance in mig.instances {
            let name = mig.profile(id: instance.profileID)?.name ?? "profile \(instance.profileID)"
            let processes = instance.processes > 0 ? "  (\(instance.processes) processes)" : ""
            lines.append(
                "    instance \(instance.id): \(name) at \(instance.placement)  "
                    + "\(instance.uuids.joined(separator: " "))\(processes)")
        }
        return lines
    }

    /// mdev parents that are not PCI GPUs (mtty, say), with their types and mdevs.
    static func nonPCIParentLines(_ inventory: Inventory) -> [String] {
        var lines: [String] = []
        for parent in inventory.mdevParents where parent.gpu == nil {
            lines.append("mdev parent '\(parent.name)' (not a PCI GPU)")
            lines += typeLines(parent.types)
            let mdevs = inventory.mdevs.filter { $0.parent == parent.name }
            if !mdevs.isEmpty {
                lines.append("  mdevs (\(mdevs.count)):")
                for mdev in mdevs { lines.append("    \(mdev.uuid)  \(mdev.type)") }
            }
        }
        return lines
    }

    static func domainLines(_ inventory: Inventory) -> [String] {
        guard let domains = inventory.domains else { return [] }
        var lines = ["Domains on \(inventory.hypervisor ?? "libvirt") (\(domains.count)):"]
        for domain in domains {
            lines.append("  \(domain.name)  \(domain.state.rawValue)  \(domain.uuid)")
            var devices: [Hostdev] = []
            for device in domain.configHostdevs + domain.liveHostdevs
            where !devices.contains(where: { $0.sameDevice(device) }) { devices.append(device) }
            for device in devices {
                let live = domain.liveHostdevs.contains { $0.sameDevice(device) }
                let config = domain.configHostdevs.contains { $0.sameDevice(device) }
                lines.append(
                    "    hostdev \(device)\(device.kind == .pci ? " managed=\(device.managed ? "yes" : "no")" : "") "
                        + " \(live && config ? "live and persistent" : live ? "live only" : "persistent only")"
                )
            }
        }
        return lines
    }

    static func typeLines(_ types: [MdevType]) -> [String] {
        types.map { type in
            var text =
                "    \(type.id.padding(toLength: 16, withPad: " ", startingAt: 0)) "
                + "\(type.name.padding(toLength: 22, withPad: " ", startingAt: 0)) available "
                + "\(type.availableInstances)"
            if let max = type.maxInstances { text += ", max \(max)" }
            if let fb = type.framebufferMiB { text += ", framebuffer \(fb) MiB" }
            return text + ", \(type.deviceAPI)"
        }
    }

    // MARK: Apply reports

    static func reportText(_ report: Applier.Report, total: Int) -> String {
        var lines: [String] = []
        if let failed = report.failed {
            lines.append("Apply stopped at step \(report.done.count + report.alreadyDone.count + 1) of \(total).")
            lines.append("done (\(report.done.count + report.alreadyDone.count)):")
            lines += (report.done + report.alreadyDone).map { line($0, verbose: false) }
            lines.append("failed:")
            lines.append(line(failed.action, verbose: false))
            lines.append("      \(failed.error.message)")
            lines.append("not attempted (\(report.notAttempted.count)):")
            lines += report.notAttempted.map { line($0, verbose: false) }
            lines.append(
                "Nothing outside the plan was touched; fix the cause and run apply again: it continues from here.")
        } else if let stopped = report.stopped {
            let done = report.done.count + report.alreadyDone.count
            lines.append("Apply stopped by \(stopped) after step \(done) of \(total) (each step begun was finished).")
            lines.append("done (\(done)):")
            lines += (report.done + report.alreadyDone).map { line($0, verbose: false) }
            lines.append("not attempted (\(report.notAttempted.count)):")
            lines += report.notAttempted.map { line($0, verbose: false) }
            lines.append("Run apply again: it continues from here.")
        } else {
            var text = "Apply complete: \(report.done.count) change\(report.done.count == 1 ? "" : "s") made"
            if !report.alreadyDone.isEmpty { text += ", \(report.alreadyDone.count) already held" }
            lines.append(text + ".")
        }
        return lines.joined(separator: "\n")
    }

    static func reportJSON(_ report: Applier.Report, plan: Plan) throws -> String {
        var object: [String: Any] = [
            "host": plan.host, "simulated": plan.simulated, "succeeded": report.succeeded,
            "done": report.done.map(dictionary), "alreadyDone": report.alreadyDone.map(dictionary),
            "notAttempted": report.notAttempted.map(dictionary),
        ]
        if let source = plan.source { object["source"] = dictionary(source) }
        if let stopped = report.stopped { object["stopped"] = stopped }
        if let failed = report.failed {
            var failure = dictionary(failed.action)
            failure["error"] = failed.error.message
            if let path = failed.error.path { failure["errorPath"] = path }
            if let code = failed.error.errno {
                failure["errno"] = Int(code)
                failure["errnoName"] = Errno.name(code)
            }
            object["failed"] = failure
        }
        return try json(object)
    }
}
