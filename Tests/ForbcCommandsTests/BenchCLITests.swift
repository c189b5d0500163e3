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
        #expect(results.allSatisfy { $0.status == "ok" && $0.manifestHash.count == 16 && $0.forbcVersion == ForbcBench.version })
        #expect(results.filter { $0.tenant == "(aggregate)" }.count == 3)

        let compared = cli.run(["bench", "compare"] + state + ["--baseline", "bench-cpu/solo", "--output", "json"])
        let rows = try JSONDecoder().decode([Comparison.Row].self, from: Data(compared.stdout.utf8))
        #expect(rows.count == 9 && rows.allSatisfy { $0.topology == "bench-cpu/pair" && $0.low <= $0.ratio && $0.ratio <= $0.high })

        let html = cli.stateDir.appendingPathComponent("report.html").path
        #expect(cli.run(["bench", "report"] + state + ["--baseline", "bench-cpu/solo", "--out", html]).code == 0)
        let text = try String(contentsOfFile: html, encoding: .utf8)
        #expect(text.contains("<svg class=\"bars\"") && text.contains("<svg class=\"scaling\"") && text.contains("<table>"))

        let png = cli.stateDir.appendingPathComponent("report.png").path
        let (rendered, log) = try run("chromium", ["--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
                                                   "--window-size=1200,1400", "--screenshot=\(png)", "file://\(html)"])
        try #require(rendered == 0 && FileManager.default.fileExists(atPath: png),
                     "headless Chromium did not render the report (the README's test command installs 'chromium'): \(log.suffix(400))")
        let (counted, counts) = try run("python3", [RepositoryPaths.root.appendingPathComponent("Tests/report/png_colors.py").path, png, "2f6fb0", "c0392b"])
        #expect(counted == 0)
        let pixels = try #require(try JSONSerialization.jsonObject(with: Data(counts.utf8)) as? [String: Int])
        // Six bars and three scaling lines in the bar colour; three dashed ideal lines in red.
        #expect((pixels["2f6fb0"] ?? 0) > 10_000, "bars: \(pixels)")
        #expect((pixels["c0392b"] ?? 0) > 300, "ideal lines: \(pixels)")
    }
}
