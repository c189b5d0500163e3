import ForbcCore
import ForbcLibvirt
import ForbcSimulator
import ForbcTestSupport
import Foundation
import Testing

/// Attachments on libvirt's test driver (no daemon): the simulated host's hypervisor, through the real C API.
@Suite("attachments on libvirt's test driver")
struct TestDriverTests {
    static func manifest(
        _ fixture: SimulatedHostFixture, vms: String,
        partitions: String = "[{name: a, type: mtty-1}, {name: b, type: mtty-1}, {name: c, type: mtty-2}]"
    ) throws -> Manifest {
        try fixture.manifest(
            text: """
                apiVersion: forbc/v1
                kind: Host
                metadata: {name: lab}
                spec:
                  gpus:
                    - select: {parent: mtty}
                      vgpu: \(partitions)
                  vms:
                \(vms)
                """)
    }

    func uuid(_ name: String) -> String { UUIDv5.partition(host: "lab", name: name) }

    /// The hostdevs each domain's persistent definition holds, read back through a fresh connection (as the next
    /// command would).
    func persistent(_ fixture: SimulatedHostFixture) throws -> [String: [String]] {
        var result: [String: [String]] = [:]
        for domain in try fixture.libvirt().domains() {
            result[domain.name] = try DomainXML.hostdevs(in: domain.persistentXML, domain: domain.name).map(\.id)
        }
        return result
    }

    @Test("attach, move, drift both ways, repair; foreign hostdevs are left alone")
    func attachDetachDriftRepair() throws {
        let fixture = try SimulatedHostFixture(profile: "mtty")
        let first = try Self.manifest(
            fixture, vms: "    - {domain: worker-2, attach: [a, c]}\n    - {domain: worker-3, attach: [b]}")
        let plan = try fixture.plan(first)
        #expect(plan.actions.map(\.action) == [.create, .create, .create, .attach, .attach, .attach])
        #expect(try fixture.apply(first).report.succeeded)
        #expect(
            try persistent(fixture) == ["worker-1": [], "worker-2": [uuid("a"), uuid("c")], "worker-3": [uuid("b")]])
        #expect(try fixture.plan(first).isEmpty)

        // A hostdev forbc did not attach stays where it is, whatever forbc changes.
        let connection = try fixture.libvirt()
        let foreign = Hostdev.pci("0000:99:00.0", managed: true)
        try connection.define(DomainXML.adding(foreign, to: connection.domain(named: "worker-3").persistentXML))
        try fixture.session.store.ensureDirectory()
        try SimulatedDomains.nodeXML(from: connection.domains()).write(
            to: fixture.session.store.simulatedDomainsURL, atomically: true, encoding: .utf8)

