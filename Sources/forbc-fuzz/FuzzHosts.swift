import ForbcCore
import ForbcSimulator
import Foundation

/// One simulated host the fuzz target plans against: discovered once, then planned against for every input.
/// A "converged" host has had its profile's manifest (Manifests/PROFILE.yaml, without `vms`) applied, so plans
/// against it reach the keep, prune and destroy steps; a "fresh" host has no partition.
final class FuzzHost: @unchecked Sendable {
    let label: String
    let kernel: SimulatedKernel
    let state: HostState
    /// PCI functions that are not display devices: discovery reads them only when a manifest names them.
    let otherFunctions: Set<String>
    private var inventories: [Set<String>: Inventory] = [:]
    private let lock = NSLock()

    init(label: String, kernel: SimulatedKernel, state: HostState) throws {
        self.label = label
        self.kernel = kernel
        self.state = state
        var others: Set<String> = []
        for address in try kernel.list(SysPath.pciDevices) where Patterns.isPCIAddress(address) {
            let classCode = try? kernel.read(SysPath.pci(address, "class"))
            if classCode?.hasPrefix("0x03") != true { others.insert(address) }
        }
        otherFunctions = others
        _ = try inventory(named: [])
    }

    /// The inventory discovery gives for a manifest naming `addresses` (cached: the host never changes).
    func inventory(named addresses: Set<String>) throws -> Inventory {
        let named = addresses.intersection(otherFunctions)
        if let cached = lock.withLock({ inventories[named] }) { return cached }
        let nvml = try? kernel.nvml().get()
        var inventory = try Discovery(sysfs: kernel, nvml: nvml, namedAddresses: named).inventory()
        inventory.domains = FuzzHosts.domains
        inventory.hypervisor = "test:///fuzz"
        lock.withLock { inventories[named] = inventory }
        return inventory
    }
}

/// The hosts of every simulated profile, fresh and converged, built on first use.
enum FuzzHosts {
    /// libvirt's test driver's initial domains (one running, two shut off), without libvirt.
    static let domains: [Domain] = SimulatedDomains.initial.compactMap { domain in
        let xml = "<domain type='test'><name>\(domain.name)</name><devices></devices></domain>"
        // Well-formed XML: its summary does not fail.
        return try? DomainDefinition(
            name: domain.name, uuid: UUIDv5.partition(host: "fuzz", name: domain.name),
            state: domain.running ? .running : .shutoff, persistent: true, liveXML: xml, persistentXML: xml
        ).summary()
    }

    /// The repository's Manifests/ folder (this file is Sources/forbc-fuzz/FuzzHosts.swift).
    static let manifests = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("Manifests")

    static let all: [FuzzHost] = SimulatedProfiles.names.flatMap { profile -> [FuzzHost] in
        guard let model = SimulatedProfiles.make(profile) else { return [] }
        var hosts: [FuzzHost] = []
        if let fresh = try? FuzzHost(
            label: "\(profile)/fresh", kernel: SimulatedKernel(model: model), state: HostState())
        {
            hosts.append(fresh)
        }
        if let converged = converged(profile, model: model) { hosts.append(converged) }
        return hosts
    }

    /// The profile's host after applying Manifests/PROFILE.yaml without its `vms`; nil when there is none.
    static func converged(_ profile: String, model: SimulatedHostModel) -> FuzzHost? {
        let path = manifests.appendingPathComponent("\(profile).yaml").path
        guard var manifest = try? ManifestParser.parse(contentsOf: path) else { return nil }
        manifest.vms = []
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent(
            "forbc-fuzz-\(profile)-\(UUID().uuidString.prefix(8))")
        defer { try? FileManager.default.removeItem(at: directory) }
        let kernel = SimulatedKernel(model: model)
        let session = HostSession(sysfs: kernel, store: StateStore(directory: directory), simulation: kernel)
        do {
            _ = try session.apply(try session.plan(manifest))
            return try FuzzHost(label: "\(profile)/converged", kernel: kernel, state: try session.store.load())
        } catch {
            return nil
        }
    }
}
