import ForbcCore
import ForbcLibvirt
import ForbcSimulator
import Foundation

/// Paths of the repository, for tests and the scale benchmark.
public enum RepositoryPaths {
    /// The repository root (this file is Sources/ForbcTestSupport/Fixtures.swift).
    public static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()
    public static func manifest(_ name: String) -> String { root.appendingPathComponent("Manifests/\(name).yaml").path }
    public static func fixture(_ path: String) -> String { root.appendingPathComponent("Tests/Fixtures/\(path)").path }
}

/// A fresh temporary directory, removed by the caller (or left for inspection when a test fails).
public func makeTemporaryDirectory(_ label: String = "forbc") -> URL {
    let url = FileManager.default.temporaryDirectory.appendingPathComponent("\(label)-\(UUID().uuidString.prefix(8))")
    try! FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    return url
}

/// A simulated host with its own state dir: the profiles of `SimulatedProfiles`, driven in process.
public final class SimulatedHostFixture: @unchecked Sendable {
    public let directory: URL
    public let kernel: SimulatedKernel
    private let first: HostSession

    public init(profile: String) throws {
        directory = makeTemporaryDirectory("forbc-\(profile)")
        first = try SimulatedHost.open(
            profile: profile, stateDir: directory.path, hypervisor: { try LibvirtConnection(uri: $0) })
        kernel = first.simulation as! SimulatedKernel
    }

    public init(model: SimulatedHostModel) {
        directory = makeTemporaryDirectory("forbc-\(model.profile)")
        kernel = SimulatedKernel(model: model)
        first = HostSession(sysfs: kernel, store: StateStore(directory: directory), simulation: kernel)
    }

    /// A session as a new command would open it: the same simulated kernel, a fresh libvirt connection that
    /// starts from the test driver's file (so changes made behind forbc's back are seen).
    public var session: HostSession {
        HostSession(
            sysfs: kernel, store: first.store, simulation: kernel, libvirtURI: first.libvirtURI,
            hypervisor: { try LibvirtConnection(uri: $0) })
    }

    deinit { try? FileManager.default.removeItem(at: directory) }

    public func manifest(_ name: String) throws -> Manifest {
        try ManifestParser.parse(contentsOf: RepositoryPaths.manifest(name))
    }
    public func manifest(text: String) throws -> Manifest { try ManifestParser.parse(text: text, file: "test.yaml") }

    /// A manifest of benchmark suites alone (no partitions), one flow mapping a suite: what the guest-agent tests
    /// run in the fixture's domains.
    public func benchmarks(_ suites: String...) throws -> Manifest {
        let lines = suites.map { "    - \($0)" }.joined(separator: "\n")
        return try manifest(
            text: "apiVersion: forbc/v1\nkind: Host\nmetadata: {name: guests}\nspec:\n  benchmarks:\n\(lines)\n")
    }

    public func plan(_ manifest: Manifest) throws -> Plan { try session.plan(manifest) }

    /// Plans and applies; returns the report and how many writes reached the simulated kernel.
    @discardableResult
    public func apply(_ manifest: Manifest) throws -> (report: Applier.Report, writes: Int) {
        let before = kernel.counters.writes
        let session = self.session
        let report = try session.apply(try session.plan(manifest))
        return (report, kernel.counters.writes - before)
    }

    public func inventory(domains: Bool = false) throws -> Inventory { try session.discover(domains: domains) }

    /// A fresh connection to the simulated host's test driver, as the next command would open it.
    public func libvirt() throws -> LibvirtConnection { try LibvirtConnection(uri: session.libvirtURI) }
    public func state() throws -> HostState { try session.store.load() }
}

/// Manifests more than one test suite uses.
public enum CannedManifests {
    /// The two T4s of `nvidia-t4` (or a tree materialized from it): three T4-4Q on the first, one T4-8C on the second.
    public static let twoT4s = """
        apiVersion: forbc/v1
        kind: Host
        metadata: {name: t4}
        spec:
          gpus:
            - select: {index: 0}
              vgpu: [{name: desk, type: T4-4Q, count: 3}]
            - select: {index: 1}
              vgpu: [{name: ml, type: T4-8C}]
        """
}

/// The diagnostics of a manifest given as text (file name "m.yaml"), as lines; none when it is valid.
public func diagnostics(_ text: String) -> [String] {
    do {
        _ = try ManifestParser.parse(text: text, file: "m.yaml")
        return []
    } catch let error as DiagnosticsError {
        return error.diagnostics.map(\.description)
    } catch {
        return ["unexpected \(error)"]
    }
}
