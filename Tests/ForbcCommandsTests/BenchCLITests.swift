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
        // One launch each: every result says so, on stderr, with the remedy.
        #expect(
            ran.stderr.contains("warning: bench-cpu/solo ")
                && ran.stderr.contains(
                    "few launches: 1 (the interval needs 10 to cover 95%); rerun with '--launches 10'")
        )
        let store = try ResultStore(path: cli.stateDir.appendingPathComponent("bench.sqlite").path)
        let results = try store.all()
        #expect(Set(results.map(\.topology)) == ["bench-cpu/solo", "bench-cpu/pair"])
        #expect(
            results.allSatisfy {
                $0.status == "ok" && $0.manifestHash.count == 16 && $0.forbcVersion == ForbcBench.version
            })
        #expect(results.filter { $0.tenant == "(aggregate)" }.count == 3)
        // The lone tenant timed itself (the host's clock), the pair a common wall-clock window.
        #expect(
            results.allSatisfy {
                $0.timing == ($0.topology == "bench-cpu/solo" ? Timing.hostClock : Timing.wallWindow)
            })

        try pairByTiming(cli, manifest: manifest, store: store)
        let html = try reportWithFigures(cli, store: store)
        try render(html)
    }

    /// Compared with a lone tenant timed by its own clock, every co-tenant ratio says it mixes methods; once the
    /// lone tenant is windowed too (`--window-always`), the pair is compared with that run.
    func pairByTiming(_ cli: CLI, manifest: String, store: ResultStore) throws {
        let state = ["--state-dir", cli.stateDir.path]
        // Only a baseline timed otherwise: every ratio says it mixes methods, loudly.
        let compare = ["bench", "compare"] + state + ["--baseline", "bench-cpu/solo"]
        let mixed = try JSONDecoder().decode(
            [Comparison.Row].self, from: Data(cli.run(compare + ["--output", "json"]).stdout.utf8))
        #expect(mixed.count == 9 && mixed.allSatisfy { !$0.sameTiming && $0.baselineTiming == Timing.hostClock })
        let mixedText = cli.run(compare)
        #expect(
            mixedText.stdout.contains(
                "WARNING: 9 of these ratios MIX TIMING METHODS (9 timed wall-window vs host-clock)"))
        #expect(mixedText.stderr.contains("warning: 9 ratio(s) mix timing methods"))

        // The lone tenant windowed too: the pair is compared with that run, like with like.
        let windowed = cli.run(
            ["bench", "run"] + state + [manifest, "--suite", "solo", "--window-always", "--launches", "1"]
                + ["--max-launches", "1"])
        #expect(windowed.code == 0, "\(windowed.stderr)")
        let windowRun = try #require(
            try store.all().first { $0.topology == "bench-cpu/solo" && $0.timing == Timing.wallWindow }?.runID)
        let rows = try JSONDecoder().decode(
            [Comparison.Row].self, from: Data(cli.run(compare + ["--output", "json"]).stdout.utf8))
        #expect(
            rows.count == 9
                && rows.allSatisfy {
                    $0.topology == "bench-cpu/pair" && $0.low <= $0.ratio && $0.ratio <= $0.high && $0.sameTiming
                        && $0.timing == Timing.wallWindow
                })
        let same = cli.run(compare)
        #expect(
            same.stdout.contains("run(s) \(windowRun.prefix(8)) timed by wall-window (the latest of 1 run timed by")
                && !same.stdout.contains("MIX") && !same.stderr.contains("mix timing"))
    }

    /// The report with `--figures`: every chart also a standalone SVG file, the same as the report's.
    func reportWithFigures(_ cli: CLI, store: ResultStore) throws -> String {
        let state = ["--state-dir", cli.stateDir.path]
        let html = cli.stateDir.appendingPathComponent("report.html").path
        let figures = cli.stateDir.appendingPathComponent("figures")
        let reported = cli.run(
            ["bench", "report"] + state + ["--baseline", "bench-cpu/solo", "--out", html, "--figures", figures.path])
        #expect(reported.code == 0 && reported.stdout.contains("Wrote 6 figure(s) to \(figures.path) (SVG)."))
        let text = try String(contentsOfFile: html, encoding: .utf8)
        #expect(
            text.contains("<svg class=\"bars\"") && text.contains("<svg class=\"scaling\"") && text.contains("<table>"))
        let all = try store.all()
        #expect(text.contains("<details class=warnings open><summary>Warnings: \(all.count) of \(all.count) results"))
        // Each figure a standalone SVG file, the same as the report's.
        let files = try FileManager.default.contentsOfDirectory(atPath: figures.path).sorted()
        #expect(files.count == 6 && files.allSatisfy { $0.hasSuffix(".svg") })
        for file in files {
            let svg = try String(contentsOf: figures.appendingPathComponent(file), encoding: .utf8)
            #expect(svg.hasPrefix("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<svg class="))
            #expect(svg.contains("xmlns=\"http://www.w3.org/2000/svg\"") && svg.contains("viewBox=\"0 0 "))
            #expect(text.contains(String(svg.drop { $0 != "\n" }.dropFirst())), "\(file) is in the report")
        }
        return html
    }

    /// The report rendered by headless Chromium: its pixels show the bars and the ideal lines; and a figure file
    /// alone renders as well.
    func render(_ html: String) throws {
        let pixels = try shot(html, size: "1200,1400")
        // Six bars and three scaling lines in the bar colour; three dashed ideal lines in red.
        #expect((pixels["2f6fb0"] ?? 0) > 10_000, "bars: \(pixels)")
        #expect((pixels["c0392b"] ?? 0) > 300, "ideal lines: \(pixels)")
        let folder = ((html as NSString).deletingLastPathComponent as NSString).appendingPathComponent("figures")
        let scaling = try #require(
            try FileManager.default.contentsOfDirectory(atPath: folder).first { $0.contains("-scaling-") })
        let figure = try shot("\(folder)/\(scaling)", size: "460,340")
        #expect((figure["2f6fb0"] ?? 0) > 300 && (figure["c0392b"] ?? 0) > 100, "\(scaling): \(figure)")
    }

    /// A file rendered by headless Chromium to a PNG: the pixels near the bar and ideal colours.
    func shot(_ path: String, size: String) throws -> [String: Int] {
        let png = (path as NSString).deletingPathExtension + ".png"
        let (rendered, log) = try run(
            "chromium",
            [
                "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
                "--window-size=\(size)", "--screenshot=\(png)", "file://\(path)",
            ])
        let why = "headless Chromium did not render \(path) (the README's test command installs 'chromium')"
        try #require(rendered == 0 && FileManager.default.fileExists(atPath: png), "\(why): \(log.suffix(400))")
        let (counted, counts) = try run(
            "python3",
            [RepositoryPaths.root.appendingPathComponent("Tests/report/png_colors.py").path, png, "2f6fb0", "c0392b"])
        #expect(counted == 0)
        return try #require(try JSONSerialization.jsonObject(with: Data(counts.utf8)) as? [String: Int])
    }
}

