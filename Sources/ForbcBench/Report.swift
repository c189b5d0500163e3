import Foundation

/// One self-contained HTML file with inline SVG, and the same charts as standalone SVG files (`figures`): per
/// workload and metric, the topologies normalized to the baseline with their absolute medians beside (one chart a
/// family of topologies, e.g. time-sliced-N apart from mps-N), co-tenants' aggregate against their number with the
/// ideal line, and each topology's history across runs; every ratio says how both sides were timed.
public enum Report {
    public static let barColor = "#2f6fb0"
    public static let idealColor = "#c0392b"
    /// Series colours after `barColor`.
    static let palette = [barColor, "#2a9d8f", "#8e44ad", "#d35400", "#7f8c8d", "#b8860b"]

    static func escape(_ s: String) -> String {
        s.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;").replacingOccurrences(
            of: ">", with: "&gt;"
        )
        .replacingOccurrences(of: "\"", with: "&quot;")
    }

    static func format(_ v: Double) -> String { v >= 100 ? String(format: "%.1f", v) : String(format: "%.3g", v) }

    /// The report; `baseline` defaults to the topology of the first stored result (said in the report), its runs
    /// chosen by `runs` (see `Comparison.BaselineRuns`).
    public static func html(
        _ results: [BenchResult], baseline: String?, runs: Comparison.BaselineRuns = .latest,
        title: String = "forbc benchmark report"
    ) throws -> String {
        try build(results, baseline: baseline, runs: runs, title: title).html
    }

    /// Every chart of the report, as `html` draws them.
    public static func figures(_ results: [BenchResult], baseline: String?, runs: Comparison.BaselineRuns = .latest)
        throws -> [Figure]
    {
        try build(results, baseline: baseline, runs: runs, title: "").figures
    }

    /// The page and its figures (the charts `html` embeds, for `--figures`).
    public static func build(
        _ results: [BenchResult], baseline: String?, runs: Comparison.BaselineRuns, title: String
    ) throws -> (html: String, figures: [Figure]) {
        let ok = results.filter { $0.status == "ok" }
        let topologies = orderedUnique(ok.map(\.topology))
        let base = baseline ?? topologies.first ?? ""
        let comparison = try Comparison.compare(results, baseline: base, runs: runs)
        var body = "<h1>\(escape(title))</h1>\n"
        body += meta(results, comparison: comparison, chosen: baseline != nil)
        var figures: [Figure] = []
        for name in orderedUnique(ok.map { "\($0.workload) · \($0.metric)" }) {
            let parts = name.components(separatedBy: " · ")
            let rows = ok.filter { $0.workload == parts[0] && $0.metric == parts[1] }
            let compared = comparison.rows.filter { $0.workload == parts[0] && $0.metric == parts[1] }
            body +=
                "<section><h2>\(escape(name)) <small>(\(escape(rows.first?.unit ?? "")), "
                + "\(rows.first?.better ?? "higher") is better)</small></h2>\n"
            var charts: [Figure] = []
            for group in groups(topologies, baseline: base) {
                charts += [normalizedBars(rows, compared, group: group, baseline: base)].compactMap { $0 }
                charts += [scaling(rows, compared, group: group, baseline: base)].compactMap { $0 }
            }
            charts += [trend(rows)].compactMap { $0 }
            body += charts.map { $0.svg + "\n" }.joined()
            body += comparisonTable(compared)
            body += "</section>\n"
            figures += charts
        }
        body += "<h2>Warnings</h2>\n" + warningList(results)
        body += "<h2>Every result</h2>\n" + table(results)
        return (page(title: title, body: body), figures)
    }

    /// What the report holds, the baselines and how they were timed, the intervals, and any mixing of methods.
    static func meta(_ results: [BenchResult], comparison: Comparison.Result, chosen: Bool) -> String {
        let ok = results.filter { $0.status == "ok" }
        func distinct(_ values: [String]) -> String { escape(Set(values).sorted().joined(separator: ", ")) }
        let gpus = distinct(results.compactMap(\.gpuModel)).nilIfEmpty ?? "none (CPU)"
        let rule = chosen ? "" : " (the first stored topology; '--baseline' chooses)"
        var html =
            "<p class=meta>\(ok.count) results of \(Set(results.map(\.runID)).count) run(s); hosts: "
            + "\(distinct(results.map(\.host))); GPUs: \(gpus); drivers: "
            + "\(distinct(results.compactMap(\.driver)).nilIfEmpty ?? "none recorded"); forbc "
            + "\(distinct(results.map(\.forbcVersion))); baseline topology <b>\(escape(comparison.baseline.topology))"
            + "</b>\(rule). Intervals: 95%, hierarchical bootstrap (launches, then repetitions; 10,000 resamples); "
            + "a ratio resamples both sides, an aggregate every tenant and the baseline.\(inferredNote(results))</p>\n"
        html += "<p class=meta>Each result is compared with baseline runs timed the same way:</p><ul class=meta>\n"
        for baseline in comparison.baselines {
            html += "<li>\(escape(baseline.description))</li>\n"
        }
        let used = Set(ok.map(Comparison.timing)).sorted()
        for method in used {
            html += "<li><b>\(escape(method))</b>: \(escape(Timing.meanings[method] ?? method))</li>\n"
        }
        html += "</ul>\n"
        let mixed = comparison.mixed
        if !mixed.isEmpty {
            let pairs = Set(mixed.map { "\($0.timing) vs \($0.baselineTiming)" }).sorted()
            html +=
                "<p class=mixed><b>\(mixed.count) of \(comparison.rows.count) ratios mix timing methods</b> "
                + "(\(escape(pairs.joined(separator: "; ")))): they compare two ways of timing as much as two "
                + "topologies. Their bars are hatched and labelled MIXED. Measure the baseline the same way (for "
                + "co-tenants: <code>forbc bench run --window-always</code> of the lone topology).</p>\n"
        }
        return html
    }

    /// The HTML page around `body`.
    static func page(title: String, body: String) -> String {
        """
        <!doctype html>
        <html lang="en"><head><meta charset="utf-8"><title>\(escape(title))</title>
        <style>
        body { font-family: sans-serif; margin: 24px; color: #222; max-width: 1200px; }
        h2 { font-size: 17px; margin-top: 28px; } small { color: #666; font-weight: normal; }
        .meta { color: #555; } svg { margin: 6px 12px 6px 0; border: 1px solid #ddd; vertical-align: top; }
        .mixed { color: #fff; background: #c0392b; padding: 8px 12px; }
        table { border-collapse: collapse; font-size: 12px; margin-top: 12px; }
        td, th { border: 1px solid #ccc; padding: 3px 6px; text-align: right; }
        th { background: #f3f3f3; } td.l, th.l { text-align: left; } .failed { color: #b00; }
        .warnings { color: #8a5a00; } .warnings li { margin: 2px 0; } td.w { color: #8a5a00; }
        td.x { color: #c0392b; font-weight: bold; }
        </style></head><body>
        \(body)
        </body></html>
        """
    }

    static func orderedUnique(_ items: [String]) -> [String] {
        var seen: Set<String> = []
        return items.filter { seen.insert($0).inserted }
    }

    /// How many results predate recorded launches, and what was made of them.
    static func inferredNote(_ results: [BenchResult]) -> String {
        let old = results.filter {
            $0.status == "ok" && $0.tenant != Summaries.aggregateTenant && $0.launchSizes == nil
        }
        guard !old.isEmpty else { return "" }
        let unknown = old.filter { $0.launches == nil }.count
        return
            " \(old.count) results predate recorded launches: launches inferred from their logs (one a launch, equal "
            + "sizes)\(unknown > 0 ? "; \(unknown) unknown, their values treated as independent" : "")."
    }

    /// Every result's warnings, one item a result.
    static func warningList(_ results: [BenchResult]) -> String {
        let warned = results.filter { !$0.warningList.isEmpty }
        guard !warned.isEmpty else { return "<p class=warnings>No warnings.</p>\n" }
        var html =
            "<details class=warnings open><summary>Warnings: \(warned.count) of \(results.count) results "
            + "(pyperf's and hyperfine's rules, plus launch effects and too few launches)</summary><ul>\n"
        for r in warned {
            html +=
                "<li><b>\(escape(r.topology)) \(escape(r.workload)) \(escape(r.metric)) on "
                + "'\(escape(r.tenant))'</b>: \(escape(r.warningList.joined(separator: "; ")))</li>\n"
        }
        return html + "</ul></details>\n"
    }

    /// The family of a topology: its name without a trailing "-N…" (time-sliced-4 → time-sliced, mps-2x50 → mps).
    static func family(_ topology: String) -> String {
        guard let range = topology.range(of: "-[0-9][A-Za-z0-9.]*$", options: .regularExpression) else {
            return topology
        }
        return String(topology[..<range.lowerBound])
    }

    /// The topologies but the baseline, by family: a chart each family of several; the rest share one chart.
    static func groups(_ topologies: [String], baseline: String) -> [(name: String, members: [String])] {
        let others = topologies.filter { $0 != baseline }
        let families = orderedUnique(others.map(family))
        var groups: [(name: String, members: [String])] = []
        var alone: [String] = []
        for name in families {
            let members = others.filter { family($0) == name }
            if members.count > 1 { groups.append((name, members)) } else { alone += members }
        }
        if !alone.isEmpty { groups.append((alone.count == 1 ? alone[0] : "other topologies", alone)) }
        return groups
    }

    /// The representative of a topology: the aggregate of its latest run with co-tenants, else its first tenant.
    static func representative(_ rows: [Comparison.Row], _ topology: String) -> Comparison.Row? {
        let mine = rows.filter { $0.topology == topology }
        guard let run = mine.last?.runID else { return nil }
        let latest = mine.filter { $0.runID == run }
        return latest.first { $0.tenant == Summaries.aggregateTenant } ?? latest.first
    }

    /// A bar of the normalized chart.
    struct Bar {
        var label: String
        var ratio: Double
        var low: Double
        var high: Double
        var absolute: String
        var timing: String
        var mixed: Bool
    }

    /// The group's topologies as ratios to the baseline (= 1) with their 95% CIs, each bar labelled with its
    /// absolute median and how it was timed; a ratio that mixes timing methods is hatched and says MIXED.
    static func normalizedBars(
        _ rows: [BenchResult], _ compared: [Comparison.Row], group: (name: String, members: [String]),
        baseline: String
    ) -> Figure? {
        // A topology without a ratio (its baseline's median is 0) has no bar; the table says why.
        let reps = group.members.compactMap { representative(compared, $0) }.filter(\.hasRatio)
        guard let first = reps.first else { return nil }
        let unit = first.unit
        let base = rows.last {
            $0.topology == baseline && $0.tenant != Summaries.aggregateTenant
                && Comparison.timing($0) == first.baselineTiming
        }
        let scale = first.baselineValue
        var bars = [
            Bar(
                label: baseline, ratio: 1, low: (base?.ciLow ?? scale) / scale, high: (base?.ciHigh ?? scale) / scale,
                absolute: "\(format(scale)) \(unit)", timing: first.baselineTiming, mixed: false)
        ]
        for r in reps {
            let what = r.tenant == Summaries.aggregateTenant ? "Σ " : ""
            bars.append(
                Bar(
                    label: r.topology, ratio: r.ratio, low: r.low, high: r.high,
                    absolute: "\(what)\(format(r.value)) \(unit)",
                    timing: r.sameTiming ? r.timing : "MIXED \(r.timing)", mixed: !r.sameTiming))
        }
        let axis = Plot.axis(high: max(1.2, (bars.map(\.high).max() ?? 1) * 1.08))
        let title = "\(first.workload) · \(first.metric): \(group.name) vs '\(baseline)'"
        let plot = Plot(
            width: Plot.width(max(380, Plot.left + Plot.right + Double(bars.count) * 112), title: title), height: 320,
            yMin: 0, yMax: axis.high, yTicks: axis.ticks)
        let name = Figure.fileName([first.workload, first.metric, "normalized", group.name])
        var svg = plot.open(
            "bars", title: title,
            xTitle: "topology (absolute median, timing)", yTitle: "ratio to '\(baseline)' (= 1), 95% CI")
        svg +=
            "<defs><pattern id=\"hatch-\(name)\" width=\"8\" height=\"8\" patternUnits=\"userSpaceOnUse\" "
            + "patternTransform=\"rotate(45)\"><rect width=\"8\" height=\"8\" fill=\"\(barColor)\"/>"
            + "<line x1=\"0\" y1=\"0\" x2=\"0\" y2=\"8\" stroke=\"#ffffff\" stroke-width=\"4\"/></pattern></defs>"
        svg +=
            "<line x1=\"\(Plot.left)\" y1=\"\(plot.y(1))\" x2=\"\(plot.width - Plot.right)\" y2=\"\(plot.y(1))\" "
            + "stroke=\"#999\" stroke-dasharray=\"4 3\"/>"
        let slot = plot.plotWidth / Double(bars.count)
        for (i, bar) in bars.enumerated() {
            let x = Plot.left + (Double(i) + 0.5) * slot
            let fill = bar.mixed ? "url(#hatch-\(name))" : barColor
            svg +=
                "<rect x=\"\(x - 26)\" y=\"\(plot.y(bar.ratio))\" width=\"52\" "
                + "height=\"\(plot.plotBottom - plot.y(bar.ratio))\" fill=\"\(fill)\"><title>\(escape(bar.label)): "
                + "\(format(bar.ratio)) [\(format(bar.low)), \(format(bar.high))], "
                + "\(escape(bar.absolute))</title></rect>"
            svg += plot.errorBar(x, low: bar.low, high: bar.high)
            svg +=
                "<text x=\"\(x + 8)\" y=\"\(plot.y(bar.high) - 5)\" font-size=\"11\" "
                + "text-anchor=\"start\">\(format(bar.ratio))×</text>"
            svg += plot.xTick(
                x, [String(bar.label.suffix(18)), bar.absolute, bar.timing], color: bar.mixed ? idealColor : "#555")
        }
        return Figure(name: name, svg: svg + "</svg>")
    }

    /// Co-tenants' aggregate (absolute, with its 95% CI) against their number, from the baseline's lone tenant at 1,
    /// with the ideal line: the baseline itself, level (co-tenants share what the baseline had alone, so sharing
    /// without loss keeps their sum there; n × the baseline would be n whole GPUs); nil without co-tenants.
    static func scaling(
        _ rows: [BenchResult], _ compared: [Comparison.Row], group: (name: String, members: [String]),
        baseline: String
    ) -> Figure? {
        var points: [(n: Int, row: Comparison.Row)] = []
        for topology in group.members {
            guard let r = representative(compared, topology), r.tenant == Summaries.aggregateTenant,
                let n = rows.first(where: { $0.runID == r.runID && $0.topology == topology })?.tenants
            else { continue }
            points.append((n, r))
        }
        guard let first = points.first?.row else { return nil }
        points.sort { $0.n < $1.n }
        let single = first.baselineValue
        let most = max(points.last!.n, 2)
        // Headroom above the highest line for the legend.
        let top = max(single, points.map { $0.row.valueHigh ?? $0.row.value }.max() ?? 0) * 1.45
        let axis = Plot.axis(high: top)
        let title = "\(first.workload) · \(first.metric): \(group.name), co-tenants together"
        let plot = Plot(
            width: Plot.width(420, title: title), height: 320, yMin: 0, yMax: axis.high, yTicks: axis.ticks)
        func x(_ n: Int) -> Double { Plot.left + 20 + Double(n - 1) / Double(most - 1) * (plot.plotWidth - 40) }
        var svg = plot.open(
            "scaling", title: title,
            xTitle: "co-tenants (n)", yTitle: "aggregate \(first.metric) (\(first.unit))")
        svg +=
            "<line x1=\"\(x(1))\" y1=\"\(plot.y(single))\" x2=\"\(x(most))\" y2=\"\(plot.y(single))\" "
            + "stroke=\"\(idealColor)\" stroke-width=\"3\" stroke-dasharray=\"8 5\"/>"
        let line = [(1, single)] + points.map { ($0.n, $0.row.value) }
        svg +=
            "<polyline fill=\"none\" stroke=\"\(barColor)\" stroke-width=\"3\" "
            + "points=\"\(line.map { "\(x($0.0)),\(plot.y($0.1))" }.joined(separator: " "))\"/>"
        svg += "<circle cx=\"\(x(1))\" cy=\"\(plot.y(single))\" r=\"5\" fill=\"#ffffff\" stroke=\"\(barColor)\"/>"
        svg += plot.xTick(x(1), ["1"])
        for (n, r) in points {
            if let low = r.valueLow, let high = r.valueHigh { svg += plot.errorBar(x(n), low: low, high: high) }
            svg +=
                "<circle cx=\"\(x(n))\" cy=\"\(plot.y(r.value))\" r=\"5\" fill=\"\(barColor)\"><title>"
                + "\(escape(r.topology)): \(format(r.value)) \(escape(r.unit))</title></circle>"
            svg +=
                "<text x=\"\(x(n))\" y=\"\(plot.y(r.value) + 18)\" font-size=\"10\" text-anchor=\"middle\">"
                + "\(format(r.value))</text>"
            svg += plot.xTick(x(n), ["\(n)"])
        }
        let timings = Set(points.map { $0.row.timing }).sorted().joined(separator: "+")
        let mixed = points.contains { !$0.row.sameTiming }
        svg += plot.legend([
            (barColor, "aggregate, \(timings)\(mixed ? " (MIXED with n = 1)" : "")", "line"),
            (barColor, "n = 1: '\(String(baseline.suffix(14)))', \(first.baselineTiming)", "open"),
            (idealColor, "ideal: no sharing loss (= '\(String(baseline.suffix(14)))' alone)", "dashed"),
        ])
        return Figure(
            name: Figure.fileName([first.workload, first.metric, "scaling", group.name]), svg: svg + "</svg>")
    }

    /// One point of a trend: a run's median (or aggregate) with its CI, and what it ran with.
    struct TrendPoint {
        var time: Date
        var value: Double
        var low: Double?
        var high: Double?
        var label: String
    }

    /// Each topology with two runs or more timed the same way: its median (co-tenants: aggregate) run after run,
    /// against the date, each run labelled with its forbc and driver version; nil without history.
    static func trend(_ rows: [BenchResult]) -> Figure? {
        var series: [(topology: String, points: [TrendPoint])] = []
        for key in orderedUnique(rows.map { "\($0.topology) (\(Comparison.timing($0)))" }) {
            // A series a topology and timing method: a change of method is no trend.
            let mine = rows.filter { "\($0.topology) (\(Comparison.timing($0)))" == key }
            let points: [TrendPoint] = orderedUnique(mine.map(\.runID)).compactMap { run in
                let inRun = mine.filter { $0.runID == run }
                guard let r = inRun.first(where: { $0.tenant == Summaries.aggregateTenant }) ?? inRun.first,
                    let median = r.median
                else { return nil }
                let driver = inRun.compactMap(\.driver).first ?? "no driver"
                return TrendPoint(
                    time: r.time, value: median, low: r.ciLow, high: r.ciHigh,
                    label: "forbc \(r.forbcVersion) · \(driver)")
            }.sorted { $0.time < $1.time }
            if points.count > 1 { series.append((key, points)) }
        }
        guard let sample = rows.first, !series.isEmpty else { return nil }
        let all = series.flatMap(\.points)
        let axis = Plot.axis(high: (all.map { $0.high ?? $0.value }.max() ?? 1) * 1.3)
        let plot = Plot(width: 560, height: 340, yMin: 0, yMax: axis.high, yTicks: axis.ticks)
        let start = all.map(\.time).min()!.timeIntervalSince1970
        let span = max(all.map(\.time).max()!.timeIntervalSince1970 - start, 1)
        func x(_ t: Date) -> Double {
            Plot.left + 30 + (t.timeIntervalSince1970 - start) / span * (plot.plotWidth - 60)
        }
        var svg = plot.open(
            "trend", title: "\(sample.workload) · \(sample.metric) across runs",
            xTitle: "run date (UTC)", yTitle: "median \(sample.metric) (\(sample.unit)), 95% CI")
        let formatter = DateFormatter()
        formatter.timeZone = TimeZone(identifier: "UTC")
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.dateFormat = "yyyy-MM-dd|HH:mm"
        var lastTick = -Double.infinity
        for point in all.sorted(by: { $0.time < $1.time }) where x(point.time) - lastTick >= 110 {
            lastTick = x(point.time)
            let date = formatter.string(from: point.time).split(separator: "|").map(String.init)
            svg += plot.xTick(lastTick, date + [point.label])
        }
        for (i, (_, points)) in series.enumerated() {
            let color = palette[i % palette.count]
            svg +=
                "<polyline fill=\"none\" stroke=\"\(color)\" stroke-width=\"2.5\" "
                + "points=\"\(points.map { "\(x($0.time)),\(plot.y($0.value))" }.joined(separator: " "))\"/>"
            for p in points {
                if let low = p.low, let high = p.high { svg += plot.errorBar(x(p.time), low: low, high: high) }
                svg +=
                    "<circle cx=\"\(x(p.time))\" cy=\"\(plot.y(p.value))\" r=\"4\" fill=\"\(color)\"><title>"
                    + "\(format(p.value)) \(escape(sample.unit)), \(escape(p.label))</title></circle>"
            }
        }
        svg += plot.legend(
            series.enumerated().map { (palette[$0.offset % palette.count], $0.element.topology, "line") })
        return Figure(name: Figure.fileName([sample.workload, sample.metric, "trend"]), svg: svg + "</svg>")
    }

    /// Every ratio of a workload and metric beside both absolute medians and both timing methods.
    static func comparisonTable(_ rows: [Comparison.Row]) -> String {
        guard !rows.isEmpty else { return "" }
        let headings = ["l:topology", "l:tenant", "median [95% CI]", "baseline median", "ratio [95% CI]", "l:timing"]
        var html = "<table class=ratios><tr>" + headings.map(tableCell(heading:)).joined() + "</tr>\n"
        for r in rows {
            let ci = r.valueLow.map { " [\(format($0)), \(format(r.valueHigh ?? $0))]" } ?? ""
            let timing = r.sameTiming ? r.timing : "MIXED: \(r.timing) vs baseline \(r.baselineTiming)"
            html +=
                "<tr><td class=l>\(escape(r.topology))</td><td class=l>\(escape(r.tenant))</td>"
                + "<td>\(format(r.value))\(ci) \(escape(r.unit))</td>"
                + "<td>\(format(r.baselineValue)) \(escape(r.unit))</td>"
                + "<td>\(escape(r.ratioText))</td>"
                + "<td class=\"l\(r.sameTiming ? "" : " x")\">\(escape(timing))</td></tr>\n"
        }
        return html + "</table>\n"
    }

    static func table(_ results: [BenchResult]) -> String {
        let headings =
            ["l:topology", "l:workload", "l:metric", "l:tenant", "median", "95% CI", "MAD", "CV", "n"]
            + ["outliers", "l:partition", "l:timing", "l:status", "l:warnings"]
        var html = "<table><tr>" + headings.map(tableCell(heading:)).joined() + "</tr>\n"
        for r in results {
            let ci = r.ciLow.map { "\(format($0)) – \(format(r.ciHigh ?? $0))" } ?? ""
            let fairness = r.fairness.map { String(format: "Jain %.3f", $0) } ?? ""
            let spread = r.cv.map { String(format: "%.1f%%", $0 * 100) } ?? fairness
            let partition = [r.partitionKind, r.partitionProfile, r.gpuModel].compactMap { $0 }.joined(separator: " ")
            let status = r.status == "ok" ? "ok" : "failed: \(r.failure ?? "")"
            html +=
                "<tr><td class=l>\(escape(r.topology))</td><td class=l>\(escape(r.workload)) v\(r.workloadVersion)</td>"
                + "<td class=l>\(escape(r.metric)) (\(escape(r.unit)))</td><td class=l>\(escape(r.tenant))</td>"
            html += "<td>\(r.median.map(format) ?? "")</td><td>\(ci)</td>"
            html += "<td>\(r.mad.map(format) ?? "")</td><td>\(spread)</td>"
            let launches = r.launches.map { " (\($0.count) launches)" } ?? ""
            html +=
                "<td>\(r.valueList.count)\(launches)</td><td>\(escape(r.outliers == "[]" ? "" : r.outliers))</td>"
                + "<td class=l>\(escape(partition))</td><td class=l>\(escape(Comparison.timing(r)))</td>"
            html += "<td class=\"l \(r.status == "ok" ? "" : "failed")\">\(escape(status))</td>"
            let kinds = r.warningList.map { String($0.prefix { $0 != ":" }) }.joined(separator: ", ")
            html += "<td class=\"l w\">\(escape(kinds))</td></tr>\n"
        }
        return html + "</table>\n"
    }

    /// A table heading; "l:" marks a left-aligned column.
    static func tableCell(heading: String) -> String {
        heading.hasPrefix("l:") ? "<th class=l>\(heading.dropFirst(2))</th>" : "<th>\(heading)</th>"
    }
}

extension String {
    var nilIfEmpty: String? { isEmpty ? nil : self }
}
