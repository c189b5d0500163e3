import ArgumentParser
import ForbcBench
import ForbcCore
import Foundation

/// `forbc bench run | list | compare | report | import | export`: the benchmark half.
struct Bench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Benchmarks: run a manifest's suites, list, compare, report, import and export the results.",
        discussion: """
            Examples:
              forbc bench run Manifests/bench-cpu.yaml --simulate nvidia-t4
              forbc bench compare --baseline full-gpu
              forbc bench report --out report.html --figures figures/
            """,
        subcommands: [
            BenchRun.self, BenchCampaign.self, BenchList.self, BenchCompare.self, BenchReport.self, BenchImport.self,
            BenchExport.self,
        ])
}

/// Where results are stored.
struct StoreOptions: ParsableArguments {
    @Option(help: ArgumentHelp("The results database (default: bench.sqlite in the state dir).", valueName: "FILE"))
    var db: String?

    func open(_ host: HostSession) throws -> ResultStore {
        let path = db ?? host.store.directory.appendingPathComponent("bench.sqlite").path
        // The default store is in the state dir, which forbc follows no link in (a '--db' the user names may be one).
        if db == nil && StateDirFile.isLink(path) { throw StateDirFile.linkError(path) }
        do { return try ResultStore(path: path) } catch {
            throw ForbcError(.system, "opening the results store \(path) failed: \(error)")
        }
    }
}

struct BenchRun: HostCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Run the manifest's benchmark suites on the converged host and store the results.",
        discussion: """
            Examples:
              forbc bench run Manifests/bench-cpu.yaml
              forbc bench run Manifests/bench-h100.yaml --suite gpu-basic --topology full-gpu
            """)

    @OptionGroup var global: GlobalOptions
    @OptionGroup var store: StoreOptions

    @Argument(help: ArgumentHelp("The manifest.", valueName: "FILE"))
    var file: String

    @Option(help: ArgumentHelp("Tag the results with this topology (default: MANIFEST/SUITE).", valueName: "NAME"))
    var topology: String?

    @Option(help: ArgumentHelp("Workload profiles (default: workloads/ beside the manifest).", valueName: "DIR"))
    var workloads: String?

    @Option(
        help: ArgumentHelp(
            "Process launches per workload at least (more while the CV is above 5%, up to --max-launches); "
                + "fewer than 10 is warned about: the interval needs them."))
    var launches = 10

    @Option(name: .customLong("max-launches"), help: "Process launches per workload at most.")
    var maxLaunches = 20

    @Option(help: ArgumentHelp("Run only this suite (repeatable; default: all).", valueName: "NAME"))
    var suite: [String] = []

    @Flag(
        name: .customLong("window-always"),
        help: "Time a lone tenant over a wall-clock window too, as co-tenants are (the same method for both).")
    var windowAlways = false

    func execute() throws {
        var manifest = try loadManifest(file)
        guard !manifest.benchmarks.isEmpty else {
            throw ForbcError(.invalidInput, "\(file) declares no 'spec.benchmarks'")
        }
        if !suite.isEmpty {
            for name in suite where !manifest.benchmarks.contains(where: { $0.suite == name }) {
                throw ForbcError(
                    .invalidInput,
                    "'--suite \(name)': \(file) has no such suite; it has "
                        + "\(manifest.benchmarks.map(\.suite).joined(separator: ", "))"
                )
            }
            manifest.benchmarks = manifest.benchmarks.filter { suite.contains($0.suite) }
        }
        let host = try global.openHost()
        let plan = try host.plan(manifest)
        guard plan.isEmpty else {
            throw ForbcError(
                .invalidInput,
                "the host does not match \(file) (\(plan.actions.count) change(s) pending); run 'forbc apply' "
                    + "first, so the results describe the manifest's topology"
            )
        }
        try Self.runSuites(
            manifest: manifest, file: file, plan: plan, host: host, store: store, topology: topology,
            workloads: workloads, launches: launches, maxLaunches: maxLaunches, windowAlways: windowAlways)
    }

    /// Runs, stores and prints a manifest's suites on a converged host (shared with `apply`).
    static func runSuites(
        manifest: Manifest, file: String, plan: Plan, host: HostSession, store: StoreOptions, topology: String?,
        workloads: String?, launches: Int = 10, maxLaunches: Int = 20, windowAlways: Bool = false
    ) throws {
        let directory = WorkloadFolder.path(for: file, override: workloads)
        try WorkloadFolder.check(manifest, folder: directory)
        var options = BenchRunner.Options()
        options.launches = max(1, launches)
        options.maxLaunches = max(options.launches, maxLaunches)
        options.windowAlways = windowAlways
        // Suites in domains reach them through libvirt's guest agent (the connection the plan opened).
        let inDomains = manifest.benchmarks.contains { !$0.vms.isEmpty } || !manifest.vms.isEmpty
        let agent = inDomains ? try host.hypervisor() as? any GuestAgentChannel : nil
        let runner = BenchRunner(
            profiles: try WorkloadProfile.loadAll(in: directory), options: options, agent: agent)
        let console = Console.current
        let results = try runner.run(
            manifest: manifest, plan: plan, inventory: try host.lastInventory ?? host.discover(), topology: topology,
            logs: try host.store.folder("bench-logs"), progress: { console.err("bench: \($0)") })
        let wall = Date().timeIntervalSince(ForbcCommand.started)
        let processes = runner.processSeconds.value
        console.err(
            String(
                format:
                    "bench: %.2f s wall since forbc started, %.2f s in workload processes: the harness took %.2f s "
                    + "(%.2f%%)",
                wall, processes, wall - processes, processes > 0 ? (wall / processes - 1) * 100 : 0))
        let opened = try store.open(host)
        try opened.insert(results)
        console.out(BenchTable.results(results))
        console.out("Stored \(results.count) result(s) in \(opened.path).")
        for line in BenchTable.warnings(results) { console.err("warning: \(line)") }
        let failed = results.filter { $0.status != "ok" }
        if !failed.isEmpty {
            for result in failed {
                console.err(
                    "error: \(result.topology) \(result.workload) on '\(result.tenant)' failed: "
                        + "\(result.failure ?? "?"); logs: \(result.logs)"
                )
            }
            throw ExitCode.failure
        }
    }
}

