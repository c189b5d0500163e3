import ForbcCore
import Foundation

/// Opens a simulated host as a command does: its kernel and NVML from the state dir (or fresh from its profile),
/// and libvirt's test driver on a node XML the state dir keeps.
public enum SimulatedHost {
    /// `FORBC_SIMULATE_KILL_AFTER_WRITES=N`: the command dies by SIGKILL right after its N-th write to the
    /// simulated kernel (for crash-safety tests; a simulated host only).
    public static let killVariable = "FORBC_SIMULATE_KILL_AFTER_WRITES"

    /// A session over the simulated host `profile`, whose state lives in `stateDir` (default: under
    /// `$XDG_STATE_HOME`, or `~/.local/state`, `forbc/simulate/PROFILE`).
    public static func open(
        profile: String, stateDir: String? = nil, libvirt: String = HostSession.defaultLibvirtURI,
        hypervisor: @escaping HostSession.HypervisorFactory = HostSession.noHypervisor,
        environment: [String: String] = ProcessInfo.processInfo.environment
    ) throws -> HostSession {
        guard let fresh = SimulatedProfiles.make(profile) else {
            let names = SimulatedProfiles.names.joined(separator: ", ")
            throw ForbcError(.invalidInput, "unknown simulated host '\(profile)'; choose one of: \(names)")
        }
        let directory = URL(fileURLWithPath: stateDir ?? defaultDirectory(profile, environment)).standardizedFileURL
        let store = StateStore(directory: directory)
        let kernel = try loadKernel(store, profile: profile, base: fresh)
        if let count = environment[killVariable].flatMap(Int.init), count > 0 { kernel.killAfterWrites(count) }
        var uri = libvirt
        if libvirt == HostSession.defaultLibvirtURI {
            // A simulated host's hypervisor is libvirt's test driver on a file the state dir keeps.
            try store.ensureDirectory()
            if !FileManager.default.fileExists(atPath: store.simulatedDomainsURL.path) {
                try AtomicFile.write(
                    Data(SimulatedDomains.initialNodeXML(profile: profile).utf8), to: store.simulatedDomainsURL)
            }
            uri = "test://" + store.simulatedDomainsURL.path
        }
        return HostSession(sysfs: kernel, store: store, simulation: kernel, libvirtURI: uri, hypervisor: hypervisor)
    }

    /// The kernel as previous commands left it in the state dir (its saved model and journal), or `base`.
    static func loadKernel(_ store: StateStore, profile: String, base: SimulatedHostModel) throws -> SimulatedKernel {
        let url = store.simulatedKernelURL
        let kernel: SimulatedKernel
        do {
            kernel = try SimulatedKernel.restore(model: url, journal: store.simulatedJournalURL, base: base)
        } catch let error as ForbcError {
            throw error
        } catch {
            throw ForbcError(
                .system, "reading the simulated host \(url.path) failed: \(error); delete it to start afresh",
                path: url.path, cause: error)
        }
        guard kernel.model.profile == profile else {
            throw ForbcError(
                .invalidInput,
                "the state dir \(store.directory.path) holds simulated host '\(kernel.model.profile)', not "
                    + "'\(profile)'; pass another '--state-dir'")
        }
        return kernel
    }

    static func defaultDirectory(_ profile: String, _ environment: [String: String]) -> String {
        let base =
            environment["XDG_STATE_HOME"].flatMap { $0.isEmpty ? nil : $0 }
            ?? ((environment["HOME"] ?? NSHomeDirectory()) + "/.local/state")
        return base + "/forbc/simulate/\(profile)"
    }
}

extension StateStore {
    /// The simulated kernel's model, saved after each command.
    public var simulatedKernelURL: URL { directory.appendingPathComponent("simulated-host.json") }
    /// The changes made to the simulated host since `simulatedKernelURL` was saved, one JSON line each.
    public var simulatedJournalURL: URL { directory.appendingPathComponent("simulated-host.journal") }
    /// The test driver's node XML: the simulated host's domains.
    public var simulatedDomainsURL: URL { directory.appendingPathComponent("simulated-libvirt.xml") }
}

extension SimulatedKernel: HostSimulation {
    public var sysfs: any SysfsChannel { self }
    public var profile: String { model.profile }
    public var provenance: String { model.provenance }

    public func nvml() -> Result<any NVMLChannel, ForbcError> {
        model.nvml.isEmpty
            ? .failure(ForbcError(.unsupported, "the simulated host has no NVML device"))
            : .success(SimulatedNVML(kernel: self))
    }

    public func reload(from store: StateStore) throws {
        // A kernel that keeps no journal lives in one process (tests): nothing else can have changed it.
        guard isJournaled, let base = SimulatedProfiles.make(profile) else { return }
        try reload(model: store.simulatedKernelURL, journal: store.simulatedJournalURL, base: base)
    }

    public func persist(into store: StateStore, hypervisor: (any HypervisorChannel)?) throws {
        try store.ensureDirectory()
        // A journaled kernel with an empty journal has nothing to save (and a host never changed stays unsaved).
        if !isJournaled || JournalFile(url: store.simulatedJournalURL).size > 0 {
            try save(to: store.simulatedKernelURL)
        }
        let domainsURI = "test://" + store.simulatedDomainsURL.path
        if let hypervisor, hypervisor.mutations > 0, hypervisor.uri == domainsURI {
            try AtomicFile.write(
                Data(SimulatedDomains.nodeXML(from: hypervisor.domains()).utf8), to: store.simulatedDomainsURL)
        }
    }
}
