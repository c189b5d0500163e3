import Foundation
import Testing

@testable import ForbcBench

#if canImport(FoundationXML)
    import FoundationXML
#endif

/// The report's charts: absolute values beside ratios, labelled axes with ticks, one chart a family of topologies,
/// a trend across runs, and each chart a standalone SVG file.
@Suite("the report's charts")
struct ReportTests {
    /// A baseline measured twice (history), time-sliced-2/4 and MPS 2×50, all but one run timed by a window.
    func made() throws -> [BenchResult] {
        let t = { (center: Double) in MadeResults.launches(center, noise: 1) }
        return try MadeResults.results(
            MadeResults.run(
                "full", run: "f1", tenants: [t(100)], timing: "wall-window", time: "2026-11-20T10:00:00Z",
                driver: "550.54")
                + MadeResults.run(
                    "full", run: "f2", tenants: [t(104)], timing: "wall-window", time: "2026-11-26T10:00:00Z",
                    driver: "570.86")
                + MadeResults.run("time-sliced-2", run: "t2", tenants: [t(45), t(46)], timing: "wall-window")
                + MadeResults.run(
                    "time-sliced-4", run: "t4", tenants: [t(22), t(23), t(22), t(22)], timing: "wall-window")
                + MadeResults.run("mps-2x50", run: "m2", tenants: [t(50), t(49)], timing: "wall-window"))
    }

    /// The figure's texts, parsed as XML (which fails on anything not well formed), and the root's attributes.
    func parse(_ svg: String) throws -> (texts: [String], root: [String: String]) {
        final class Reader: NSObject, XMLParserDelegate {
            var texts: [String] = []
            var root: [String: String]?
            var inText = false
            func parser(
                _ parser: XMLParser, didStartElement name: String, namespaceURI: String?, qualifiedName: String?,
                attributes: [String: String] = [:]
            ) {
                if root == nil { root = attributes.merging(["element": name]) { a, _ in a } }
                inText = name == "text"
                if inText { texts.append("") }
            }
            func parser(_ parser: XMLParser, foundCharacters string: String) {
                if inText { texts[texts.count - 1] += string }
            }
            func parser(
                _ parser: XMLParser, didEndElement name: String, namespaceURI: String?, qualifiedName: String?
            ) { inText = false }
        }
        let reader = Reader()
        let parser = XMLParser(data: Data(svg.utf8))
        parser.delegate = reader
        try #require(parser.parse(), "not well-formed: \(parser.parserError.map { "\($0)" } ?? "")")
        return (reader.texts, reader.root ?? [:])
    }

