import Foundation

/// One host as a command sees it: the sysfs channel (real under `--root`, or a simulated host), the
/// hypervisor (libvirt, opened when a manifest needs it), the state dir, and the flow
/// discover → plan → apply over them.
public final class HostSession: @unchecked Sendable {
    public typealias HypervisorFactory = @Sendable (String) throws -> any HypervisorChannel

    public let sysfs: any SysfsChannel
    public let store: StateStore
    /// The simulated kernel, when `--simulate` chose one.
    public let simulation: (any HostSimulation)?
    /// The libvirt URI (for simulated hosts, libvirt's test driver on a file in the state dir).
    public let libvirtURI: String
    private let openHypervisor: HypervisorFactory
    private var openedHypervisor: (any HypervisorChannel)?
    private let lock = NSLock()
    /// NVML: the simulated one of a simulated host, or the real library loaded on first use (with root "/", or
    /// under `--root` when `FORBC_NVML_LIBRARY` names it).
    private let loadNVML: @Sendable () -> Result<any NVMLChannel, ForbcError>
    private var loadedNVML: Result<any NVMLChannel, ForbcError>?
    /// MPS: the simulated daemons of a simulated host, the real control program on the real host ('/'), none
    /// under '--root'.
    public let mps: any MPSChannel
    /// The host lock while `locked` runs.
    private var heldLock: HostLock?

    public static let defaultLibvirtURI = "qemu:///system"

    /// A session over `sysfs`; with `simulation`, over the simulated host (whose sysfs it uses).
    public init(
        sysfs: any SysfsChannel, store: StateStore, simulation: (any HostSimulation)? = nil,
        libvirtURI: String = defaultLibvirtURI, hypervisor: @escaping HypervisorFactory = HostSession.noHypervisor
    ) {
        self.sysfs = simulation?.sysfs ?? sysfs
        self.store = store
        self.simulation = simulation
        self.libvirtURI = libvirtURI
        openHypervisor = hypervisor
        if let simulation {
            mps = simulation.mps(in: store)
        } else if let real = sysfs as? RealSysfs, real.root == "/" {
            mps = RealMPS(directory: store.directory.appendingPathComponent("mps"))
        } else {
            mps = NoMPS(reason: "forbc does not manage MPS for a sysfs under '--root'")
        }
        if let simulation {
            loadNVML = { simulation.nvml() }
        } else if let real = sysfs as? RealSysfs,
            real.root == "/" || !(ProcessInfo.processInfo.environment["FORBC_NVML_LIBRARY"] ?? "").isEmpty
        {
            // Under '--root', only a library named explicitly (the tests' C mock) is consulted.
            loadNVML = { NVMLLibrary.load().map { $0 as any NVMLChannel } }
        } else {
            loadNVML = { .failure(ForbcError(.unsupported, "NVML is not consulted for a sysfs under '--root'")) }
        }
    }

    /// NVML when it is there; a host without it has no MIG capability (not an error).
    public func nvml() -> (any NVMLChannel)? {
        lock.withLock {
            if loadedNVML == nil { loadedNVML = loadNVML() }
            return try? loadedNVML!.get()
        }
    }

    /// Why NVML is not there, for notes.
    public var nvmlAbsence: String? {
        _ = nvml()
        return lock.withLock {
            if case .failure(let error) = loadedNVML { return error.message }
            return nil
        }
    }

    /// For builds and tests without libvirt.
    public static let noHypervisor: HypervisorFactory = { uri in
        throw ForbcError(.unsupported, "no libvirt backend in this program; cannot connect to '\(uri)'")
    }

    /// Opens the real host under `root`; simulated hosts are opened by `ForbcSimulator`'s `SimulatedHost.open`.
    public static func open(
        root: String = "/", stateDir: String? = nil, libvirt: String = defaultLibvirtURI,
        hypervisor: @escaping HypervisorFactory = noHypervisor
    ) -> HostSession {
        let store = StateStore(directory: URL(fileURLWithPath: stateDir ?? "/var/lib/forbc"))
        return HostSession(sysfs: RealSysfs(root: root), store: store, libvirtURI: libvirt, hypervisor: hypervisor)
    }