        // Moving 'b' from worker-3 to worker-2 detaches it there and attaches it here, nothing else.
        let moved = try Self.manifest(fixture, vms: "    - {domain: worker-2, attach: [a, b, c]}")
        let move = try fixture.plan(moved)
        #expect(
            move.actions.map { "\($0.action.rawValue) \($0.target) \($0.domain ?? "")" } == [
                "detach b worker-3", "attach b worker-2",
            ])
        #expect(try fixture.apply(moved).report.succeeded)
        #expect(
            try persistent(fixture) == [
                "worker-1": [], "worker-2": [uuid("a"), uuid("c"), uuid("b")], "worker-3": ["0000:99:00.0"],
            ])

        // Removed behind forbc's back: drift names the domain and the partition; apply puts it back.
        try Self.edit(fixture) { try DomainXML.removing(.mdev(uuid("c")), from: $0) }
        let drift = DriftReport(plan: try fixture.plan(moved), manifest: moved)
        #expect(
            drift.items == [
                DriftReport.Item(
                    kind: "missing", partition: "c", domain: "worker-2",
                    detail:
                        "'c' is not attached to domain 'worker-2' (persistent definition): 'worker-2' declares 'c'; "
                        + "'worker-2' is shut off, so its persistent definition takes it"
                )
            ])
        #expect(try fixture.apply(moved).report.succeeded)
        #expect(try fixture.plan(moved).isEmpty)

        // Added behind forbc's back: a forbc partition in a domain that does not declare it.
        try Self.edit(fixture, domain: "worker-3") { try DomainXML.adding(.mdev(uuid("a")), to: $0) }
        let drift2 = DriftReport(plan: try fixture.plan(moved), manifest: moved)
        #expect(drift2.items.map { "\($0.kind) \($0.partition) \($0.domain ?? "")" } == ["unexpected a worker-3"])
        #expect(try fixture.apply(moved).report.succeeded)
        #expect(try persistent(fixture)["worker-3"] == ["0000:99:00.0"])
    }

    /// Changes a domain's persistent definition behind forbc's back and saves the simulated hypervisor.
    static func edit(_ fixture: SimulatedHostFixture, domain: String = "worker-2", _ change: (String) throws -> String)
        throws
    {
        let connection = try fixture.libvirt()
        try connection.define(change(try connection.domain(named: domain).persistentXML))
        try SimulatedDomains.nodeXML(from: connection.domains()).write(
            to: fixture.session.store.simulatedDomainsURL, atomically: true, encoding: .utf8)
    }

    @Test("a partition in a running domain is not destroyed without --force; with it, it is detached first")
    func inUse() throws {
        let fixture = try SimulatedHostFixture(profile: "mtty")
        let both = try Self.manifest(fixture, vms: "    - {domain: worker-1, attach: [a, b], live: true}")
        let report = try fixture.apply(both).report
        #expect(report.succeeded)
        #expect(report.notes.count == 2, "the test driver cannot hot-plug: \(report.notes)")
        // The next load of the test driver starts worker-1 from its definition: 'a' and 'b' are live.
        let running = try #require(try fixture.inventory(domains: true).domain("worker-1"))
        #expect(running.isActive && running.liveHostdevs.map(\.id) == [uuid("a"), uuid("b")])

        let onlyA = try Self.manifest(
            fixture, vms: "    - {domain: worker-1, attach: [a], live: true}", partitions: "[{name: a, type: mtty-1}]")
        do {
            _ = try fixture.plan(onlyA)
            Issue.record("planned to destroy a partition of a running domain")
        } catch let error as DiagnosticsError {
            #expect(
                error.diagnostics.map(\.message) == [
                    "'b' is attached to running domain 'worker-1' and this plan destroys it; forbc never destroys a "
                        + "partition in use: detach it first, or pass '--force' to detach it live"
                ])
        }
        let forced = try fixture.session.plan(onlyA, force: true)
        #expect(forced.actions.map { "\($0.action.rawValue) \($0.target)" } == ["detach b", "destroy b", "destroy c"])
        #expect(try fixture.session.apply(forced).succeeded)
        #expect(try persistent(fixture)["worker-1"] == [uuid("a")])
        #expect(try fixture.inventory().mdevs.map(\.uuid) == [uuid("a")])
    }

    @Test("an unknown domain, a bad URI and a failed call are libvirt's own words; nothing changes")
    func errors() throws {
        let fixture = try SimulatedHostFixture(profile: "mtty")
        let ghost = try Self.manifest(fixture, vms: "    - {domain: ghost, attach: [a]}")
        do {
            _ = try fixture.plan(ghost)
            Issue.record("planned for a missing domain")
        } catch let error as DiagnosticsError {
            #expect(
                error.diagnostics.first?.description
                    == "test.yaml:9:7: error: domain 'ghost' is not defined on '\(fixture.session.libvirtURI)'; "
                    + "define it first, or fix the name"
            )
        }
        #expect(fixture.kernel.counters.writes == 0)
        #expect(throws: ForbcError.self) { try LibvirtConnection(uri: "test:///nonexistent/forbc.xml") }
        do {
            _ = try LibvirtConnection(uri: "test:///nonexistent/forbc.xml")
        } catch let error as ForbcError {
            #expect(error.message.hasPrefix("libvirt: connecting to 'test:///nonexistent/forbc.xml' failed: "))
            #expect(error.code == .hypervisor)
        }
    }
}

/// A simulated host's state dir may hold any character: the test driver's URI escapes the path so that libvirt
/// (libxml2's URI parser) reads back that very file, not one cut at '#' or '?', unescaped once more, or refused.
@Suite("simulated hosts in state dirs with URI characters")
struct StateDirURITests {
    @Test(
        "libvirt reads the state dir's own node XML, whatever its path holds",
        arguments: ["st x", "st#x", "st?x", "st%x", "st%41", "st;x=1&y", "st[1]@h:2", "sté\u{1F600}"])
    func stateDirCharacters(name: String) throws {
        let parent = makeTemporaryDirectory("uri")
        defer { try? FileManager.default.removeItem(at: parent) }
        // A decoy where a path cut at the character would lead: libvirt must not read it.
        try Data("<node/>".utf8).write(to: parent.appendingPathComponent("st"))
        let directory = parent.appendingPathComponent(name)
        let session = try SimulatedHost.open(
            profile: "mtty", stateDir: directory.path, hypervisor: { try LibvirtConnection(uri: $0) })
        #expect(session.libvirtURI.hasPrefix("test:///") && !session.libvirtURI.contains(name))
        let names = try LibvirtConnection(uri: session.libvirtURI).domains().map(\.name).sorted()
        let xml = try String(contentsOf: session.store.simulatedDomainsURL, encoding: .utf8)
        #expect(!names.isEmpty && names.allSatisfy { xml.contains("<name>\($0)</name>") })
    }
}

@Suite("the guest agent through libvirt's C API")
struct GuestAgentTests {
    @Test("a driver without guest agents answers in libvirt's words; the call, the domain and the command are named")
    func testDriverHasNoAgent() throws {
        let connection = try LibvirtConnection(uri: "test:///default")
        do {
            _ = try connection.exec(domain: "test", ["true"], environment: [:], timeout: 5)
            Issue.record("the test driver ran a program")
        } catch let error as ForbcError {
            #expect(error.message.hasPrefix("libvirt: virDomainQemuAgentCommand('test', guest-exec) failed: "))
        }
        #expect(throws: ForbcError.self) {
            try connection.exec(domain: "absent", ["true"], environment: [:], timeout: 1)
        }
    }
}
