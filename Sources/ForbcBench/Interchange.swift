import ForbcCore
import Foundation

/// Results in and out: JSON lines (one result a line, every field), and Phoronix Test Suite composite XML, so
/// baselines measured elsewhere (ESXi, bare metal) sit beside forbc's own.
public enum Interchange {
    static func encoder() -> JSONEncoder {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        encoder.dateEncodingStrategy = .iso8601
        return encoder
    }

    public static func jsonLines(_ results: [BenchResult]) throws -> String {
        let encoder = encoder()
        return try results.map { result -> String in
            var copy = result
            copy.id = nil
            return String(decoding: try encoder.encode(copy), as: UTF8.self)
        }.joined(separator: "\n") + "\n"
    }

    /// Reads JSON lines; every line must be a result. `source` says where they came from.
    public static func readJSONLines(_ text: String, file: String, source: String) throws -> [BenchResult] {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        var results: [BenchResult] = []
        for (number, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated()
        where !line.trimmingCharacters(in: .whitespaces).isEmpty {
            var result: BenchResult
            do { result = try decoder.decode(BenchResult.self, from: Data(line.utf8)) } catch {
                throw ForbcError(
                    .invalidInput, "\(file):\(number + 1):1: error: not a forbc result line: \(Self.reason(error))")
            }
            if let timing = result.timing {
                do { try Timing.check(timing, what: "'timing'") } catch let error as ForbcError {
                    throw ForbcError(.invalidInput, "\(file):\(number + 1):1: error: \(error.message)")
                }
            }
            result.id = nil
            result.source = source
            results.append(result)
        }
        return results
    }

    static func reason(_ error: Error) -> String {
        switch error {
        case DecodingError.keyNotFound(let key, _): "missing '\(key.stringValue)'"
        case DecodingError.typeMismatch(_, let context), DecodingError.valueNotFound(_, let context):
            "'\(context.codingPath.map(\.stringValue).joined(separator: "."))' has the wrong type"
        case DecodingError.dataCorrupted: "not JSON"
        default: "\(error)"
        }
    }

    static func xml(_ s: String) -> String {
        s.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;").replacingOccurrences(
            of: ">", with: "&gt;")
    }

    /// Phoronix Test Suite composite.xml: one <System> per topology, one <Result> per workload and metric.
    public static func phoronix(_ results: [BenchResult]) -> String {
        let ok = results.filter { $0.status == "ok" && $0.median != nil && $0.tenant != "(aggregate)" }
        var systems: [String] = []
        for r in ok where !systems.contains(r.topology) { systems.append(r.topology) }
        var text =
            "<?xml version=\"1.0\"?>\n<PhoronixTestSuite>\n  <Generated>\n    <Title>forbc</Title>\n    "
            + "<Description>exported by forbc \(ForbcBench.version)</Description>\n  </Generated>\n"
        for system in systems {
            let sample = ok.first { $0.topology == system }!
            text +=
                "  <System>\n    <Identifier>\(xml(system))</Identifier>\n    "
                + "<Hardware>\(xml(sample.gpuModel ?? "CPU")) on \(xml(sample.host))</Hardware>\n    "
                + "<Software>forbc \(xml(sample.forbcVersion)); \(xml(sample.driver ?? ""))</Software>\n  "
                + "</System>\n"
        }
        var keys: [String] = []
        for r in ok where !keys.contains("\(r.workload)|\(r.metric)") { keys.append("\(r.workload)|\(r.metric)") }
        for key in keys {
            let rows = ok.filter { "\($0.workload)|\($0.metric)" == key }
            let first = rows[0]
            text +=
                "  <Result>\n    <Identifier>forbc/\(xml(first.workload))-\(first.workloadVersion)</Identifier>\n   "
                + " <Title>\(xml(first.workload))</Title>\n    "
                + "<Description>\(xml(first.metric))</Description>\n    <Scale>\(xml(first.unit))</Scale>\n "
                + "   <Proportion>\(first.better == "higher" ? "HIB" : "LIB")</Proportion>\n    <Data>\n"
            for r in rows {
                let raw = r.valueList.map { String($0) }.joined(separator: ":")
                let tenant = r.tenant == "host" ? "" : " [\(xml(r.tenant))]"
                text += "      <Entry>\n        <Identifier>\(xml(r.topology))\(tenant)</Identifier>\n"
                text += "        <Value>\(r.median!)</Value>\n        <RawString>\(raw)</RawString>\n      </Entry>\n"
            }
            text += "    </Data>\n  </Result>\n"
        }
        return text + "</PhoronixTestSuite>\n"
    }
}