    /// A sentence for people saying plainly what host this is.
    public var banner: String {
        if let simulation {
            return
                "SIMULATED host '\(simulation.profile)' (\(simulation.provenance)); hypervisor \(libvirtURI); state "
                + "in \(store.directory.path); no real device is touched"
        }
        return sysfs.summary
    }

    /// The libvirt connection, opened on first use.
    public func hypervisor() throws -> any HypervisorChannel {
        try lock.withLock {
            if let openedHypervisor { return openedHypervisor }
            let opened = try openHypervisor(libvirtURI)
            openedHypervisor = opened
            return opened
        }
    }

    var hypervisorIfOpen: (any HypervisorChannel)? { lock.withLock { openedHypervisor } }

    /// Partitions from sysfs; domains from libvirt when `domains` says so; non-GPU PCI functions when named.
    public func discover(domains: Bool = false, named: Set<String> = []) throws -> Inventory {
        var inventory = try Discovery(sysfs: sysfs, nvml: nvml(), namedAddresses: named).inventory()
        inventory.mps = try discoverMPS(inventory)
        return domains ? try addingDomains(to: inventory) : inventory
    }

    /// The MPS daemons of the GPUs whose UUID NVML gives; nil where MPS is not managed.
    func discoverMPS(_ inventory: Inventory) throws -> MPSInventory? {
        guard !(mps is NoMPS) else { return nil }
        var found = MPSInventory()
        for uuid in inventory.gpus.compactMap(\.mig?.uuid) {
            found.pipeDirectories[uuid] = mps.pipeDirectory(gpu: uuid)
            if let daemon = try mps.daemon(gpu: uuid) { found.daemons.append(daemon) }
        }
        return found.pipeDirectories.isEmpty ? nil : found
    }

    /// `inventory` with libvirt's domains (so that discovery that also shows domains reads sysfs once).
    public func addingDomains(to inventory: Inventory) throws -> Inventory {
        var inventory = inventory
        let hypervisor = try hypervisor()
        inventory.domains = try hypervisor.domains().map { try $0.summary() }
        inventory.hypervisor = hypervisor.uri
        return inventory
    }

    /// Whether planning `manifest` needs libvirt: it declares VMs, or forbc attached something before.
    public func needsHypervisor(_ manifest: Manifest) throws -> Bool {
        try needsHypervisor(manifest, state: store.load())
    }

    /// `needsHypervisor` with the recorded state already loaded (a plan loads it once).
    func needsHypervisor(_ manifest: Manifest, state: HostState) -> Bool {
        !manifest.vms.isEmpty || manifest.benchmarks.contains { !$0.vms.isEmpty } || !state.attachments.isEmpty
            // NVML sets a vGPU scheduler only while no VM runs on the GPU: the planner looks at the domains.
            || manifest.gpus.contains { $0.vgpuScheduler != nil }
    }

    /// The PCI addresses forbc recorded partitions on (for discovery of non-GPU functions it manages).
    public func recordedAddresses() throws -> Set<String> {
        Set(try store.load().partitions.map(\.gpu)).filter(Patterns.isPCIAddress)
    }

    /// The PCI addresses a manifest selects, and those forbc recorded partitions on.
    func namedAddresses(_ manifest: Manifest, state: HostState) -> Set<String> {
        var addresses = Set(
            manifest.gpus.compactMap { spec -> String? in
                if case .pciAddress(let address) = spec.select { return address }
                return nil
            })
        addresses.formUnion(Set(state.partitions.map(\.gpu)).filter(Patterns.isPCIAddress))
        return addresses
    }

    /// The inventory the last plan was made from (the benchmark runner records its provenance from it).
    public private(set) var lastInventory: Inventory?

    /// The plan of `manifest` on this host (the recorded state is read once).
    public func plan(_ manifest: Manifest, force: Bool = false) throws -> Plan {
        let state = try store.load()
        let inventory = try discover(
            domains: needsHypervisor(manifest, state: state), named: namedAddresses(manifest, state: state))
        lastInventory = inventory
        return try Planner(manifest: manifest, inventory: inventory, state: state, force: force).plan()
    }

