/// Planning of VM attachments, together with the partitions: detach before destroy, attach after create.
extension PlanBuilder {
    /// How a partition appears in a domain: mdevs by UUID; NVIDIA VF vGPUs as PCI with managed='no' (they stay
    /// on the nvidia driver); plain VFs and whole GPUs as PCI with managed='yes'.
    func hostdev(for partition: DesiredPartition) -> Hostdev? {
        switch partition.kind {
        case .mdev: partition.uuid.map { Hostdev.mdev($0) }
        case .vgpuVF: partition.address.map { Hostdev.pci($0, managed: false) }
        case .sriovVF: partition.address.map { Hostdev.pci($0, managed: true) }
        case .passthrough: Hostdev.pci(partition.address ?? partition.gpu, managed: true)
        case .mig, .mps, .amdXCP: nil
        }
    }

    func hostdev(for owned: OwnedPartition) -> Hostdev? {
        switch owned.kind {
        case .mdev: owned.uuid.map { Hostdev.mdev($0) }
        case .vgpuVF: owned.address.map { Hostdev.pci($0, managed: false) }
        case .sriovVF: owned.address.map { Hostdev.pci($0, managed: true) }
        case .passthrough: Hostdev.pci(owned.address ?? owned.gpu, managed: true)
        case .mig, .mps, .amdXCP: nil
        }
    }

    /// The partition name forbc knows a hostdev of `domain` by, or nil when it is not forbc's (left alone).
    func managedName(_ hostdev: Hostdev, on domain: String) -> String? {
        if let recorded = state.attachments.first(where: { $0.domain == domain && $0.hostdev.sameDevice(hostdev) }) {
            return recorded.partition
        }
        if let declared = desired.first(where: { self.hostdev(for: $0)?.sameDevice(hostdev) == true }) {
            return declared.name
        }
        if let owned = state.partitions.first(where: { self.hostdev(for: $0)?.sameDevice(hostdev) == true }) {
            return owned.name
        }
        return nil
    }

    /// Devices this plan makes disappear: destroyed mdevs and vGPUs, and every VF of a PF whose count changes.
    var vanishing: Set<String> {
        var ids: Set<String> = []
        for action in destroyActions {
            if let uuid = action.uuid, action.kind == .mdev { ids.insert(uuid) }
            if let address = action.address, action.kind == .vgpuVF { ids.insert(address) }
        }
        for action in configureActions where action.value == "0" {
            if let gpu = action.gpu.flatMap({ inventory.gpu($0) }) { ids.formUnion(gpu.vfs.map(\.address)) }
        }
        return ids
    }

    /// What one attachment pass knows of the hypervisor.
    private struct AttachContext {
        var domains: [Domain]
        var uri: String
        /// Whether the driver can hot-plug (forbc recorded when it could not).
        var liveOK: Bool
        /// Devices this plan makes disappear (`vanishing`).
        var gone: Set<String>
        /// For `forbc destroy`: every forbc device is detached and nothing attached.
        var detachOnly: Bool
        /// Whether a device this plan destroys may be detached from a running domain (`--force`).
        var force: Bool

        /// How a device in a domain is known in the set of wanted attachments.
        static func key(_ domain: String, _ hostdev: Hostdev) -> String {
            "\(domain)|\(hostdev.kind.rawValue):\(hostdev.id)"
        }
    }

    /// `detachOnly`: for `forbc destroy`, every forbc device is detached and nothing attached.
    mutating func planAttachments(force: Bool, detachOnly: Bool = false) {
        guard !manifest.vms.isEmpty || !state.attachments.isEmpty, let domains = inventory.domains else { return }
        let uri = inventory.hypervisor ?? "libvirt"
        let context = AttachContext(
            domains: domains, uri: uri, liveOK: !state.noLiveAttach.contains(uri),
            gone: vanishing, detachOnly: detachOnly, force: force)
        let wanted = detachOnly ? [] : attachDeclared(context)
        detachUndeclared(context, wanted: wanted)
    }

    /// Attach: the partitions each VM declares, where its domain lacks them; returns the keys of every declared
    /// device (attached already or not).
    private mutating func attachDeclared(_ context: AttachContext) -> Set<String> {
        var wanted: Set<String> = []
        for vm in manifest.vms {
            guard let domain = context.domains.first(where: { $0.name == vm.domain }) else {
                fail(
                    "domain '\(vm.domain)' is not defined on '\(context.uri)'; define it first, or fix the name",
                    vm.location)
                continue
            }
            for (name, location) in zip(vm.attach, vm.attachLocations) {
                guard let partition = desired(named: name) else { continue }
                guard let device = hostdev(for: partition) else {
                    fail(
                        "'\(name)' is a \(partition.kind.rawValue) partition, which is not attached to a VM as a "
                            + "host device",
                        location)
                    continue
                }
                wanted.insert(AttachContext.key(domain.name, device))
                attach(partition, as: device, to: domain, declaredBy: vm, context)
            }
        }
        return wanted
    }

