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
    /// Three AMD MI210s with SR-IOV: the `amd-mi210` profile's GPU and copies of it at 0000:c4:00.0, 0000:c5:00.0.
    static func threeGPUs() throws -> SimulatedHostModel {
        var model = try #require(SimulatedProfiles.make("amd-mi210"))
        for (n, bus) in ["c4", "c5"].enumerated() {
            var copy = model.devices[0]
            copy.address = "0000:\(bus):00.0"
            copy.iommuGroup = 71 + n
            copy.sriov?.vfIOMMUGroupBase = 400 + 100 * n
            model.devices.append(copy)
        }
        return model
    }

    func gpus(_ fixture: SimulatedHostFixture, _ entries: String...) throws -> Manifest {
        let lines = zip(["c3", "c4", "c5"], entries).map { "    - {select: {pciAddress: '0000:\($0):00.0'}, \($1)}\n" }
        return try fixture.manifest(
            text: "apiVersion: forbc/v1\nkind: Host\nmetadata: {name: m}\nspec:\n  gpus:\n" + lines.joined())
    }

    /// The records, as "name kind gpu".
    func records(_ fixture: SimulatedHostFixture) throws -> [String] {
        try fixture.state().partitions.map { "\($0.name) \($0.kind.rawValue) \($0.gpu)" }
    }

    @Test("VF names moved between GPUs: a failed later step leaves the new owner's VFs recorded; a rerun converges")
    func namesAcrossGPUs() throws {
        let fixture = SimulatedHostFixture(model: try Self.threeGPUs())
        let before = try gpus(fixture, "passthrough: {name: x}", "sriov: {name: y, vfs: 2}")
        #expect(try fixture.apply(before).report.succeeded)
        // 0000:c3:00.0 takes the VF names 'y' from 0000:c4:00.0, which becomes passthrough 'x'; 0000:c5:00.0 gains VFs.
        let after = try gpus(
            fixture, "sriov: {name: y, vfs: 2}", "passthrough: {name: x}", "sriov: {name: z, vfs: 1}")
        let plan = try fixture.plan(after)
        #expect(
            plan.actions.map { "\($0.gpu ?? "") \($0.value) forgets \($0.forgets)" } == [
                "0000:c3:00.0 2 forgets []", "0000:c4:00.0 0 forgets [\"y-0\", \"y-1\"]", "0000:c5:00.0 1 forgets []",
            ])
        fixture.kernel.inject(SimFault(path: SysPath.pci("0000:c5:00.0", "sriov_numvfs"), errno: Errno.EIO))
        let failed = try fixture.apply(after).report
        #expect(failed.failed?.action.gpu == "0000:c5:00.0" && failed.done.count == 2)
        // 0000:c4:00.0's step forgot its own VFs' records, not 0000:c3:00.0's made under the same names a step before
        // (z-0 is the failed step's intent: recorded before its write).
        let vfs = try records(fixture).filter { $0.contains("sriov-vf") }
        #expect(vfs == ["y-0 sriov-vf 0000:c3:00.0", "y-1 sriov-vf 0000:c3:00.0", "z-0 sriov-vf 0000:c5:00.0"])
        #expect(try fixture.state().owned(name: "x") != nil)
        #expect(try fixture.apply(after).report.succeeded)
        #expect(
            try records(fixture) == [
                "x passthrough 0000:c4:00.0", "y-0 sriov-vf 0000:c3:00.0", "y-1 sriov-vf 0000:c3:00.0",
                "z-0 sriov-vf 0000:c5:00.0",
            ])
        #expect(try fixture.plan(after).isEmpty)
    }
    @Test("passthrough names swapped between two GPUs: relabels keep both records through a failed later step")
    func swapAcrossGPUs() throws {
        let fixture = SimulatedHostFixture(model: try Self.threeGPUs())
        #expect(
            try fixture.apply(try gpus(fixture, "passthrough: {name: x}", "passthrough: {name: y}")).report.succeeded)
        let swapped = try gpus(
            fixture, "passthrough: {name: y}", "passthrough: {name: x}", "sriov: {name: z, vfs: 1}")
        #expect(
            try fixture.plan(swapped).actions.map { "\($0.action.rawValue) \($0.target) forgets \($0.forgets)" } == [
                "relabel y forgets []", "relabel x forgets []", "configure z-0 forgets []",
            ])
        fixture.kernel.inject(SimFault(path: SysPath.pci("0000:c5:00.0", "sriov_numvfs"), errno: Errno.EIO))
        #expect(try fixture.apply(swapped).report.done.count == 2)
        let expected = ["x passthrough 0000:c4:00.0", "y passthrough 0000:c3:00.0"]
        #expect(try records(fixture).filter { $0.contains("passthrough") } == expected)
        #expect(try fixture.apply(swapped).report.succeeded)
        #expect(try records(fixture) == expected + ["z-0 sriov-vf 0000:c5:00.0"])
        #expect(try fixture.plan(swapped).isEmpty)
    }
}