    /// The plan of `manifest`'s partitions alone, libvirt not consulted (`apply --partitions-only`: at boot,
    /// before libvirtd starts and autostarts domains): no attach or detach, and no destruction, since without
    /// libvirt forbc cannot tell which partitions a running domain holds.
    public func partitionsPlan(_ manifest: Manifest, force: Bool = false) throws -> Plan {
        var partitions = manifest
        partitions.vms = []
        partitions.benchmarks = []
        let state = try store.load()
        let inventory = try discover(domains: false, named: namedAddresses(partitions, state: state))
        lastInventory = inventory
        let plan = try Planner(manifest: partitions, inventory: inventory, state: state, force: force).plan()
        let destroys = plan.destroys.map { "'\($0.target)'" }
        guard destroys.isEmpty else {
            throw ForbcError(
                .impossible,
                "'--partitions-only' does not consult libvirt, so it never destroys or reconfigures partitions that "
                    + "a domain may hold, and this plan would (\(destroys.joined(separator: ", "))); nothing "
                    + "changed: run 'forbc apply' without it once libvirtd is up")
        }
        return plan
    }

    public func destroyPlan(_ manifest: Manifest, force: Bool = false) throws -> Plan {
        let state = try store.load()
        return try Planner(
            manifest: manifest,
            inventory: discover(
                domains: needsHypervisor(manifest, state: state), named: namedAddresses(manifest, state: state)),
            state: state, force: force
        ).destroyPlan()
    }

    /// The lock every forbc changing this machine's own sysfs takes besides its state dir's: two state dirs
    /// (a unit's and a person's `--state-dir`) are still one kernel. A `--root` tree or a simulated host is the
    /// state dir's alone. It lives in a folder only root may write (/run is 0755): in a world-writable one
    /// (/run/lock) another user could create or hold the file and lock root out.
    public static let machineLockFolder = "/run/forbc"
    public static var machineLockURL: URL { URL(fileURLWithPath: machineLockFolder + "/apply.lock") }

    /// Whether this session changes the machine forbc runs on (real sysfs at "/").
    public var isThisHost: Bool { simulation == nil && (sysfs as? RealSysfs)?.root == "/" }

    /// Runs `body` holding the host lock: taken before discovery and held through plan and apply, so what a
    /// command plans is what it applies and two commands never interleave. A simulated host is re-read once the
    /// lock is held and saved before it is released; a failure to save it is an error, not a note. Re-entrant.
    public func locked<T>(_ body: () throws -> T) throws -> T {
        if lock.withLock({ heldLock != nil }) { return try body() }
        try store.ensureDirectory()
        let hostLock = try HostLock.acquire(at: store.lockURL)
        defer { hostLock.release() }
        let machineLock = try isThisHost ? HostLock.acquireMachine(in: Self.machineLockFolder) : nil
        defer { machineLock?.release() }
        lock.withLock { heldLock = hostLock }
        defer { lock.withLock { heldLock = nil } }
        store.removeStaleTemporaries()
        try simulation?.reload(from: store)
        let result: T
        do {
            result = try body()
        } catch {
            try? persist()
            throw error
        }
        try persist()
        return result
    }

    /// Applies a plan under the host lock (taken here unless the caller holds it); `stop` is asked before each
    /// step (`Applier.stopRequested`).
    public func apply(
        _ plan: Plan, force: Bool = false, resetGPU: Bool = false, stop: (@Sendable () -> String?)? = nil
    ) throws -> Applier.Report {
        try locked {
            let changesDomains = plan.actions.contains { $0.domain != nil }
            var applier = Applier(
                sysfs: sysfs, hypervisor: changesDomains ? try hypervisor() : hypervisorIfOpen, nvml: nvml(),
                store: store, mps: mps)
            applier.force = force
            applier.resetGPU = resetGPU
            applier.stopRequested = stop
            return try applier.apply(plan)
        }
    }

    /// Saves the simulated host, and the test driver's domains, so the next command sees them.
    public func persist() throws {
        try simulation?.persist(into: store, hypervisor: hypervisorIfOpen)
    }
}
