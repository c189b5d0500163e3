import ForbcCore
import ForbcSimulator
import ForbcTestSupport
import Foundation
import Testing

@Suite("MPS")
struct MPSTests {
    @Test("an MPS partition's access is two variables, a path with a space kept whole")
    func accessEnvironment() throws {
        var partition = try JSONDecoder().decode(
            DesiredPartition.self, from: Data(#"{"name": "shared", "kind": "mps", "gpu": "0000:07:00.0"}"#.utf8))
        partition.access = "CUDA_VISIBLE_DEVICES=GPU-1 CUDA_MPS_PIPE_DIRECTORY=/var/lib/my state/mps/GPU-1/pipe"
        #expect(
            partition.accessEnvironment == [
                "CUDA_VISIBLE_DEVICES": "GPU-1", "CUDA_MPS_PIPE_DIRECTORY": "/var/lib/my state/mps/GPU-1/pipe",
            ])
        partition.access = "CUDA_VISIBLE_DEVICES=MIG-2"
        #expect(partition.accessEnvironment == ["CUDA_VISIBLE_DEVICES": "MIG-2"])
    }

    @Test("pinned memory limits compare by size; a limit nobody asked for is left alone")
    func settings() {
        #expect(MPSSettings.bytes("2G") == 2 << 30)
        #expect(MPSSettings.bytes("2048MB") == 2 << 30)
        #expect(MPSSettings.bytes("none") == nil && MPSSettings.bytes("0G") == nil)
        let running = MPSSettings(activeThreadPercentage: 50, pinnedMemoryLimit: "2048M")
        #expect(running.satisfies(MPSSettings(activeThreadPercentage: 50, pinnedMemoryLimit: "2G")))
        #expect(running.satisfies(MPSSettings(activeThreadPercentage: 50)))
        #expect(!running.satisfies(MPSSettings(activeThreadPercentage: 14)))
        #expect(!running.satisfies(MPSSettings(activeThreadPercentage: 50, pinnedMemoryLimit: "1G")))
    }

    @Test("the simulated control program refuses a second daemon, commands to none, and an unknown GPU")
    func simulatedDaemon() throws {
        let store = StateStore(directory: makeTemporaryDirectory("mps-sim"))
        let kernel = SimulatedKernel(model: try #require(SimulatedProfiles.make("nvidia-a100-40gb")))
        let mps = kernel.mps(in: store)
        let uuid = try #require(kernel.model.nvml.first?.uuid)
        #expect(try mps.daemon(gpu: uuid) == nil)
        try mps.start(gpu: uuid)
        #expect(throws: ForbcError.self) { try mps.start(gpu: uuid) }
        try mps.configure(gpu: uuid, MPSSettings(activeThreadPercentage: 30, pinnedMemoryLimit: "4G"))
        let daemon = try #require(try mps.daemon(gpu: uuid))
        #expect(daemon.settings == MPSSettings(activeThreadPercentage: 30, pinnedMemoryLimit: "4G"))
        #expect(daemon.pipeDirectory == store.directory.path + "/mps/\(uuid)/pipe")
        try mps.quit(gpu: uuid)
        #expect(throws: ForbcError.self) { try mps.quit(gpu: uuid) }
        #expect(throws: ForbcError.self) { try mps.start(gpu: "GPU-00000000-0000-0000-0000-000000000000") }
    }
}
