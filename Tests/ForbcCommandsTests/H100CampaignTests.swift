import ForbcBench
import ForbcTestSupport
import Foundation
import Testing

/// Manifests/campaign-h100.yaml run on the lent H100 by Tests/Bench/h100-campaign.sh (Tests/Fixtures/h100-campaign):
/// one `forbc bench campaign` over six topologies, forbc starting and stopping the MPS daemons, the host restored.
/// Checked from the run's log, the host's export and discovery before and after, and the stored results (imported
/// and compared again here; nothing is read from literal figures of the fixture).
@Suite("the H100 campaign")
struct H100CampaignTests {
    static let directory = RepositoryPaths.fixture("h100-campaign")
    static let topologies = ["full-gpu", "time-sliced-2", "time-sliced-4", "time-sliced-7", "mps-2x50", "mps-7x14"]
    static let workloads: Set = ["gemm", "stream", "transformer-infer", "render"]

    func text(_ file: String) throws -> String {
        try String(contentsOfFile: "\(Self.directory)/\(file)", encoding: .utf8)
    }

    @Test("every topology applied, converged and measured, MPS started by forbc, the host restored (drift 0)")
    func flowAndRestore() throws {
        let log = try text("campaign.log")
        for (i, name) in Self.topologies.enumerated() {
            #expect(log.contains("campaign: [\(i + 1)/6 \(name)] converged (drift 0); measuring"), "\(name)")
        }
        // forbc started NVIDIA's control daemon for each MPS topology, and quit it in the restore.
        for percentage in [50, 14] {
            #expect(log.contains("start; set_default_active_thread_percentage \(percentage); declared, not present"))
        }
        #expect(log.components(separatedBy: "Apply complete: 1 change made.").count - 1 == 3)
        #expect(log.contains("campaign: host restored; drift against the snapshot: 0"))
        #expect(log.contains("-- exit 0 after "))
        // The host's export and discovery before and after the campaign are identical; drift against it is 0.
        let host = try text("host.txt")
        #expect(host.contains("== identical\n") && !host.contains("DIFFERENT"))
        #expect(host.contains("== drift against the export taken before\n") && host.contains("-- exit 0\n"))
        // Discovery after the campaign shows no MPS daemon (the machine's PID 1 does not reap: the quit daemons
        // stay as zombies, which `ps` still lists).
        let after = try #require(host.components(separatedBy: "== after\n").last)
        #expect(!after.contains("MPS: control daemon"))
    }

    @Test("every topology has results for every workload, all timed alike: no ratio mixes methods")
    func results() throws {
        let results = try Interchange.readJSONLines(try text("results.jsonl"), file: "h100", source: "h100")
        #expect(Set(results.map(\.topology)) == Set(Self.topologies))
        for topology in Self.topologies {
            let own = results.filter { $0.topology == topology }
            #expect(Set(own.map(\.workload)) == Self.workloads, "\(topology)")
            #expect(own.allSatisfy { $0.status == "ok" }, "\(topology): \(own.compactMap(\.failure))")
        }
        #expect(results.allSatisfy { $0.timing == Timing.wallWindow })
        #expect(
            results.filter { $0.topology.hasPrefix("mps") && $0.tenant != "(aggregate)" }.allSatisfy {
                $0.partitionKind == "mps"
            })
        #expect(results.allSatisfy { $0.gpuModel == nil || $0.gpuModel == "NVIDIA H100 80GB HBM3" })
        let compare = try text("compare.txt")
        #expect(!compare.contains("MIX") && compare.contains("Ratios to 'full-gpu'"))
    }

    @Test("compared again here: time-slicing splits the GEMM rate n ways, co-tenants never exceed the card")
    func ratios() throws {
        let cli = CLI()
        let state = ["--state-dir", cli.stateDir.path]
        let imported = cli.run(["bench", "import"] + state + ["\(Self.directory)/results.jsonl"])
        #expect(imported.code == 0, "\(imported.stderr)")
        let compared = cli.run(["bench", "compare"] + state + ["--baseline", "full-gpu", "--output", "json"])
        let rows = try JSONDecoder().decode([Comparison.Row].self, from: Data(compared.stdout.utf8))
        #expect(rows.allSatisfy { $0.sameTiming && $0.timing == Timing.wallWindow })
        #expect(Set(rows.map(\.topology)) == Set(Self.topologies.dropFirst()))
        for n in [2, 4, 7] {
            let tenant = try #require(
                rows.first {
                    $0.topology == "time-sliced-\(n)" && $0.workload == "gemm" && $0.metric == "bf16"
                        && $0.tenant == "gpu#0"
                })
            #expect(abs(tenant.ratio * Double(n) - 1) < 0.25, "time-sliced-\(n): \(tenant.ratio)")
        }
        for row in rows where row.tenant == "(aggregate)" && row.workload == "stream" {
            #expect(row.ratio < 1.1, "\(row.topology) \(row.metric): more than the card's bandwidth")
        }
    }
}