struct BenchList: HostCommand {
    static let configuration = CommandConfiguration(commandName: "list", abstract: "List the stored results.")

    @OptionGroup var global: GlobalOptions
    @OptionGroup var store: StoreOptions

    func execute() throws {
        let results = try store.open(try global.openHost()).all()
        if global.json {
            Console.current.out(try Render.json(encodable: results))
        } else {
            Console.current.out(results.isEmpty ? "No results stored." : BenchTable.results(results))
        }
    }
}

struct BenchCompare: HostCommand {
    static let configuration = CommandConfiguration(
        commandName: "compare", abstract: "Each topology as a ratio to a baseline topology, with a 95% CI.")

    @OptionGroup var global: GlobalOptions
    @OptionGroup var store: StoreOptions

    @Option(help: ArgumentHelp("The baseline topology.", valueName: "TOPOLOGY"))
    var baseline: String

    @Option(
        name: .customLong("baseline-run"),
        help: ArgumentHelp(
            "Which runs of the baseline topology: latest (the run with the newest result), all (launches pooled), "
                + "or a run ID (prefix).", valueName: "RUN"))
    var baselineRun = "latest"

    func execute() throws {
        let compared = try Comparison.compare(
            try store.open(try global.openHost()).all(), baseline: baseline,
            runs: Comparison.BaselineRuns(baselineRun))
        if global.json {
            Console.current.out(try Render.json(encodable: compared.rows))
        } else {
            Console.current.out(BenchTable.comparison(compared))
        }
        if !compared.mixed.isEmpty {
            Console.current.err(
                "warning: \(compared.mixed.count) ratio(s) mix timing methods (see 'timing' and 'baselineTiming'); "
                    + "measure the baseline as the topology was timed")
        }
    }
}

struct BenchReport: HostCommand {
    static let configuration = CommandConfiguration(
        commandName: "report", abstract: "Write one self-contained HTML report with SVG plots.")

    @OptionGroup var global: GlobalOptions
    @OptionGroup var store: StoreOptions

    @Option(help: ArgumentHelp("The baseline topology (default: the first stored).", valueName: "TOPOLOGY"))
    var baseline: String?

    @Option(
        name: .customLong("baseline-run"),
        help: ArgumentHelp("Which runs of the baseline topology: latest, all, or a run ID (prefix).", valueName: "RUN"))
    var baselineRun = "latest"

    @Option(help: ArgumentHelp("The HTML file to write.", valueName: "FILE"))
    var out: String

    @Option(help: ArgumentHelp("Also write each chart as a standalone SVG file in this folder.", valueName: "DIR"))
    var figures: String?

