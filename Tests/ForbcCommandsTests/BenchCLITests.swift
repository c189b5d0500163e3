import ForbcBench
import ForbcCommands
import ForbcCore
import ForbcTestSupport
import Foundation
import Testing

/// Manifests/bench-cpu.yaml end to end: run (two topologies: one tenant, two behind a barrier), stored,
/// compared, and the report rendered by headless Chromium to a PNG whose pixels show the charts.
@Suite("benchmarks end to end")
struct BenchCLITests {
    func run(_ executable: String, _ arguments: [String]) throws -> (Int32, String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = [executable] + arguments
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        try process.run()
        let output = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        return (process.terminationStatus, output)
    }

    @Test("bench-cpu: run, store, compare, report, render")
    func benchCPU() throws {
        let cli = CLI()
        let manifest = RepositoryPaths.manifest("bench-cpu")
        let state = ["--state-dir", cli.stateDir.path]
        let ran = cli.run(["bench", "run"] + state + [manifest, "--launches", "1", "--max-launches", "1"])
        #expect(ran.code == 0, "\(ran.stderr)")
        #expect(ran.stdout.contains("Stored 12 result(s)"))
        let store = try ResultStore(path: cli.stateDir.appendingPathComponent("bench.sqlite").path)
        let results = try store.all()
        #expect(Set(results.map(\.topology)) == ["bench-cpu/solo", "bench-cpu/pair"])
        #expect(
            results.allSatisfy {
                $0.status == "ok" && $0.manifestHash.count == 16 && $0.forbcVersion == ForbcBench.version
            })
        #expect(results.filter { $0.tenant == "(aggregate)" }.count == 3)

        let compared = cli.run(["bench", "compare"] + state + ["--baseline", "bench-cpu/solo", "--output", "json"])
        let rows = try JSONDecoder().decode([Comparison.Row].self, from: Data(compared.stdout.utf8))
        #expect(
            rows.count == 9
                && rows.allSatisfy { $0.topology == "bench-cpu/pair" && $0.low <= $0.ratio && $0.ratio <= $0.high })

        let html = cli.stateDir.appendingPathComponent("report.html").path
        #expect(cli.run(["bench", "report"] + state + ["--baseline", "bench-cpu/solo", "--out", html]).code == 0)
        let text = try String(contentsOfFile: html, encoding: .utf8)
        #expect(
            text.contains("<svg class=\"bars\"") && text.contains("<svg class=\"scaling\"") && text.contains("<table>"))

        let png = cli.stateDir.appendingPathComponent("report.png").path
        let (rendered, log) = try run(
            "chromium",
            [
                "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
                "--window-size=1200,1400", "--screenshot=\(png)", "file://\(html)",
            ])
        try #require(
            rendered == 0 && FileManager.default.fileExists(atPath: png),
            "headless Chromium did not render the report (the README's test command installs 'chromium'): \(log.suffix(400))"
        )
        let (counted, counts) = try run(
            "python3",
            [RepositoryPaths.root.appendingPathComponent("Tests/report/png_colors.py").path, png, "2f6fb0", "c0392b"])
        #expect(counted == 0)
        let pixels = try #require(try JSONSerialization.jsonObject(with: Data(counts.utf8)) as? [String: Int])
        // Six bars and three scaling lines in the bar colour; three dashed ideal lines in red.
        #expect((pixels["2f6fb0"] ?? 0) > 10_000, "bars: \(pixels)")
        #expect((pixels["c0392b"] ?? 0) > 300, "ideal lines: \(pixels)")
    }
}

/// The run on the lent H100 (Tests/Fixtures/h100-bench, made by Tests/Bench/h100-run.sh): imported, compared and
/// reported like any results.
@Suite("the H100 benchmark results")
struct H100BenchTests {
    static let directory = RepositoryPaths.fixture("h100-bench")

