import ForbcCommands
import ForbcCore
import ForbcTestSupport
import Foundation
import Testing

@testable import ForbcCommands

/// What forbc prints cannot be turned against the person reading it, and a value JSON has no spelling for does
/// not turn a document into `{}`.
@Suite("output that stays honest")
struct OutputSafetyTests {
    @Test("escape sequences, BEL, CR, DEL and C1 controls are shown as \\u escapes; newlines, tabs, text stay")
    func hiddenCharacters() {
        let hostile = "A40-1Q\u{1B}]0;owned\u{07}\u{1B}[2J\r\u{7F}\u{9B}31m"
        let shown = Console.visible(hostile)
        #expect(shown == "A40-1Q\\u001B]0;owned\\u0007\\u001B[2J\\u000D\\u007F\\u009B31m")
        let plain = "GPU 0000:3b:00.0 → 4 × A40-1Q · ok\n\tnext é ü 中"
        #expect(Console.visible(plain) == plain)
        let capture = CapturingConsole()
        capture.console().out(hostile)
        capture.console().err(hostile)
        for text in [capture.stdout, capture.stderr] {
            #expect(!text.unicodeScalars.contains { $0.value < 0x20 && $0 != "\n" || (0x7F...0x9F).contains($0.value) })
        }
    }

    @Test("a JSON document with such characters stays valid and means the same once shown")
    func jsonStaysEqual() throws {
        let value = ["name": "x\u{7F}y\u{85}z\u{9B}", "plain": "a\"b\\c"]
        let document = try Render.json(value)
        let shown = Console.visible(document)
        #expect(!shown.unicodeScalars.contains { (0x7F...0x9F).contains($0.value) })
        let parsed = try JSONSerialization.jsonObject(with: Data(shown.utf8)) as? [String: String]
        #expect(parsed == value)
    }

    @Test("numbers that are not finite are null in JSON, never an empty document")
    func nonFiniteNumbers() throws {
        struct Ratio: Encodable {
            var ratio: Double
            var low: Double
            var name: String
        }
        let encoded = try Render.json(encodable: [Ratio(ratio: .nan, low: .infinity, name: "t")])
        let rows = try #require(try JSONSerialization.jsonObject(with: Data(encoded.utf8)) as? [[String: Any]])
        #expect(rows.count == 1 && rows[0]["ratio"] is NSNull && rows[0]["low"] is NSNull)
        #expect(rows[0]["name"] as? String == "t")
        let object = try Render.json(["ratio": Double.nan, "list": [1.5, -Double.infinity]] as [String: Any])
        let parsed = try #require(try JSONSerialization.jsonObject(with: Data(object.utf8)) as? [String: Any])
        #expect(parsed["ratio"] is NSNull && (parsed["list"] as? [Any])?.last is NSNull)
    }

    /// One stored result line as `bench export` writes it.
    static func line(_ topology: String, run: String, values: [Double]) -> String {
        let fields: [String: Any] = [
            "runID": run, "time": "2026-11-26T08:00:00Z", "topology": topology, "suite": "s", "workload": "w",
            "workloadVersion": 1, "metric": "m", "unit": "GB/s", "better": "higher", "tenant": "gpu", "tenants": 1,
            "cotenants": "", "host": "h", "manifestHash": "0", "forbcVersion": "0.1.0", "status": "ok",
            "values": "\(values)", "outliers": "[]", "logs": "[]", "source": "t", "launchSizes": "[\(values.count)]",
            "timing": "wall-window",
        ]
        let data = try! JSONSerialization.data(withJSONObject: fields, options: [.sortedKeys])
        return String(decoding: data, as: UTF8.self)
    }

    @Test("bench compare and report against a baseline whose median is 0: no ratio, said so; no NaN anywhere")
    func zeroBaseline() throws {
        let cli = CLI()
        let state = ["--state-dir", cli.stateDir.path]
        let file = cli.stateDir.appendingPathComponent("made.jsonl")
        let lines = [
            Self.line("zero", run: "r0", values: [0, 0, 0]), Self.line("five", run: "r5", values: [5, 5, 6]),
        ]
        try lines.joined(separator: "\n").write(to: file, atomically: true, encoding: .utf8)
        let imported = cli.run(["bench", "import"] + state + [file.path])
        try #require(imported.code == 0, "\(imported.stdout)\(imported.stderr)")
        let compare = ["bench", "compare"] + state + ["--baseline", "zero"]
        let json = cli.run(compare + ["--output", "json"])
        #expect(json.code == 0, "\(json.stderr)")
        let rows = try #require(try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [[String: Any]])
        #expect(
            rows.count == 1 && rows[0]["ratio"] is NSNull && rows[0]["low"] is NSNull
                && rows[0]["value"] as? Double == 5)
        let text = cli.run(compare)
        #expect(
            text.stdout.contains("no ratio (baseline median is 0)") && text.stdout.contains("baseline's median is 0"))
        let html = cli.stateDir.appendingPathComponent("report.html").path
        let figures = cli.stateDir.appendingPathComponent("figures")
        let report = cli.run(
            ["bench", "report"] + state + ["--baseline", "zero", "--out", html, "--figures", figures.path])
        #expect(report.code == 0, "\(report.stderr)")
        var written = [try String(contentsOfFile: html, encoding: .utf8)]
        for name in (try? FileManager.default.contentsOfDirectory(atPath: figures.path)) ?? [] {
            written.append(try String(contentsOf: figures.appendingPathComponent(name), encoding: .utf8))
        }
        for page in written + [json.stdout, text.stdout] {
            #expect(page.range(of: "\\bnan\\b", options: [.regularExpression, .caseInsensitive]) == nil, "\(page)")
        }
    }
}