/// The run on the lent H100 (Tests/Fixtures/h100-bench, made by Tests/Bench/h100-run.sh): imported, compared and
/// reported like any results. The lone full GPU was measured twice, timed by a wall-clock window as the co-tenants
/// are (`--window-always`, the baseline they are compared with) and by CUDA events (its own method); compare.txt and
/// report.html are `bench compare --baseline full-gpu` and `bench report --baseline full-gpu` of results.jsonl; the
/// checks below recompute what they check from the stored values, never from literal strings of the fixture.
@Suite("the H100 benchmark results")
struct H100BenchTests {
    static let directory = RepositoryPaths.fixture("h100-bench")

    /// A number as `bench compare` and the report print it.
    static func number(_ value: Double) -> String {
        value >= 100 ? String(format: "%.1f", value) : String(format: "%.3g", value)
    }

    /// The fixture's results imported into a fresh store.
    func imported() throws -> (CLI, [String], [BenchResult]) {
        let cli = CLI()
        let state = ["--state-dir", cli.stateDir.path]
        let imported = cli.run(
            ["bench", "import"] + state + ["\(Self.directory)/results.jsonl", "--source", "h100-2026-11-26"])
        let lines = try String(contentsOfFile: "\(Self.directory)/results.jsonl", encoding: .utf8).split(
            separator: "\n")
        #expect(
            imported.code == 0
                && imported.stdout.hasPrefix(
                    "Imported \(lines.count) result(s) from \(Self.directory)/results.jsonl.\n"),
            "\(imported.stdout)\(imported.stderr)")
        return (cli, state, try ResultStore(path: cli.stateDir.appendingPathComponent("bench.sqlite").path).all())
    }

    @Test("import, compare against the full GPU, report: every topology is there and plausible")
    func importCompareReport() throws {
        let (cli, state, results) = try imported()
        #expect(
            Set(results.map(\.topology)) == [
                "full-gpu", "time-sliced-2", "time-sliced-4", "time-sliced-7", "mps-2x50", "mps-7x14",
            ])
        #expect(results.allSatisfy { $0.status == "ok" && $0.source == "h100-2026-11-26" })
        let full = Dictionary(
            uniqueKeysWithValues: results.filter { $0.topology == "full-gpu" && $0.timing == Timing.wallWindow }.map {
                ("\($0.workload)/\($0.metric)", $0)
            })
        let events = results.filter { $0.topology == "full-gpu" && $0.timing == Timing.deviceEvents }
        #expect(Set(events.map { "\($0.workload)/\($0.metric)" }) == Set(full.keys))
        // The graphics workload on the GPU, timed by the host's clock around whole frames.
        let frames = results.filter { $0.workload.hasPrefix("render") }
        #expect(frames.count == 2 && frames.allSatisfy { $0.timing == Timing.hostClock && ($0.median ?? 0) > 10 })
        #expect(
            full["gemm/bf16"]?.gpuModel == "NVIDIA H100 80GB HBM3" && full["gemm/bf16"]?.partitionKind == "passthrough")
        #expect((600...900).contains(full["gemm/bf16"]?.median ?? 0), "bf16 TFLOP/s")
        #expect((2500...3400).contains(full["stream/copy"]?.median ?? 0), "HBM3 copy GB/s")
        // Four launches of three repetitions (the device time a session has was the limit).
        #expect(full["gemm/bf16"]?.launches?.map(\.count) == [3, 3, 3, 3])
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
        }
        for row in rows where row.tenant == "(aggregate)" && row.workload == "stream" {
            #expect(
                row.ratio < 1.1, "\(row.topology) \(row.metric): co-tenants cannot move more than the card's bandwidth")
        }
        // The Phoronix export names each topology as a system.
        let xml = cli.run(["bench", "export"] + state + ["--format", "phoronix"]).stdout
        #expect(xml.components(separatedBy: "<System>").count - 1 == 6 && xml.contains("<Proportion>HIB</Proportion>"))
    }

    @Test("the overhead figures are what the harness's stored results and the bare medians give")
    func overhead() throws {
        // overhead.py's lines: "overhead W/M: bare median B, harness median H, ratio R"; the harness's values stored.
        let text = try String(contentsOfFile: "\(Self.directory)/overhead-run2.txt", encoding: .utf8)
        let stored = try Interchange.readJSONLines(
            try String(contentsOfFile: "\(Self.directory)/overhead-run2.jsonl", encoding: .utf8), file: "o",
            source: "o")
        var worst = 0.0
        var compared = 0
        for line in text.split(separator: "\n") {
            guard
                let match = line.wholeMatch(
                    of: /overhead (\S+)\/(\S+): bare median (\S+), harness median (\S+), ratio (\S+)/),
                let bare = Double(match.3)
            else { continue }
            let harness = try #require(stored.first { $0.workload == match.1 && $0.metric == match.2 })
            let median = Statistics.median(harness.valueList)
            #expect(String(format: "%.2f", median) == String(match.4), "\(match.1)/\(match.2)")
            #expect(String(format: "%.4f", median / bare) == String(match.5))
            worst = max(worst, abs(median / bare - 1))
            compared += 1
        }
        #expect(compared == Set(stored.map { "\($0.workload)/\($0.metric)" }).count)
        let stated = String(format: "overhead worst |ratio - 1|: %.2f%% (target <= 3%%)", worst * 100)
        #expect(text.contains(stated) && worst <= 0.03, "\(stated)")
        // The harness's own account: wall time minus process time, and that share of the process time.
        // "bench: W s wall since forbc started, P s in workload processes: the harness took T s (S%)"
        let account = try #require(text.split(separator: "\n").first { $0.hasPrefix("bench: ") })
        let figures = account.components(separatedBy: CharacterSet(charactersIn: " (%)")).compactMap(Double.init)
        try #require(figures.count == 4, "\(account)")
        let (wall, processes, took, share) = (figures[0], figures[1], figures[2], figures[3])
        // Printed to 0.01: the figures agree within what that rounding allows, and the share is at most 1%.
        #expect(abs((wall - processes) - took) <= 0.015)
        let low = ((wall - 0.005) / (processes + 0.005) - 1) * 100
        let high = ((wall + 0.005) / (processes - 0.005) - 1) * 100
        #expect(low - 0.005 <= share && share <= high + 0.005 && share <= 1, "\(low) \(share) \(high)")
    }

    @Test("every aggregate's interval comes from its tenants and the baseline, recomputed from the stored values")
    func aggregates() throws {
        let (cli, state, results) = try imported()
        let rows = try JSONDecoder().decode(
            [Comparison.Row].self,
            from: Data(
                cli.run(["bench", "compare"] + state + ["--baseline", "full-gpu", "--output", "json"]).stdout.utf8))
        let aggregates = rows.filter { $0.tenant == "(aggregate)" }
        #expect(aggregates.count == 25)
        for row in aggregates {
            let base = try #require(
                results.first {
                    $0.topology == "full-gpu" && $0.workload == row.workload && $0.metric == row.metric
                        && $0.timing == row.baselineTiming
                })
            #expect(row.sameTiming && row.timing == Timing.wallWindow && row.baselineTiming == Timing.wallWindow)
            let tenants = results.filter {
                $0.runID == row.runID && $0.topology == row.topology && $0.workload == row.workload
                    && $0.metric == row.metric && $0.tenant != "(aggregate)"
            }
            let groups = TenantGroups(try tenants.map { try #require($0.launches) })
            let expected = Bootstrap.ratio(.aggregate(groups), to: LaunchGroups(try #require(base.launches)))
            #expect(
                row.ratio == expected.ratio && row.low == expected.low && row.high == expected.high
                    && row.low <= row.ratio && row.ratio <= row.high, "\(row.topology) \(row.workload) \(row.metric)")
            // The aggregate is the sum of the tenants' medians over the baseline's median.
            let sum = tenants.map { Statistics.median($0.valueList) }.reduce(0, +)
            #expect(abs(row.ratio - sum / Statistics.median(base.valueList)) < 1e-12)
        }
        // No longer the baseline's interval rescaled: 2, 4 and 7 time-sliced tenants get intervals of their own.
        let bf16 = aggregates.filter { $0.workload == "gemm" && $0.metric == "bf16" && $0.topology.hasPrefix("time") }
        #expect(Set(bf16.map { "\($0.low) \($0.high)" }).count == 3)
    }

    /// A ratio recomputed from the values — the tenant's median (or the sum of the tenants' medians) over the full
    /// GPU's median — and shown with its interval and both absolute values in `texts` (compare) and `pages`.
    func shown(_ row: Comparison.Row, results: [BenchResult], texts: [String], pages: [String]) throws {
        let base = try #require(
            results.first {
                $0.topology == "full-gpu" && $0.workload == row.workload && $0.metric == row.metric
                    && $0.timing == row.baselineTiming
            })
        let tenants = results.filter {
            $0.runID == row.runID && $0.workload == row.workload && $0.metric == row.metric
                && $0.tenant != "(aggregate)" && (row.tenant == "(aggregate)" || $0.tenant == row.tenant)
        }
        let value = tenants.map { Statistics.median($0.valueList) }.reduce(0, +)
        let baseline = Statistics.median(base.valueList)
        #expect(abs(row.ratio - value / baseline) < 1e-12 && abs(row.value - value) < 1e-9)
        let ratio = String(format: "%.3f [%.3f, %.3f]", row.ratio, row.low, row.high)
        for output in texts + pages { #expect(output.contains(ratio), "\(ratio)") }
        let absolute = "\(Self.number(value)) vs \(Self.number(baseline)) \(row.unit)"
        for text in texts { #expect(text.contains(absolute), "\(absolute)") }
        for page in pages { #expect(page.contains("<td>\(Self.number(baseline)) \(row.unit)</td>")) }
    }

    @Test("compare.txt and report.html show the ratios, absolute values and timing computed from the stored values")
    func regenerated() throws {
        let (cli, state, results) = try imported()
        let rows = try JSONDecoder().decode(
            [Comparison.Row].self,
            from: Data(
                cli.run(["bench", "compare"] + state + ["--baseline", "full-gpu", "--output", "json"]).stdout.utf8))
        let compared = cli.run(["bench", "compare"] + state + ["--baseline", "full-gpu"])
        let kept = try String(contentsOfFile: "\(Self.directory)/compare.txt", encoding: .utf8)
        let html = cli.stateDir.appendingPathComponent("h100.html").path
        #expect(cli.run(["bench", "report"] + state + ["--baseline", "full-gpu", "--out", html]).code == 0)
        let text = try String(contentsOfFile: html, encoding: .utf8)
        let keptReport = try String(contentsOfFile: "\(Self.directory)/report.html", encoding: .utf8)
        // Every co-tenant is timed by a wall-clock window and paired with the lone GPU timed the same way: no ratio
        // mixes methods (the lone GPU's CUDA-event run is beside it, never paired with a window).
        let cotenants = results.filter { $0.topology != "full-gpu" }
        #expect(cotenants.allSatisfy { $0.tenants > 1 && $0.timing == Timing.wallWindow })
        #expect(rows.count == cotenants.count && rows.allSatisfy { $0.sameTiming })
        for output in [compared.stdout, compared.stderr, kept, text, keptReport] {
            #expect(!output.contains("MIX TIMING") && !output.contains("ratios mix timing"))
        }
        #expect(kept.contains("baseline: 'full-gpu' run(s)") && kept.contains("timed by wall-window"))
        for row in rows {
            try shown(row, results: results, texts: [compared.stdout, kept], pages: [text, keptReport])
        }
        for topology in ["time-sliced-7", "mps-2x50", "mps-7x14"] { #expect(text.contains(topology)) }
        // For each workload and metric measured with co-tenants, a chart a family (time-sliced-N, mps-…), with the
        // co-tenants' scaling beside.
        let series = Set(cotenants.map { "\($0.workload) \($0.metric)" }).count
        #expect(text.components(separatedBy: "<svg class=\"bars\"").count - 1 == 2 * series)
        #expect(text.components(separatedBy: "<svg class=\"scaling\"").count - 1 == 2 * series)
        #expect(text.contains("NVIDIA H100 80GB HBM3"))
        // Every result's warnings, recomputed from its values, are in the report and in the comparison.
        for result in results where result.tenant != "(aggregate)" {
            let launches = try #require(result.launches)
            let found = Stability.findings(launches).warnings
            #expect(found.allSatisfy { result.warningList.contains($0) }, "\(result.topology) \(result.tenant)")
            for warning in found {
                let escaped = warning.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(
                    of: "<", with: "&lt;"
                ).replacingOccurrences(of: ">", with: "&gt;")
                #expect(text.contains(escaped))
            }
        }
        // Four launches everywhere: every result says the interval needs more.
        #expect(
            results.filter { $0.tenant != "(aggregate)" }.allSatisfy {
                $0.warningList.contains { $0.hasPrefix("few launches: 4") }
            })
    }
}

/// The results store: a baseline chosen by a stated rule, identical results stored once, summaries that must
/// agree with their values.
@Suite("the results store's rules")
struct StoreRuleTests {
    static let results = RepositoryPaths.fixture("h100-bench") + "/results.jsonl"

    /// The fixture's lines as JSON objects.
    func lines() throws -> [[String: Any]] {
        try String(contentsOfFile: Self.results, encoding: .utf8).split(separator: "\n").map {
            try #require(try JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any])
        }
    }

    func write(_ lines: [[String: Any]]) throws -> String {
        let path = makeTemporaryDirectory("jsonl").appendingPathComponent("r.jsonl").path
        let text = try lines.map {
            String(decoding: try JSONSerialization.data(withJSONObject: $0, options: [.sortedKeys]), as: UTF8.self)
        }.joined(separator: "\n")
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    @Test("importing the same results twice stores them once (content hash)")
    func duplicateImport() throws {
        let cli = CLI()
        let state = ["--state-dir", cli.stateDir.path]
        let count = try lines().count
        #expect(cli.run(["bench", "import"] + state + [Self.results]).stdout.hasPrefix("Imported \(count) result(s)"))
        let again = cli.run(["bench", "import"] + state + [Self.results, "--source", "elsewhere"])
        #expect(again.code == 0 && again.stdout.hasPrefix("Imported 0 result(s)"))
        #expect(again.stdout.contains("Skipped \(count) result(s) already stored (the same content hash)."))
        #expect(try ResultStore(path: cli.stateDir.appendingPathComponent("bench.sqlite").path).all().count == count)
        // What the store exports (with the summaries recomputed, the new fields) is the same content again.
        let exported = cli.stateDir.appendingPathComponent("out.jsonl").path
        #expect(cli.run(["bench", "export"] + state + ["--out", exported]).code == 0)
        #expect(cli.run(["bench", "import"] + state + [exported]).stdout.hasPrefix("Imported 0 result(s)"))
    }

    @Test("a summary that disagrees with its values is refused, and nothing is stored", arguments: [0, 2])
    func forgedSummary(line: Int) throws {
        var lines = try lines()
        // Line 0: the full GPU's bf16 median; the first aggregate: its sum of the tenants' medians.
        let index = line == 0 ? 0 : try #require(lines.firstIndex { ($0["tenant"] as? String) == "(aggregate)" })
        lines[index]["median"] = 999.0
        let cli = CLI()
        let state = ["--state-dir", cli.stateDir.path]
        let refused = cli.run(["bench", "import"] + state + [try write(lines)])
        #expect(
            refused.code != 0 && refused.stderr.contains("stored 'median' 999.0 disagrees with"), "\(refused.stderr)")
        #expect(refused.stderr.contains("refusing a forged or stale summary"))
        #expect(cli.run(["bench", "list"] + state).stdout.hasPrefix("No results stored."))
    }

    @Test("a timing that is no method is refused with its place, and nothing is stored")
    func badTiming() throws {
        var lines = try lines()
        lines[3]["timing"] = "stopwatch"
        let cli = CLI()
        let state = ["--state-dir", cli.stateDir.path]
        let path = try write(lines)
        let refused = cli.run(["bench", "import"] + state + [path])
        #expect(
            refused.code != 0
                && refused.stderr.contains("\(path):4:1: error: 'timing' is 'stopwatch'; it must be one of "),
            "\(refused.stderr)")
        let option = cli.run(["bench", "import"] + state + [Self.results, "--timing", "cuda"])
        #expect(option.code != 0 && option.stderr.contains("'--timing' is 'cuda'; it must be one of device-events, "))
        #expect(cli.run(["bench", "list"] + state).stdout.hasPrefix("No results stored."))
        // Lines without 'timing' and no '--timing': what the data does not tell is unknown (a lone tenant).
        #expect(
            cli.run(
                ["bench", "import"] + state + [try write(try self.lines().map { $0.filter { $0.key != "timing" } })]
            ).code == 0)
        let stored = try ResultStore(path: cli.stateDir.appendingPathComponent("bench.sqlite").path).all()
        #expect(stored.allSatisfy { $0.timing == ($0.tenants > 1 ? Timing.wallWindow : Timing.unknown) })
        // A figures folder that cannot be one: refused before the report is written.
        let html = cli.stateDir.appendingPathComponent("r.html").path
        let report = cli.run(["bench", "report"] + state + ["--out", html, "--figures", Self.results])
        #expect(report.code != 0 && report.stderr.contains("'--figures \(Self.results)' is not a folder forbc can"))
        #expect(!FileManager.default.fileExists(atPath: html))
    }

    @Test("two baseline runs: the latest by default, named; another by '--baseline-run'; or all pooled")
    func twoBaselineRuns() throws {
        let original = try lines()
        // A second full-GPU run, an hour later, measuring twice as much.
        let doubled: [[String: Any]] = try original.filter {
            ($0["topology"] as? String) == "full-gpu" && ($0["timing"] as? String) == Timing.wallWindow
        }.map {
            var line = $0
            let values = try #require(
                try JSONSerialization.jsonObject(with: Data((line["values"] as! String).utf8)) as? [Double]
            ).map { $0 * 2 }
            line["values"] = String(decoding: try JSONSerialization.data(withJSONObject: values), as: UTF8.self)
            line["median"] = Statistics.median(values)
            line["mad"] = Statistics.mad(values)
            line["cv"] = Statistics.cv(values)
            line["runID"] = "99999999-second-run"
            line["time"] = "2026-11-27T00:00:00Z"
            return line
        }
        let cli = CLI()
        let state = ["--state-dir", cli.stateDir.path]
        #expect(cli.run(["bench", "import"] + state + [try write(original + doubled)]).code == 0)
        func ratio(_ extra: [String]) throws -> (Double, String) {
            let text = cli.run(["bench", "compare"] + state + ["--baseline", "full-gpu"] + extra).stdout
            let line = try #require(
                text.split(separator: "\n").first { $0.contains("time-sliced-2") && $0.contains("bf16    gpu#0") })
            let value = try #require(Double(line.split(separator: " ").dropFirst(4).first ?? ""))
            return (value, text)
        }
        let (latest, text) = try ratio([])
        #expect(text.contains("baseline: 'full-gpu' run(s) 99999999 timed by wall-window (the latest of "))
        let window = try #require(
            original.first { ($0["topology"] as? String) == "full-gpu" && ($0["timing"] as? String) == "wall-window" })
        let id = String(try #require(window["runID"] as? String).prefix(8))
        let (first, firstText) = try ratio(["--baseline-run", id])
        #expect(firstText.contains("run(s) \(id) timed by wall-window (chosen by '--baseline-run', of"))
        #expect(abs(latest * 2 - first) < 0.002, "\(latest) \(first)")
        let (pooled, pooledText) = try ratio(["--baseline-run", "all"])
        #expect(pooledText.contains("(all 2 runs, launches pooled") && latest < pooled && pooled < first)
        let unknown = cli.run(["bench", "compare"] + state + ["--baseline", "full-gpu", "--baseline-run", "nope"])
        #expect(unknown.code != 0 && unknown.stderr.contains("'--baseline-run nope' matches 0 run(s) of 'full-gpu'"))
    }
}

