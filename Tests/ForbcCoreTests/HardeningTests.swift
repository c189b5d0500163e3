import ForbcCore
import ForbcSimulator
import ForbcTestSupport
import Foundation
import Testing

/// Smaller findings of the hardening review, each reproduced.
@Suite("hardening: metrics, domain XML, live unplug, located errors")
struct HardeningTests {
    @Test("failure metrics escape their labels: a quote, backslash or newline in the manifest path stays one label")
    func failureMetricsEscape() {
        let text = DriftReport.failedPrometheus(host: "h\"1", manifest: "/srv/\"odd\"\\dir\nx.yaml")
        #expect(text.contains(#"forbc_drift_check_success{host="h\"1",manifest="/srv/\"odd\"\\dir\nx.yaml"} 0"#))
        for line in text.split(separator: "\n") where !line.hasPrefix("#") {
            // name{labels} value: exactly one closing brace, after the last quote.
            #expect(line.filter { $0 == "}" }.count == 1, "\(line)")
        }
    }

    @Test("domain XML that does not parse is an error naming the domain, not 'no hostdevs'")
    func domainXML() {
        #expect(throws: ForbcError.self) { try DomainXML.hostdevs(in: "no XML at all", domain: "vm1") }
        do {
            _ = try DomainXML.hostdevs(in: "<domain", domain: "vm1")
        } catch let error as ForbcError {
            #expect(error.message.hasPrefix("the XML libvirt returned for domain 'vm1' "))
        } catch {
            Issue.record("unexpected \(error)")
        }
    }

    /// The T4 host with 'desk-0' attached live to the running 'worker-1' (as a real driver would show it).
    func attachedLive() throws -> (SimulatedHostFixture, Inventory, HostState) {
        let fixture = try SimulatedHostFixture(profile: "nvidia-t4")
        try fixture.apply(try fixture.manifest("quickstart"))
        var inventory = try fixture.inventory(domains: true)
        let desk = try #require(try fixture.state().owned(name: "desk-0")?.uuid)
        let index = try #require(inventory.domains?.firstIndex { $0.name == "worker-1" })
        inventory.domains![index].liveHostdevs.append(.mdev(desk))
        var state = try fixture.state()
        state.noLiveAttach = []  // a driver that can hot-plug (the test driver cannot)
        return (fixture, inventory, state)
    }

    @Test("destroying a partition attached to a running domain is refused with a location, even when undeclared")
    func attachedErrorLocated() throws {
        let (fixture, inventory, state) = try attachedLive()
        // The manifest no longer declares desk-* nor worker-1: prune destroys desk-0, which worker-1 runs with.
        let manifest = try fixture.manifest(
            text: """
                apiVersion: forbc/v1
                kind: Host
                metadata: {name: quickstart}
                spec:
                  gpus:
                    - select: {index: 1}
                      vgpu: [{name: ml, type: T4-8C, count: 2}]
                """)
        do {
            _ = try Planner(manifest: manifest, inventory: inventory, state: state).plan()
            Issue.record("planned the destruction of a partition in use")
        } catch let error as DiagnosticsError {
            let text = error.diagnostics.map(\.description).joined(separator: "\n")
            #expect(text.contains("'desk-0' is attached to running domain 'worker-1'"), "\(text)")
            #expect(error.diagnostics.allSatisfy { $0.location != nil }, "\(text)")
        }
    }

    @Test("a live detach is a disruption the plan names (apply asks before it, as before a destroy)")
    func liveDetachNamed() throws {
        let (fixture, inventory, state) = try attachedLive()
        var manifest = try fixture.manifest("quickstart")
        manifest.vms.removeAll { $0.domain == "worker-1" }
        let plan = try Planner(manifest: manifest, inventory: inventory, state: state, force: false).plan()
        #expect(plan.liveDetaches.map(\.target) == ["desk-0"], "\(plan.actions.map(\.target))")
        #expect(plan.destroys.isEmpty)
    }
}

@Suite("hardening: one error per entry")
struct EntryErrorTests {
    @Test("a type the GPU does not offer, with count 64: one error for the entry, not 64")
    func unofferedTypeOnce() throws {
        let fixture = try SimulatedHostFixture(profile: "nvidia-a40")
        let manifest = try fixture.manifest(
            text: """
                apiVersion: forbc/v1
                kind: Host
                metadata: {name: once}
                spec:
                  gpus:
                    - select: {all: true}
                      vgpu: [{name: p, type: T4-1Q, count: 64}]
                """)
        do {
            _ = try fixture.plan(manifest)
            Issue.record("planned an unoffered type")
        } catch let error as DiagnosticsError {
            #expect(error.diagnostics.count == 1, "\(error.diagnostics.map(\.description))")
            #expect(error.diagnostics.first?.message.hasPrefix("type 'T4-1Q' is not offered by") == true)
        }
    }
}
