import ForbcCore
import ForbcSimulator
import ForbcTestSupport
import Foundation
import Testing

@testable import ForbcBench

/// A suite on AMD compute partitions runs on the host, one tenant per partition, each with the device number ROCm
/// gives that partition.
@Suite("benchmark targets on AMD compute partitions")
struct AMDPartitionTargetTests {
    @Test("each compute partition of a suite is a host tenant with its own ROCR_VISIBLE_DEVICES")
    func environment() throws {
        let fixture = try SimulatedHostFixture(profile: "amd-mi300x")
        let manifest = try fixture.manifest("amd-mi300x")
        try fixture.apply(manifest)
        let session = fixture.session
        let plan = try session.plan(manifest)
        #expect(plan.isEmpty)
        let inventory = try #require(session.lastInventory)
        let tenants = BenchRunner.tenants(of: manifest.benchmarks[0], plan: plan, inventory: inventory)
        #expect(tenants.map(\.name) == ["cpx-0", "cpx-7", "qpx-3"])
        #expect(
            tenants.map(\.environment) == [
                ["ROCR_VISIBLE_DEVICES": "0"], ["ROCR_VISIBLE_DEVICES": "7"], ["ROCR_VISIBLE_DEVICES": "11"],
            ])
        for tenant in tenants {
            #expect(tenant.unreachable == nil, "a compute partition is used on the host, not through a VM")
            #expect(tenant.domain == nil)
        }
    }
}
