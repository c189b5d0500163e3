import ForbcCore
import ForbcLibvirt
import ForbcSimulator
import ForbcTestSupport
import Foundation
import Testing

/// Against a real libvirtd with the qemu driver. The README's test command installs and starts it
/// (`.ci/libvirtd start`) and sets FORBC_LIBVIRTD_URI; without it this suite says it is skipped.
@Suite(
    "attachments against a real libvirtd (qemu:///system)",
    .enabled(
        if: ProcessInfo.processInfo.environment["FORBC_LIBVIRTD_URI"] != nil,
        "FORBC_LIBVIRTD_URI is not set: run the README's test command (bash .ci/test), which starts libvirtd"))
struct LibvirtdTests {
    let uri = ProcessInfo.processInfo.environment["FORBC_LIBVIRTD_URI"] ?? "qemu:///system"
    static let domains = ["forbc-it-1", "forbc-it-2"]

    static func domainXML(_ name: String) -> String {
        """
        <domain type='qemu'>
          <name>\(name)</name>
          <memory unit='MiB'>64</memory>
          <vcpu>1</vcpu>
          <os><type arch='x86_64' machine='q35'>hvm</type></os>
          <devices></devices>
        </domain>
        """
    }

    func manifest(_ vms: String) throws -> Manifest {
        try ManifestParser.parse(
            text: """
                apiVersion: forbc/v1
                kind: Host
                metadata: {name: it}
                spec:
                  gpus:
                    - select: {parent: mtty}
                      vgpu: [{name: serial, type: mtty-1, count: 2}, {name: dual, type: mtty-2}]
                  vms:
                \(vms)
                """, file: "it.yaml")
    }

    /// A session: the simulated mtty kernel for partitions, the real libvirtd for domains, a fresh connection each
    /// time.
    func session(_ kernel: SimulatedKernel, _ state: URL) -> (HostSession, () -> LibvirtConnection?) {
        let box = ConnectionBox()
        let session = HostSession(
            sysfs: kernel, store: StateStore(directory: state), simulation: nil, libvirtURI: uri,
            hypervisor: { uri in
                let c = try LibvirtConnection(uri: uri)
                box.set(c)
                return c
            })
        return (session, { box.get() })
    }

    func hostdevs(_ connection: LibvirtConnection, _ name: String) throws -> [String] {
        try DomainXML.hostdevs(in: try connection.domain(named: name).persistentXML, domain: name).map(\.id)
    }

    @Test(
        "define shut-off domains, attach, change, detach; a second apply mutates nothing; failures in libvirt's words"
    )
    func integration() throws {
        let admin = try LibvirtConnection(uri: uri)
        for name in Self.domains {
            if (try? admin.domain(named: name)) != nil { try admin.undefine(name) }
            try admin.define(Self.domainXML(name))
        }
        defer { for name in Self.domains { try? admin.undefine(name) } }
        let kernel = SimulatedKernel(model: SimulatedProfiles.make("mtty")!)
        let state = makeTemporaryDirectory("libvirtd")
        defer { try? FileManager.default.removeItem(at: state) }

        try attachToShutOffDomains(admin, kernel, state)
        try changeAttachments(admin, kernel, state)
        try secondApplyChangesNothing(kernel, state)
        try libvirtFailureMidApply(admin, kernel, state)
        try errorsBeforeAnythingChanges(kernel, state)
    }

    static let serial0 = UUIDv5.partition(host: "it", name: "serial-0")
    static let serial1 = UUIDv5.partition(host: "it", name: "serial-1")
    static let dual = UUIDv5.partition(host: "it", name: "dual")
    /// The attachments after step 2, which step 3 applies again.
    static let changedVMs = "    - {domain: forbc-it-1, attach: [serial-0]}\n    - {domain: forbc-it-2, attach: [dual]}"