    @Test("one chart a family, each bar with its ratio, absolute median and timing; axes titled and ticked")
    func families() throws {
        let results = try made()
        let figures = try Report.figures(results, baseline: "full")
        let names = figures.map(\.name)
        #expect(
            names == [
                "w-m-normalized-time-sliced", "w-m-scaling-time-sliced", "w-m-normalized-mps-2x50",
                "w-m-scaling-mps-2x50", "w-m-trend",
            ])
        let rows = try Comparison.compare(results, baseline: "full").rows
        for figure in figures {
            let (texts, root) = try parse(figure.standalone)
            #expect(root["element"] == "svg" && root["xmlns"] == "http://www.w3.org/2000/svg")
            #expect(root["viewBox"] == "0 0 \(root["width"] ?? "?") \(root["height"] ?? "?")")
            // Title, two axis titles, and at least three numeric y ticks.
            #expect(texts.filter { Double($0) != nil }.count >= 3, "\(figure.name): \(texts)")
            if figure.name.contains("normalized") {
                #expect(texts.contains("ratio to 'full' (= 1), 95% CI") && texts.contains { $0.hasPrefix("topology") })
                // The only plain numbers are the y ticks: evenly spaced as written (0.25 is not written "0.2").
                let ticks = texts.compactMap(Double.init)
                let steps = zip(ticks.dropFirst(), ticks).map { $0 - $1 }
                #expect(steps.allSatisfy { abs($0 - steps[0]) < 1e-9 && $0 > 0 }, "\(texts)")
            }
        }
        // Every time-sliced aggregate is in its family's chart with its ratio and absolute value; none in MPS's.
        let timeSliced = try parse(figures[0].svg).texts
        let mps = try parse(figures[2].svg).texts
        for row in rows where row.tenant == "(aggregate)" {
            let ratio = String(format: "%.3g×", row.ratio)
            let absolute = "Σ \(String(format: "%.3g", row.value)) GB/s"
            let (mine, other) = row.topology.hasPrefix("mps") ? (mps, timeSliced) : (timeSliced, mps)
            #expect(mine.contains(ratio) && mine.contains(absolute), "\(row.topology): \(ratio) \(absolute) in \(mine)")
            #expect(!other.contains(row.topology))
        }
        // The baseline run the window-timed rows were paired with: the latest, f2.
        #expect(
            rows.allSatisfy {
                $0.sameTiming
                    && $0.baselineValue == Statistics.median(MadeResults.launches(104, noise: 1).flatMap { $0 })
            })
    }

    @Test("an axis for a value that is no number (a ratio to a zero baseline) is a unit axis, not an endless stride")
    func axisOfNoNumber() {
        for high in [Double.infinity, .nan, -Double.infinity] {
            let axis = Plot.axis(high: high)
            #expect(axis.low == 0 && axis.high == 1 && (2...12).contains(axis.ticks.count), "\(high)")
        }
    }

    @Test("co-tenants against their number: ticks at each n, the ideal line from the baseline")
    func scaling() throws {
        let results = try made()
        let figure = try #require(
            try Report.figures(results, baseline: "full").first { $0.name.contains("scaling-time") })
        let texts = try parse(figure.svg).texts
        #expect(["1", "2", "4"].allSatisfy(texts.contains))
        #expect(texts.contains("co-tenants (n)") && texts.contains("aggregate m (GB/s)"))
        #expect(
            texts.contains("ideal: no sharing loss (= 'full' alone)") && texts.contains("n = 1: 'full', wall-window"))
        // The ideal is level at the baseline: co-tenants of one GPU share what it had alone.
        let ideal = try #require(figure.svg.firstMatch(of: /<line [^>]*y1="([0-9.]+)"[^>]*y2="([0-9.]+)"[^>]*8 5/))
        #expect(ideal.1 == ideal.2)
    }

    @Test("a trend across runs: dated ticks with forbc and driver versions, only where there is history")
    func trend() throws {
        let results = try made()
        let figure = try #require(try Report.figures(results, baseline: "full").first { $0.name.hasSuffix("trend") })
        let texts = try parse(figure.svg).texts
        #expect(texts.contains("2026-11-20") && texts.contains("2026-11-26") && texts.contains("10:00"))
        #expect(texts.contains("forbc 0.1.0 · 550.54") && texts.contains("forbc 0.1.0 · 570.86"))
        #expect(
            texts.contains("run date (UTC)") && texts.contains("full (wall-window)") && !texts.contains("time-sliced-2")
        )
        // One run each: no trend.
        let single = results.filter { $0.runID != "f1" }
        #expect(try Report.figures(single, baseline: "full").allSatisfy { !$0.name.hasSuffix("trend") })
    }

    @Test("the page embeds every figure and a table of ratios beside both absolute medians")
    func page() throws {
        let results = try made()
        let (html, figures) = try Report.build(results, baseline: "full", runs: .latest, title: "t")
        #expect(figures.allSatisfy { html.contains($0.svg) })
        for row in try Comparison.compare(results, baseline: "full").rows {
            #expect(html.contains(String(format: "%.3f [%.3f, %.3f]", row.ratio, row.low, row.high)))
        }
        #expect(html.contains("<li><b>wall-window</b>: ") && !html.contains("class=mixed"))
    }
}
