import Foundation

/// One host as a command sees it: the sysfs channel (real under `--root`, or a simulated host), the state dir,
/// and the flow discover → plan → apply over them.
public final class HostSession: @unchecked Sendable {
    public let sysfs: any SysfsChannel
    public let store: StateStore
    /// The simulated kernel, when `--simulate` chose one.
    public let simulation: SimulatedKernel?

    public init(sysfs: any SysfsChannel, store: StateStore, simulation: SimulatedKernel? = nil) {
        self.sysfs = sysfs
        self.store = store
        self.simulation = simulation
    }

    /// Opens a real host under `root`, or the simulated host `simulate` whose state lives in the state dir.
    public static func open(root: String = "/", simulate: String? = nil, stateDir: String? = nil,
                            environment: [String: String] = ProcessInfo.processInfo.environment) throws -> HostSession {
        guard let profile = simulate else {
            let store = StateStore(directory: URL(fileURLWithPath: stateDir ?? "/var/lib/forbc"))
            return HostSession(sysfs: RealSysfs(root: root), store: store)
        }
        guard root == "/" else {
            throw ForbcError(.invalidInput, "'--root' and '--simulate' exclude each other; a simulated host has no root directory")
        }
        guard let fresh = SimulatedProfiles.make(profile) else {
            throw ForbcError(.invalidInput, "unknown simulated host '\(profile)'; choose one of: \(SimulatedProfiles.names.joined(separator: ", "))")
        }
        let store = StateStore(directory: URL(fileURLWithPath: stateDir ?? defaultSimulationDir(profile, environment)))
        let kernel: SimulatedKernel
        if FileManager.default.fileExists(atPath: store.simulatedKernelURL.path) {
            do {
                kernel = try SimulatedKernel.load(from: store.simulatedKernelURL)
            } catch {
                throw ForbcError(.system, "reading the simulated host \(store.simulatedKernelURL.path) failed: \(error); delete it to start afresh")
            }
            guard kernel.model.profile == profile else {
                throw ForbcError(.invalidInput, "the state dir \(store.directory.path) holds simulated host '\(kernel.model.profile)', not '\(profile)'; pass another '--state-dir'")
            }
        } else {
            kernel = SimulatedKernel(model: fresh)
        }
        return HostSession(sysfs: kernel, store: store, simulation: kernel)
    }

    static func defaultSimulationDir(_ profile: String, _ environment: [String: String]) -> String {
        let base = environment["XDG_STATE_HOME"].flatMap { $0.isEmpty ? nil : $0 }
            ?? ((environment["HOME"] ?? NSHomeDirectory()) + "/.local/state")
        return base + "/forbc/simulate/\(profile)"
    }

    /// A sentence for people saying plainly what host this is.
    public var banner: String {
        if let simulation {
            return "SIMULATED host '\(simulation.model.profile)' (\(simulation.model.provenance)); state in \(store.directory.path); no real device is touched"
        }
        return sysfs.summary
    }

    public func discover() throws -> Inventory { try Discovery(sysfs: sysfs).inventory() }

    public func plan(_ manifest: Manifest) throws -> Plan {
        try Planner(manifest: manifest, inventory: discover(), state: store.load()).plan()
    }

    /// Applies a plan under the host lock, saving the simulated host whatever happens.
    public func apply(_ plan: Plan) throws -> Applier.Report {
        try store.ensureDirectory()
        let lock = try HostLock.acquire(at: store.lockURL)
        defer { lock.release() }
        defer { try? persist() }
        return try Applier(sysfs: sysfs, store: store).apply(plan)
    }

    /// Saves the simulated kernel's state so the next command sees it.
    public func persist() throws {
        guard let simulation else { return }
        try store.ensureDirectory()
        try simulation.save(to: store.simulatedKernelURL)
    }
}