    func execute() throws {
        let results = try store.open(try global.openHost()).all()
        guard !results.isEmpty else {
            throw ForbcError(.invalidInput, "no results stored; run 'forbc bench run' first")
        }
        let runs = Comparison.BaselineRuns(baselineRun)
        let (html, charts) = try Report.build(
            results, baseline: baseline, runs: runs, title: "forbc benchmark report")
        // The folder first: a path that cannot be one fails before anything is written.
        let folder = figures.map { URL(fileURLWithPath: $0) }
        if let folder {
            do { try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true) } catch {
                throw ForbcError(
                    .invalidInput,
                    "'--figures \(folder.path)' is not a folder forbc can create: \(error.localizedDescription)")
            }
        }
        try AtomicFile.writeOutput(Data(html.utf8), to: URL(fileURLWithPath: out))
        Console.current.out("Wrote \(out) (\(results.count) results).")
        guard let figures, let folder else { return }
        for chart in charts {
            try AtomicFile.writeOutput(
                Data(chart.standalone.utf8), to: folder.appendingPathComponent("\(chart.name).svg"))
        }
        Console.current.out("Wrote \(charts.count) figure(s) to \(figures) (SVG).")
    }
}

struct BenchImport: HostCommand {
    static let configuration = CommandConfiguration(
        commandName: "import", abstract: "Store results measured elsewhere (JSON lines, as 'bench export' writes).")

    @OptionGroup var global: GlobalOptions
    @OptionGroup var store: StoreOptions

    @Argument(help: ArgumentHelp("A JSON-lines file.", valueName: "FILE"))
    var file: String

    @Option(help: ArgumentHelp("Where they were measured (default: import:FILE).", valueName: "NAME"))
    var source: String?

    @Option(
        help: ArgumentHelp(
            "How results that record no timing were timed where their data does not tell (a lone tenant): "
                + "device-events, host-clock or wall-window (default: unknown).", valueName: "METHOD"))
    var timing: String?

    /// The most bytes an imported file may hold (a results file of some 100,000 results).
    static let maximumBytes = 256 << 20

    func execute() throws {
        let data = try BoundedFile.read(file, limit: Self.maximumBytes, what: "a results file")
        guard let text = String(data: data, encoding: .utf8) else {
            throw ForbcError(.invalidInput, "'\(file)' is not UTF-8 text; results are JSON lines", path: file)
        }
        var results = try Interchange.readJSONLines(
            text, file: file, source: source ?? "import:\((file as NSString).lastPathComponent)")
        if let timing { try Timing.check(timing, what: "'--timing'") }
        for (i, result) in results.enumerated() where result.timing == nil {
            results[i].timing = Timing.inferred(result, fallback: timing)
        }
        try Summaries.verify(results, file: file)
        let hashes = results.map(Summaries.contentHash)
        Summaries.recompute(&results)
        for i in results.indices { results[i].contentHash = hashes[i] }
        let (inserted, duplicates) = try store.open(try global.openHost()).insert(results)
        Console.current.out("Imported \(inserted) result(s) from \(file).")
        if duplicates > 0 {
            Console.current.out("Skipped \(duplicates) result(s) already stored (the same content hash).")
        }
        let unknown = results.filter { $0.status == "ok" && $0.tenant != Summaries.aggregateTenant }
        let inferred = unknown.filter { $0.launchSizes == nil }.count
        if inferred > 0 {
            Console.current.out(
                "\(inferred) result(s) predate recorded launches: launches inferred from their logs where the values "
                    + "divide evenly, else marked unknown.")
        }
    }
}

struct BenchExport: HostCommand {
    static let configuration = CommandConfiguration(
        commandName: "export", abstract: "Write the stored results as JSON lines or Phoronix composite XML.")

    @OptionGroup var global: GlobalOptions
    @OptionGroup var store: StoreOptions

    @Option(help: "jsonl or phoronix.")
    var format = "jsonl"

    @Option(help: ArgumentHelp("The file to write (default: stdout).", valueName: "FILE"))
    var out: String?

    func execute() throws {
        let results = try store.open(try global.openHost()).all()
        let text: String
        switch format {
        case "jsonl": text = try Interchange.jsonLines(results)
        case "phoronix": text = Interchange.phoronix(results)
        default: throw ForbcError(.invalidInput, "'--format' is '\(format)'; it must be jsonl or phoronix")
        }
        if let out {
            try AtomicFile.writeOutput(Data(text.utf8), to: URL(fileURLWithPath: out))
            Console.current.out("Wrote \(results.count) result(s) to \(out).")
        } else {
            Console.current.out(text)
        }
    }
}

/// Text tables of results.
enum BenchTable {
    static func number(_ value: Double?) -> String {
        guard let value else { return "-" }
        return value >= 100 ? String(format: "%.1f", value) : String(format: "%.3g", value)
    }