/// The MPS partition kind on the lent H100 (Tests/Bench/h100-mps.sh; Tests/Fixtures/h100-mps): NVIDIA's own
/// control daemon started by apply, quit behind forbc's back (drift 2), restarted by apply, two tenants measured on
/// the partition, quit by destroy. Checked from the run's log and its stored results.
@Suite("the MPS kind on the H100")
struct H100MPSTests {
    static let directory = RepositoryPaths.fixture("h100-mps")

    @Test("the lifecycle's exit codes, in order, as the run's log shows them")
    func lifecycle() throws {
        let log = try String(contentsOfFile: "\(Self.directory)/mps.log", encoding: .utf8)
        let steps = log.split(separator: "\n").filter { $0.hasPrefix("== ") || $0.hasPrefix("-- exit ") }
        let exits = steps.compactMap { $0.hasPrefix("-- exit ") ? Int($0.dropFirst(8)) : nil }
        // apply, discover, drift, drift (daemon gone), apply, drift, bench run, destroy
        #expect(exits == [0, 0, 0, 2, 0, 0, 0, 0], "\(steps)")
        #expect(log.contains("MPS: control daemon pid") && log.contains("active thread percentage 50%"))
        #expect(log.contains("missing 'shared': the MPS control daemon of GPU-"))
    }

    @Test("two tenants on the MPS partition: their aggregate is the sum of their medians, within the card")
    func results() throws {
        let text = try String(contentsOfFile: "\(Self.directory)/results.jsonl", encoding: .utf8)
        let results = try Interchange.readJSONLines(text, file: "mps", source: "mps")
        #expect(results.count == 15 && results.allSatisfy { $0.status == "ok" && $0.timing == Timing.wallWindow })
        #expect(results.filter { $0.tenant != "(aggregate)" }.allSatisfy { $0.partitionKind == "mps" })
        for aggregate in results where aggregate.tenant == "(aggregate)" {
            let tenants = results.filter {
                $0.workload == aggregate.workload && $0.metric == aggregate.metric && $0.tenant != "(aggregate)"
            }
            let sum = tenants.map { Statistics.median($0.valueList) }.reduce(0, +)
            #expect(tenants.count == 2 && abs((aggregate.median ?? 0) - sum) < 1e-9)
        }
        let bf16 = try #require(results.first { $0.metric == "bf16" && $0.tenant == "(aggregate)" })
        #expect((500...800).contains(bf16.median ?? 0), "bf16 TFLOP/s of two MPS tenants")
    }
}
