import Foundation

/// One self-contained HTML file with inline SVG: normalized bars with error bars per topology, tenants against
/// aggregate throughput with the ideal (linear) line, and a table of the numbers.
public enum Report {
    public static let barColor = "#2f6fb0"
    public static let idealColor = "#c0392b"

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
        let ok = results.filter { $0.status == "ok" }
        let topologies = orderedUnique(ok.map(\.topology))
        let base = baseline ?? topologies.first ?? ""
        let comparison = try Comparison.compare(results, baseline: base, runs: runs)
        let series = orderedUnique(ok.map { "\($0.workload) · \($0.metric)" })
        var body = "<h1>\(escape(title))</h1>\n"
        func distinct(_ values: [String]) -> String { escape(Set(values).sorted().joined(separator: ", ")) }
        let gpus = distinct(results.compactMap(\.gpuModel)).nilIfEmpty ?? "none (CPU)"
        let rule = baseline == nil ? " (the first stored topology; '--baseline' chooses)" : ""
        body +=
            "<p class=meta>\(ok.count) results of \(Set(results.map(\.runID)).count) run(s); hosts: "
            + "\(distinct(results.map(\.host))); GPUs: \(gpus); forbc \(distinct(results.map(\.forbcVersion))); "
            + "baseline topology <b>\(escape(base))</b>\(rule), \(escape(comparison.baseline.description)). "
            + "Intervals: 95%, hierarchical bootstrap (launches, then repetitions; 10,000 resamples); aggregates "
            + "resample every tenant and the baseline.\(inferredNote(results))</p>\n"
        body += warningList(results)
        for name in series {
            let parts = name.components(separatedBy: " · ")
            let rows = ok.filter { $0.workload == parts[0] && $0.metric == parts[1] }
            let compared = comparison.rows.filter { $0.workload == parts[0] && $0.metric == parts[1] }
            body +=
                "<section><h2>\(escape(name)) <small>(\(escape(rows.first?.unit ?? "")), "
                + "\(rows.first?.better ?? "higher") is better)</small></h2>\n"
            body += normalizedBars(rows, compared, topologies: topologies, baseline: comparison.baseline)
            body += scaling(rows)
            body += "</section>\n"
        }
        body += table(results)
        return """
            <!doctype html>
            <html lang="en"><head><meta charset="utf-8"><title>\(escape(title))</title>
            <style>
            body { font-family: sans-serif; margin: 24px; color: #222; max-width: 1100px; }
            h2 { font-size: 17px; margin-top: 28px; } small { color: #666; font-weight: normal; }
            .meta { color: #555; } svg { background: #fff; margin: 6px 12px 6px 0; border: 1px solid #ddd; }
            table { border-collapse: collapse; font-size: 12px; margin-top: 24px; }
            td, th { border: 1px solid #ccc; padding: 3px 6px; text-align: right; }
            th { background: #f3f3f3; } td.l, th.l { text-align: left; } .failed { color: #b00; }
            .warnings { color: #8a5a00; } .warnings li { margin: 2px 0; } td.w { color: #8a5a00; }
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

    /// The representative of a topology: its aggregate when it has co-tenants, else its first tenant.
    static func representative(_ rows: [Comparison.Row], _ topology: String) -> Comparison.Row? {
        let mine = rows.filter { $0.topology == topology }
        return mine.first { $0.tenant == Summaries.aggregateTenant } ?? mine.first
    }

    static func normalizedBars(
        _ rows: [BenchResult], _ compared: [Comparison.Row], topologies: [String], baseline: Comparison.Baseline
    ) -> String {
        guard
            let base = rows.first(where: {
                $0.topology == baseline.topology && baseline.runs.contains($0.runID)
                    && $0.tenant != Summaries.aggregateTenant
            }), let baseMedian = base.median, baseMedian != 0
        else { return "" }
        var bars: [(String, Double, Double, Double)] = [
            (baseline.topology, 1, (base.ciLow ?? baseMedian) / baseMedian, (base.ciHigh ?? baseMedian) / baseMedian)
        ]
        for topology in topologies where topology != baseline.topology {
            guard let r = representative(compared, topology) else { continue }
            bars.append((topology, r.ratio, r.low, r.high))
        }
        let width = 120 + bars.count * 90
        let height = 260
        let top = max(1.2, (bars.map(\.3).max() ?? 1) * 1.1)
        func y(_ v: Double) -> Double { 220 - v / top * 190 }
        var svg =
            "<svg class=\"bars\" width=\"\(width)\" height=\"\(height)\" viewBox=\"0 0 \(width) \(height)\" "
            + "xmlns=\"http://www.w3.org/2000/svg\">"
        svg +=
            "<text x=\"10\" y=\"18\" font-size=\"12\">normalized to '\(escape(baseline.topology))' (= 1), 95% CI</text>"
        svg +=
            "<line x1=\"60\" y1=\"\(y(1))\" x2=\"\(width - 10)\" y2=\"\(y(1))\" stroke=\"#999\" "
            + "stroke-dasharray=\"4 3\"/>"
        svg +=
            "<line x1=\"60\" y1=\"220\" x2=\"\(width - 10)\" y2=\"220\" stroke=\"#444\"/><line x1=\"60\" y1=\"25\" "
            + "x2=\"60\" y2=\"220\" stroke=\"#444\"/>"
        for tick in stride(from: 0.0, through: top, by: top > 3 ? 1 : 0.5) {
            svg += "<text x=\"54\" y=\"\(y(tick) + 4)\" font-size=\"10\" text-anchor=\"end\">\(format(tick))</text>"
        }
        for (i, bar) in bars.enumerated() {
            let x = 80 + Double(i) * 90
            svg +=
                "<rect x=\"\(x)\" y=\"\(y(bar.1))\" width=\"50\" height=\"\(220 - y(bar.1))\" "
                + "fill=\"\(barColor)\"><title>\(escape(bar.0)): \(format(bar.1))</title></rect>"
            svg +=
                "<line x1=\"\(x + 25)\" y1=\"\(y(bar.2))\" x2=\"\(x + 25)\" y2=\"\(y(bar.3))\" stroke=\"#111\" "
                + "stroke-width=\"2\"/>"
            svg +=
                "<line x1=\"\(x + 17)\" y1=\"\(y(bar.2))\" x2=\"\(x + 33)\" y2=\"\(y(bar.2))\" stroke=\"#111\" "
                + "stroke-width=\"2\"/>"
            svg +=
                "<line x1=\"\(x + 17)\" y1=\"\(y(bar.3))\" x2=\"\(x + 33)\" y2=\"\(y(bar.3))\" stroke=\"#111\" "
                + "stroke-width=\"2\"/>"
            svg +=
                "<text x=\"\(x + 25)\" y=\"\(y(bar.1) - 6)\" font-size=\"11\" "
                + "text-anchor=\"middle\">\(format(bar.1))</text>"
            svg +=
                "<text x=\"\(x + 25)\" y=\"238\" font-size=\"10\" "
                + "text-anchor=\"middle\">\(escape(String(bar.0.suffix(14))))</text>"
        }
        return svg + "</svg>\n"
    }

    /// Aggregate throughput against the number of tenants, with the ideal line (n × the single tenant's).
    static func scaling(_ rows: [BenchResult]) -> String {
        var points: [Int: Double] = [:]
        for r in rows {
            guard let median = r.median else { continue }
            if r.tenant == "(aggregate)" {
                points[r.tenants] = max(points[r.tenants] ?? 0, median)
            } else if r.tenants == 1 {
                points[1] = max(points[1] ?? 0, median)
            }
        }
        guard points.count > 1, let single = points[1] else { return "" }
        let maxTenants = points.keys.max()!
        let top = max(points.values.max()!, single * Double(maxTenants)) * 1.1
        let width = 360
        let height = 260
        func x(_ n: Int) -> Double { 60 + Double(n - 1) / Double(max(maxTenants - 1, 1)) * 270 }
        func y(_ v: Double) -> Double { 220 - v / top * 190 }
        var svg =
            "<svg class=\"scaling\" width=\"\(width)\" height=\"\(height)\" viewBox=\"0 0 \(width) \(height)\" "
            + "xmlns=\"http://www.w3.org/2000/svg\">"
        svg += "<text x=\"10\" y=\"18\" font-size=\"12\">aggregate vs tenants; dashed: ideal</text>"
        svg +=
            "<line x1=\"60\" y1=\"220\" x2=\"340\" y2=\"220\" stroke=\"#444\"/><line x1=\"60\" y1=\"25\" x2=\"60\" "
            + "y2=\"220\" stroke=\"#444\"/>"
        svg +=
            "<line x1=\"\(x(1))\" y1=\"\(y(single))\" x2=\"\(x(maxTenants))\" "
            + "y2=\"\(y(single * Double(maxTenants)))\" stroke=\"\(idealColor)\" stroke-width=\"3\" "
            + "stroke-dasharray=\"8 5\"/>"
        let sorted = points.sorted { $0.key < $1.key }
        svg +=
            "<polyline fill=\"none\" stroke=\"\(barColor)\" stroke-width=\"3\" "
            + "points=\"\(sorted.map { "\(x($0.key)),\(y($0.value))" }.joined(separator: " "))\"/>"
        for (n, v) in sorted {
            svg +=
                "<circle cx=\"\(x(n))\" cy=\"\(y(v))\" r=\"5\" fill=\"\(barColor)\"><title>\(n) tenant(s): "
                + "\(format(v))</title></circle>"
            svg += "<text x=\"\(x(n))\" y=\"238\" font-size=\"10\" text-anchor=\"middle\">\(n)</text>"
        }
        return svg + "</svg>\n"
    }

    static func table(_ results: [BenchResult]) -> String {
        let headings =
            ["l:topology", "l:workload", "l:metric", "l:tenant", "median", "95% CI", "MAD", "CV", "n"]
            + ["outliers", "l:partition", "l:status", "l:warnings"]
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
                + "<td class=l>\(escape(partition))</td>"
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