    @Test("import, compare against the full GPU, report: every topology is there and plausible")
    func importCompareReport() throws {
        let cli = CLI()
        let state = ["--state-dir", cli.stateDir.path]
        let imported = cli.run(
            ["bench", "import"] + state + ["\(Self.directory)/results.jsonl", "--source", "h100-2026-11-25"])
        #expect(
            imported.code == 0 && imported.stdout == "Imported 145 result(s) from \(Self.directory)/results.jsonl.\n")
        let results = try ResultStore(path: cli.stateDir.appendingPathComponent("bench.sqlite").path).all()
        #expect(
            Set(results.map(\.topology)) == [
                "full-gpu", "time-sliced-2", "time-sliced-4", "time-sliced-7", "mps-2x50", "mps-7x14",
            ])
        #expect(results.allSatisfy { $0.status == "ok" && $0.source == "h100-2026-11-25" })
        let full = Dictionary(
            uniqueKeysWithValues: results.filter { $0.topology == "full-gpu" }.map {
                ("\($0.workload)/\($0.metric)", $0)
            })
        #expect(
            full["gemm/bf16"]?.gpuModel == "NVIDIA H100 80GB HBM3" && full["gemm/bf16"]?.partitionKind == "passthrough")
        #expect((600...900).contains(full["gemm/bf16"]?.median ?? 0), "bf16 TFLOP/s")
        #expect((2500...3400).contains(full["stream/copy"]?.median ?? 0), "HBM3 copy GB/s")
        // Time-slicing splits the GPU: each of n tenants gets about 1/n of the bf16 matrix throughput.
        let rows = try JSONDecoder().decode(
            [Comparison.Row].self,
            from: Data(
                cli.run(["bench", "compare"] + state + ["--baseline", "full-gpu", "--output", "json"]).stdout.utf8))
        for n in [2, 4, 7] {
            let tenant = try #require(
                rows.first {
                    $0.topology == "time-sliced-\(n)" && $0.workload == "gemm" && $0.metric == "bf16"
                        && $0.tenant == "gpu#0"
                })
            #expect(abs(tenant.ratio * Double(n) - 1) < 0.2, "time-sliced-\(n): \(tenant.ratio)")
            // … and together they get most of the GPU: the aggregate is the sum of the tenants' medians over one common
            // window, never more than the card can do.
            let aggregate = try #require(
                rows.first {
                    $0.topology == "time-sliced-\(n)" && $0.workload == "gemm" && $0.metric == "bf16"
                        && $0.tenant == "(aggregate)"
                })
            #expect(
                (0.75...1.05).contains(aggregate.ratio) && aggregate.low <= aggregate.ratio
                    && aggregate.ratio <= aggregate.high, "aggregate \(aggregate.ratio)")
        }
        for row in rows where row.tenant == "(aggregate)" && row.workload == "stream" {
            #expect(
                row.ratio < 1.1, "\(row.topology) \(row.metric): co-tenants cannot move more than the card's bandwidth")
        }
        // The harness reports what the bare code reports, and takes ≤ 1% of the wall time (its second run).
        let overhead = try String(contentsOfFile: "\(Self.directory)/overhead-run2.txt", encoding: .utf8)
        #expect(
            overhead.contains("overhead worst |ratio - 1|: 2.36% (target <= 3%)")
                && overhead.contains("the harness took 0.04 s (0.16%)"))
        let html = cli.stateDir.appendingPathComponent("h100.html").path
        #expect(cli.run(["bench", "report"] + state + ["--baseline", "full-gpu", "--out", html]).code == 0)
        let text = try String(contentsOfFile: html, encoding: .utf8)
        for topology in ["time-sliced-7", "mps-2x50", "mps-7x14"] { #expect(text.contains(topology)) }
        #expect(text.components(separatedBy: "<svg class=\"bars\"").count - 1 == 10, "one chart a workload and metric")
        // The report made on the H100 itself is kept beside its results.
        let kept = try String(contentsOfFile: "\(Self.directory)/report.html", encoding: .utf8)
        #expect(
            kept.contains("NVIDIA H100 80GB HBM3")
                && kept.components(separatedBy: "<svg class=\"bars\"").count - 1 == 10)
        // The Phoronix export names each topology as a system.
        let xml = cli.run(["bench", "export"] + state + ["--format", "phoronix"]).stdout
        #expect(xml.components(separatedBy: "<System>").count - 1 == 6 && xml.contains("<Proportion>LIB</Proportion>"))
    }
}