    /// 1. Attach partitions to shut-off domains; read the definitions back with the C API.
    func attachToShutOffDomains(_ admin: LibvirtConnection, _ kernel: SimulatedKernel, _ state: URL) throws {
        let first = try manifest(
            "    - {domain: forbc-it-1, attach: [serial-0, dual]}\n"
                + "    - {domain: forbc-it-2, attach: [serial-1]}")
        let (host, _) = session(kernel, state)
        let plan = try host.plan(first)
        #expect(plan.actions.filter { $0.action == .attach }.count == 3)
        #expect(try host.apply(plan).succeeded)
        #expect(try hostdevs(admin, "forbc-it-1") == [Self.serial0, Self.dual])
        #expect(try hostdevs(admin, "forbc-it-2") == [Self.serial1])
    }

    /// 2. Change the manifest: 'dual' moves to forbc-it-2, 'serial-1' is no longer attached.
    func changeAttachments(_ admin: LibvirtConnection, _ kernel: SimulatedKernel, _ state: URL) throws {
        let second = try manifest(Self.changedVMs)
        let (host, _) = session(kernel, state)
        let change = try host.plan(second)
        #expect(
            Set(change.actions.map { "\($0.action.rawValue) \($0.target) \($0.domain ?? "")" })
                == ["detach dual forbc-it-1", "detach serial-1 forbc-it-2", "attach dual forbc-it-2"])
        #expect(change.actions.first?.action == .detach)
        #expect(try host.apply(change).succeeded)
        #expect(try hostdevs(admin, "forbc-it-1") == [Self.serial0])
        #expect(try hostdevs(admin, "forbc-it-2") == [Self.dual])
    }

    /// 3. A second apply: zero libvirt mutations, zero sysfs writes.
    func secondApplyChangesNothing(_ kernel: SimulatedKernel, _ state: URL) throws {
        let (host, connection) = session(kernel, state)
        let writes = kernel.counters.writes
        let again = try host.plan(try manifest(Self.changedVMs))
        #expect(again.isEmpty)
        #expect(try host.apply(again).succeeded)
        #expect(connection()?.mutations == 0)
        #expect(kernel.counters.writes == writes)
    }

    /// 4. A libvirt failure mid-apply: the domain vanishes between plan and apply.
    func libvirtFailureMidApply(_ admin: LibvirtConnection, _ kernel: SimulatedKernel, _ state: URL) throws {
        let third = try manifest(
            "    - {domain: forbc-it-1, attach: [serial-0, serial-1]}\n"
                + "    - {domain: forbc-it-2, attach: [dual]}")
        var (host, _) = session(kernel, state)
        let plan3 = try host.plan(third)
        try admin.undefine("forbc-it-1")
        let report = try host.apply(plan3)
        let failed = try #require(report.failed)
        #expect(
            failed.error.message
                == "libvirt: virDomainLookupByName('forbc-it-1') failed: Domain not found: no domain with matching "
                + "name 'forbc-it-1'"
        )
        // The cause gone, a rerun converges.
        try admin.define(Self.domainXML("forbc-it-1"))
        (host, _) = session(kernel, state)
        #expect(try host.apply(try host.plan(third)).succeeded)
        #expect(try Set(hostdevs(admin, "forbc-it-1")) == [Self.serial0, Self.serial1])
        (host, _) = session(kernel, state)
        #expect(try host.plan(third).isEmpty)
    }

    /// 5. A missing domain and a bad URI are errors before anything changes.
    func errorsBeforeAnythingChanges(_ kernel: SimulatedKernel, _ state: URL) throws {
        let ghost = try manifest("    - {domain: forbc-it-ghost, attach: [serial-0]}")
        let (host, _) = session(kernel, state)
        #expect(throws: DiagnosticsError.self) { try host.plan(ghost) }
        do {
            _ = try LibvirtConnection(uri: "qemu:///nonsense")
            Issue.record("connected to a bad URI")
        } catch let error as ForbcError {
            #expect(error.message.hasPrefix("libvirt: connecting to 'qemu:///nonsense' failed: "))
        }
    }
}

/// Holds the connection a session opened, for counting its mutations.
final class ConnectionBox: @unchecked Sendable {
    private let lock = NSLock()
    private var connection: LibvirtConnection?
    func set(_ value: LibvirtConnection) { lock.withLock { connection = value } }
    func get() -> LibvirtConnection? { lock.withLock { connection } }
}
