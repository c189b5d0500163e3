import ForbcCore
import ForbcSimulator
import ForbcTestSupport
import Foundation
import Testing

/// A suite can name domains to run in (`vms:`), the "without a partition" baseline of a VM topology.
@Suite("benchmark targets that are domains")
struct BenchTargetTests {
    func manifest(_ fixture: SimulatedHostFixture, vms: String) throws -> Manifest {
        try fixture.manifest(
            text: """
                apiVersion: forbc/v1
                kind: Host
                metadata: {name: vmbench}
                spec:
                  benchmarks:
                    - {suite: guests, vms: \(vms), workloads: [cpu-gemm], repetitions: 1}
                """)
    }

    @Test("a suite in a defined domain plans (libvirt is consulted for it); an unknown domain is a located error")
    func domains() throws {
        let fixture = try SimulatedHostFixture(profile: "nvidia-t4")
        let known = try manifest(fixture, vms: "[worker-1]")
        #expect(known.benchmarks[0].vms == ["worker-1"])
        #expect(try fixture.session.needsHypervisor(known))
        #expect(try fixture.plan(known).isEmpty)
        do {
            _ = try fixture.plan(try manifest(fixture, vms: "[worker-1, nope]"))
            Issue.record("planned a suite in an unknown domain")
        } catch let error as DiagnosticsError {
            #expect(error.diagnostics.count == 1)
            #expect(error.diagnostics[0].message.contains("runs in domain 'nope', which is not defined on 'test://"))
            #expect(error.diagnostics[0].location?.line == 6)
        }
    }

    @Test("a domain name that could not be a libvirt name is refused where it is written")
    func badName() throws {
        let fixture = try SimulatedHostFixture(profile: "nvidia-t4")
        #expect(throws: DiagnosticsError.self) { try manifest(fixture, vms: "[\"../x\"]") }
        #expect(throws: DiagnosticsError.self) { try manifest(fixture, vms: "[]") }
    }
}
