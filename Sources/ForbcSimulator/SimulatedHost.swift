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
                // Not holding the lock: made only if still absent (a locked command may have saved its domains
                // since the check), whole, and a failure names the file and the kernel's errno.
                try AtomicFile.createIfAbsent(
                    Data(SimulatedDomains.initialNodeXML(profile: profile).utf8), at: store.simulatedDomainsURL)
            }
            uri = testDriverURI(store.simulatedDomainsURL)
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

    /// libvirt's test-driver URI of a node XML file: "test://" and the path, each byte outside RFC 3986's
    /// unreserved set and '/' percent-escaped. libvirt parses URIs with libxml2 (virURIParse → xmlParseURI), which
    /// ends the path at '?' or '#', refuses a space or a lone '%', and unescapes "%XX" in the path; so every byte
    /// of a path (a POSIX path holds no NUL) has a form libvirt reads back as itself.
    public static func testDriverURI(_ file: URL) -> String {
        var uri = "test://"
        for byte in file.path.utf8 {
            switch byte {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
                UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"),
                UInt8(ascii: "~"), UInt8(ascii: "/"):
                uri.unicodeScalars.append(Unicode.Scalar(byte))
            default:
                uri += "%" + (byte < 0x10 ? "0" : "") + String(byte, radix: 16, uppercase: true)
            }
        }
        return uri
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
        let domainsURI = SimulatedHost.testDriverURI(store.simulatedDomainsURL)
        if let hypervisor, hypervisor.mutations > 0, hypervisor.uri == domainsURI {
            try AtomicFile.write(
                Data(SimulatedDomains.nodeXML(from: hypervisor.domains()).utf8), to: store.simulatedDomainsURL)
        }
    }
}