    static func results(_ results: [BenchResult]) -> String {
        var lines = [
            "topology             workload     metric  tenant          median [95% CI]                 unit      CV "
                + "    n   status"
        ]
        for r in results {
            let ci = r.ciLow.map { "[\(number($0)), \(number(r.ciHigh))]" } ?? ""
            let count = r.valueList.count
            let cv =
                r.cv.map { String(format: "%.1f%%", $0 * 100) }
                ?? (r.fairness.map { String(format: "J=%.3f", $0) } ?? "-")
            lines.append(
                [
                    r.topology.padding(toLength: 20, withPad: " ", startingAt: 0),
                    r.workload.padding(toLength: 12, withPad: " ", startingAt: 0),
                    r.metric.padding(toLength: 7, withPad: " ", startingAt: 0),
                    r.tenant.padding(toLength: 15, withPad: " ", startingAt: 0),
                    "\(number(r.median)) \(ci)".padding(toLength: 31, withPad: " ", startingAt: 0),
                    r.unit.padding(toLength: 9, withPad: " ", startingAt: 0),
                    cv.padding(toLength: 6, withPad: " ", startingAt: 0),
                    String(count).padding(toLength: 3, withPad: " ", startingAt: 0),
                    r.status + (r.outliers == "[]" ? "" : " outliers \(r.outliers)"),
                ].joined(separator: " "))
        }
        return lines.joined(separator: "\n")
    }

    /// One line a result with warnings: what it is, then its warnings.
    static func warnings(_ results: [BenchResult]) -> [String] {
        results.filter { !$0.warningList.isEmpty }.map {
            "\($0.topology) \($0.workload) \($0.metric) on '\($0.tenant)': \($0.warningList.joined(separator: "; "))"
        }
    }

    static func comparison(_ compared: Comparison.Result) -> String {
        let rows = compared.rows
        var lines = [
            "Ratios to '\(compared.baseline.topology)' (median of the topology / median of the baseline; 95% CI by a "
                + "hierarchical bootstrap: launches, then repetitions, 10,000 resamples; an aggregate resamples every "
                + "tenant and the baseline; each result is paired with baseline runs timed the same way; the absolute "
                + "medians follow, topology vs baseline; '!' marks a result with warnings, listed below):"
        ]
        for baseline in compared.baselines {
            lines.append("  \(baseline.description)")
        }
        lines += mixedNotice(compared.mixed)
        for row in rows {
            let absolute = "\(number(row.value)) vs \(number(row.baselineValue)) \(row.unit)"
            let timing = row.sameTiming ? row.timing : "MIXED \(row.timing) vs \(row.baselineTiming)"
            let significance = row.significant ? "significant" : "not significant"
            lines.append(
                "  \(row.topology.padding(toLength: 20, withPad: " ", startingAt: 0)) "
                    + "\(row.workload.padding(toLength: 12, withPad: " ", startingAt: 0)) "
                    + "\(row.metric.padding(toLength: 7, withPad: " ", startingAt: 0)) "
                    + "\(row.tenant.padding(toLength: 13, withPad: " ", startingAt: 0)) "
                    + "\(row.ratioText)  "
                    + "\(significance.padding(toLength: 15, withPad: " ", startingAt: 0))  "
                    + "\(absolute.padding(toLength: 26, withPad: " ", startingAt: 0))  \(timing)"
                    + "\(row.warnings.isEmpty ? "" : " !")"
            )
        }
        var warned = compared.baselines.flatMap { baseline in
            baseline.warnings.filter { !$0.value.isEmpty }.sorted { $0.key < $1.key }.map {
                "  baseline '\(baseline.topology)' (\(baseline.timing)) \($0.key): \($0.value.joined(separator: "; "))"
            }
        }
        warned += rows.filter { !$0.warnings.isEmpty }.map {
            "  \($0.topology) \($0.workload) \($0.metric) on '\($0.tenant)': \($0.warnings.joined(separator: "; "))"
        }
        if !warned.isEmpty { lines += ["Warnings:"] + warned }
        return lines.joined(separator: "\n")
    }

    /// A loud paragraph when some ratios mix timing methods: which, how many, and what to do.
    static func mixedNotice(_ mixed: [Comparison.Row]) -> [String] {
        guard !mixed.isEmpty else { return [] }
        var pairs: [String: Int] = [:]
        for row in mixed { pairs["\(row.timing) vs \(row.baselineTiming)", default: 0] += 1 }
        let kinds = pairs.sorted { $0.key < $1.key }.map { "\($0.value) timed \($0.key)" }
        return [
            "  WARNING: \(mixed.count) of these ratios MIX TIMING METHODS (\(kinds.joined(separator: ", "))): they "
                + "compare two ways of timing as much as two topologies. Measure the baseline the same way (for "
                + "co-tenants: 'forbc bench run --window-always' of the lone topology) and compare again."
        ]
    }
}
