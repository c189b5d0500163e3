import ForbcCore
import ForbcSimulator
import ForbcTestSupport
import Foundation
import Testing

/// A new `name` for a partition that is the whole GPU: nothing on the host changes, forbc's records do (as for a
/// MIG instance, an AMD partition mode or an SR-IOV VF count kept under a new name).
@Suite("renames that keep the hardware as it is")
struct RelabelTests {
    func whole(_ fixture: SimulatedHostFixture, _ name: String) throws -> Manifest {
        try fixture.manifest(
            text: "apiVersion: forbc/v1\nkind: Host\nmetadata: {name: m}\nspec:\n  gpus:\n"
                + "    - {select: {index: 0}, passthrough: {name: \(name)}}\n")
    }

    @Test("passthrough: a new name is a relabel, no write; the records and the export follow it")
    func passthrough() throws {
        let fixture = try SimulatedHostFixture(profile: "nvidia-a100-40gb")
        #expect(try fixture.apply(try whole(fixture, "whole")).report.succeeded)
        let plan = try fixture.plan(try whole(fixture, "baseline"))
        #expect(plan.actions.map { "\($0.action.rawValue) \($0.target)" } == ["relabel baseline"], "\(plan.actions)")
        #expect(plan.actions.first?.forgets == ["whole"])
        #expect(try fixture.apply(try whole(fixture, "baseline")).writes == 0)
        let names = try fixture.state().partitions.filter { $0.kind == .passthrough }.map(\.name)
        #expect(names == ["baseline"])
        #expect(try fixture.plan(try whole(fixture, "baseline")).isEmpty)
        let exported = try Exporter(inventory: try fixture.inventory(domains: true), state: try fixture.state())
            .manifest()
        #expect(exported.contains("passthrough: {name: baseline}"), "\(exported)")
    }
}