    /// Attach: one declared device, in the scopes (live, persistent) of the VM's domain that lack it.
    private mutating func attach(
        _ partition: DesiredPartition, as device: Hostdev, to domain: Domain,
        declaredBy vm: VMSpec, _ context: AttachContext
    ) {
        let (name, uri) = (partition.name, context.uri)
        // A device this plan recreates is detached first, so it is attached afresh.
        let recreated = context.gone.contains(device.id)
        let inConfig = !recreated && domain.configHostdevs.contains { $0.sameDevice(device) }
        let inLive = !recreated && domain.liveHostdevs.contains { $0.sameDevice(device) }
        let scope = AttachScope(live: vm.live && domain.isActive && context.liveOK && !inLive, config: !inConfig)
        guard scope.live || scope.config else { return }
        var reason = "'\(vm.domain)' declares '\(name)'"
        if !domain.isActive {
            reason += "; '\(vm.domain)' is shut off, so its persistent definition takes it"
        } else if !vm.live {
            reason += "; 'live' is false, so it takes effect at the next start of '\(vm.domain)'"
        } else if !context.liveOK {
            reason +=
                "; the driver of '\(uri)' cannot hot-plug, so it takes effect at the next start of "
                + "'\(vm.domain)'"
        }
        attachActions.append(
            PlannedAction(
                action: .attach, target: name, reason: reason, kind: partition.kind, gpu: partition.gpu,
                uuid: partition.uuid, address: device.kind == .pci ? device.id : partition.address,
                path: "domain '\(vm.domain)' on \(uri) (\(scope))", value: device.xml,
                precondition: .attachment(domain: vm.domain, hostdev: device, scope: scope, present: false),
                domain: vm.domain, hostdev: device, scope: scope,
                attachmentRecords: [OwnedAttachment(domain: vm.domain, partition: name, hostdev: device)]))
    }

    /// Detach: forbc's devices where the manifest does not (or no longer) want them; other hostdevs are left alone.
    private mutating func detachUndeclared(_ context: AttachContext, wanted: Set<String>) {
        for domain in context.domains {
            var seen: [Hostdev] = []
            for device in domain.configHostdevs + domain.liveHostdevs
            where !seen.contains(where: { $0.sameDevice(device) }) {
                seen.append(device)
                let recreated = context.gone.contains(device.id) || context.detachOnly
                guard recreated || !wanted.contains(AttachContext.key(domain.name, device)),
                    let name = managedName(device, on: domain.name)
                else { continue }
                detach(device, named: name, from: domain, recreated: recreated, context)
            }
        }
    }

    /// Detach: one of forbc's devices from the scopes (live, persistent) of the domain that hold it; one this
    /// plan destroys leaves a running domain only with `force`.
    private mutating func detach(
        _ device: Hostdev, named name: String, from domain: Domain, recreated: Bool,
        _ context: AttachContext
    ) {
        let uri = context.uri
        let inLive = domain.isActive && domain.liveHostdevs.contains { $0.sameDevice(device) }
        let inConfig = domain.configHostdevs.contains { $0.sameDevice(device) }
        if recreated && inLive && !context.force {
            fail(
                "'\(name)' is attached to running domain '\(domain.name)' and this plan destroys it; forbc never "
                    + "destroys a partition in use: detach it first, or pass '--force' to detach it live",
                locations[name] ?? manifest.vms.first { $0.domain == domain.name }?.location
                    ?? SourceLocation(file: manifest.file, line: 1, column: 1))
            return
        }
        let scope = AttachScope(live: inLive && context.liveOK, config: inConfig)
        guard scope.live || scope.config else { return }
        var reason = recreated ? "this plan destroys '\(name)'" : "'\(domain.name)' does not declare '\(name)'"
        if recreated && inLive { reason += "; '--force' detaches it from the running domain first" }
        if inLive && !context.liveOK {
            reason += "; the driver of '\(uri)' cannot hot-unplug, so only the persistent definition changes"
        }
        detachActions.append(
            PlannedAction(
                action: .detach, target: name, reason: reason, kind: device.kind == .mdev ? .mdev : .sriovVF,
                uuid: device.kind == .mdev ? device.id : nil, address: device.kind == .pci ? device.id : nil,
                path: "domain '\(domain.name)' on \(uri) (\(scope))", value: device.xml,
                precondition: .attachment(domain: domain.name, hostdev: device, scope: scope, present: true),
                domain: domain.name, hostdev: device, scope: scope,
                attachmentForgets: [OwnedAttachment(domain: domain.name, partition: name, hostdev: device)]))
    }
}
