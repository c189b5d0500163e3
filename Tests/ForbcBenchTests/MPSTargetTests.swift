import ForbcCore
import ForbcSimulator
import ForbcTestSupport
import Foundation
import Testing

@testable import ForbcBench

/// A suite on an MPS partition reaches the daemon: its tenants get the GPU's UUID and the daemon's pipe directory.
@Suite("benchmark targets on MPS")
struct MPSTargetTests {
    @Test("each tenant of a suite on an MPS partition gets CUDA_VISIBLE_DEVICES and CUDA_MPS_PIPE_DIRECTORY")
    func environment() throws {
        let fixture = try SimulatedHostFixture(profile: "nvidia-h100")
        let manifest = try fixture.manifest(
            text: """
                apiVersion: forbc/v1
                kind: Host
                metadata: {name: mpsbench}
                spec:
                  gpus:
                    - select: {index: 0}
                      mps: {name: shared, clients: 2, activeThreadPercentage: 50}
                  benchmarks:
                    - {suite: s, on: [shared], workloads: [cpu-gemm], repetitions: 1, tenants: 2}
                """)
        try fixture.apply(manifest)
        let session = fixture.session
        let plan = try session.plan(manifest)
        #expect(plan.isEmpty)
        let inventory = try #require(session.lastInventory)
        let uuid = try #require(inventory.gpus.first?.mig?.uuid)
        let pipe = session.store.directory.path + "/mps/\(uuid)/pipe"
        #expect(inventory.mpsDaemon(uuid)?.pipeDirectory == pipe)
        let tenants = BenchRunner.tenants(of: manifest.benchmarks[0], plan: plan, inventory: inventory)
        #expect(tenants.map(\.name) == ["shared#0", "shared#1"])
        for tenant in tenants {
            #expect(tenant.unreachable == nil)
            #expect(tenant.environment == ["CUDA_VISIBLE_DEVICES": uuid, "CUDA_MPS_PIPE_DIRECTORY": pipe])
        }
    }
}
