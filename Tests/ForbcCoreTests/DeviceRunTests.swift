import ForbcCore
import ForbcSimulator
import ForbcTestSupport
import Foundation
import Testing

/// The run on the lent H100 (2026-11-25), kept in Tests/Fixtures/nvidia-h100-80gb-hbm3/device-run: a
/// `--static-swift-stdlib` forbc with real NVML, plan only (MIG mode was Disabled before and after).
@Suite("the real H100 run")
struct DeviceRunTests {
    static let directory = RepositoryPaths.fixture("nvidia-h100-80gb-hbm3/device-run")

    func text(_ name: String) throws -> String {
        try String(contentsOfFile: "\(Self.directory)/\(name)", encoding: .utf8)
    }

    @Test(
        "discover --output json: the GPU with MIG disabled, exactly the profiles and placements nvidia-smi printed then"
    )
    func discoveryMatchesNvidiaSmi() throws {
        let inventory = try JSONDecoder().decode(Inventory.self, from: Data(try text("forbc-discover.json").utf8))
        #expect(!inventory.simulated)
        let gpu = try #require(inventory.gpus.first)
        #expect(inventory.gpus.count == 1 && gpu.model == "NVIDIA H100 80GB HBM3" && gpu.driver == "nvidia")
        let mig = try #require(gpu.mig)
        #expect(!mig.currentMode && !mig.pendingMode && mig.instances.isEmpty)
        // nvidia-smi mig -lgip: name, id, instances, memory (GiB), SMs; -lgipp: placements.
        var lgip: [String: [String]] = [:]
        for line in try text("nvidia-smi-mig-lgip.txt").split(separator: "\n") where line.contains(" MIG ") {
            let words = line.split(separator: " ").map(String.init)
            let i = words.firstIndex(of: "MIG")!
            lgip[words[i + 1]] = Array(words[(i + 2)...])
        }
        var lgipp: [Int: String] = [:]
        for line in try text("nvidia-smi-mig-lgipp.txt").split(separator: "\n") {
            guard let range = line.range(of: "Profile ID") else { continue }
            let rest = line[range.upperBound...].split(separator: " ")
            lgipp[Int(rest[0])!] = String(rest.last!)
        }
        #expect(Set(mig.profiles.map(\.name)) == Set(lgip.keys))
        for profile in mig.profiles {
            let row = try #require(lgip[profile.name])
            #expect(
                row[0] == "\(profile.id)" && row[1] == "\(profile.instances)/\(profile.instances)"
                    && row[4] == "\(profile.multiprocessors)")
            #expect(row[2] == String(format: "%.2f", Double(profile.memoryMiB) / 1024))
            let starts = profile.placements.map { "\($0.start)" }.joined(separator: ",")
            #expect(lgipp[profile.id] == "{\(starts)}:\(profile.placements[0].size)")
        }
        // The simulated H100 carries the same table.
        #expect(mig.profiles == MIGTables.h100HBM3x80GB)
    }

    @Test(
        "plan of the MIG manifest there: MIG mode on (pending a reset), then the four instances, the 3g.40gb at slot 4"
    )
    func planOnTheH100() throws {
        let plan = try #require(
            try JSONSerialization.jsonObject(with: Data(try text("forbc-plan.json").utf8)) as? [String: Any])
        let actions = try #require(plan["actions"] as? [[String: Any]])
        #expect(
            actions.map { "\($0["action"]!) \($0["target"]!) \($0["value"]!)" } == [
                "configure 0000:00:06.0 1", "create train 3g.40gb@4", "create tune 2g.20gb@0",
                "create infer-0 1g.10gb@2", "create infer-1 1g.10gb@3",
            ])
        #expect((actions[0]["reason"] as? String)?.contains("pending until a GPU reset") == true)
        #expect(plan["simulated"] as? Bool == false)
        let info = try text("run-info.txt")
        #expect(
            info.contains("plan rc=0") && info.hasSuffix("mig.mode.current, mig.mode.pending\nDisabled, Disabled\n"))
    }

    @Test("the vGPU calls on the real driver without a vGPU manager: none found, declarations refused, located")
    func vgpuCallsOnTheH100() throws {
        func check(_ name: String) throws -> String {
            try String(contentsOfFile: "\(Self.directory)/../vgpu-check/\(name)", encoding: .utf8)
        }
        let inventory = try JSONDecoder().decode(Inventory.self, from: Data(try check("forbc-discover.json").utf8))
        let gpu = try #require(inventory.gpus.first)
        #expect(!inventory.simulated && gpu.model == "NVIDIA H100 80GB HBM3" && gpu.mig != nil)
        #expect(gpu.vgpuScheduler == nil && gpu.vgpuTypes == nil)
        #expect(try check("nvidia-smi-vgpu.txt").contains("No supported devices in vGPU mode"))
        let info = try check("run-info.txt")
        #expect(info.contains("discover rc=0") && info.contains("plan scheduler rc=1"))
        #expect(info.contains("plan mig-backed rc=1") && info.hasSuffix("Disabled, Disabled, 580.159.04\n"))
        #expect(
            try check("plan-mig-backed.txt").contains(
                "mig-backed.yaml:10:11: error: 0000:00:06.0 (NVIDIA H100 80GB HBM3) offers no vGPU types"))
        let scheduler = try check("plan-scheduler-test-driver.txt")
        #expect(scheduler.contains("scheduler.yaml:9:22: error: 'vgpuScheduler' is declared for 0000:00:06.0"))
        #expect(scheduler.contains("NVML reports no vGPU scheduler there") && scheduler.hasSuffix("rc=1\n"))
    }
}
