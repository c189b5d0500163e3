import ForbcCore
import Foundation

/// Opens a simulated host as a command does: its kernel and NVML from the state dir (or fresh from its profile),
/// and libvirt's test driver on a node XML the state dir keeps.
public enum SimulatedHost {
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
        let kernel = try loadKernel(store, profile: profile) ?? SimulatedKernel(model: fresh)
        var uri = libvirt
        if libvirt == HostSession.defaultLibvirtURI {
            // A simulated host's hypervisor is libvirt's test driver on a file the state dir keeps.
            try store.ensureDirectory()
            if !FileManager.default.fileExists(atPath: store.simulatedDomainsURL.path) {
                try SimulatedDomains.initialNodeXML(profile: profile)
                    .write(to: store.simulatedDomainsURL, atomically: true, encoding: .utf8)
            }
            uri = "test://" + store.simulatedDomainsURL.path
        }
        return HostSession(sysfs: kernel, store: store, simulation: kernel, libvirtURI: uri, hypervisor: hypervisor)
    }

    /// The kernel a previous command saved in the state dir, or nil when there is none.
    static func loadKernel(_ store: StateStore, profile: String) throws -> SimulatedKernel? {
        let url = store.simulatedKernelURL
        guard FileManager.default.fileExists(atPath: url.path) else { return nil }
        let kernel: SimulatedKernel
        do {
            kernel = try SimulatedKernel.load(from: url)
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

    public func persist(into store: StateStore, hypervisor: (any HypervisorChannel)?) throws {
        try store.ensureDirectory()
        try save(to: store.simulatedKernelURL)
        let domainsURI = "test://" + store.simulatedDomainsURL.path
        if let hypervisor, hypervisor.mutations > 0, hypervisor.uri == domainsURI {
            try SimulatedDomains.nodeXML(from: hypervisor.domains())
                .write(to: store.simulatedDomainsURL, atomically: true, encoding: .utf8)
        }
    }
}
