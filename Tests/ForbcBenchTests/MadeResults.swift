import ForbcBench
import Foundation

/// Results as `bench export` writes them, from the fields a test cares about; summaries computed by `Summaries`.
enum MadeResults {
    /// One tenant's (or, with `tenant` "(aggregate)", co-tenants' aggregate) result.
    static func line(
        _ topology: String, run: String, tenant: String = "host", tenants: Int = 1, launches: [[Double]] = [],
        timing: String?, time: String = "2026-11-26T08:00:00Z", workload: String = "w", metric: String = "m",
        driver: String? = nil
    ) -> [String: Any] {
        func json(_ value: some Encodable) -> String {
            String(decoding: try! JSONEncoder().encode(value), as: UTF8.self)
        }
        var fields: [String: Any] = [
            "runID": run, "time": time, "topology": topology, "suite": "s", "workload": workload,
            "workloadVersion": 1, "metric": metric, "unit": "GB/s", "better": "higher", "tenant": tenant,
            "tenants": tenants, "cotenants": "", "host": "h", "manifestHash": "0", "forbcVersion": "0.1.0",
            "status": "ok", "values": json(launches.flatMap { $0 }), "outliers": "[]", "logs": "[]", "source": "t",
            "launchSizes": json(launches.map(\.count)),
        ]
        if let timing { fields["timing"] = timing }
        if let driver { fields["driver"] = driver }
        return fields
    }

    /// A topology's run: `tenants` (each its launches), and their aggregate when there are several.
    static func run(
        _ topology: String, run: String, tenants: [[[Double]]], timing: String?,
        time: String = "2026-11-26T08:00:00Z", metric: String = "m", driver: String? = nil
    ) -> [[String: Any]] {
        var lines: [[String: Any]] = tenants.enumerated().map { i, launches in
            line(
                topology, run: run, tenant: tenants.count > 1 ? "gpu#\(i)" : "gpu", tenants: tenants.count,
                launches: launches, timing: timing, time: time, metric: metric, driver: driver)
        }
        if tenants.count > 1 {
            lines.append(
                line(
                    topology, run: run, tenant: "(aggregate)", tenants: tenants.count, timing: timing, time: time,
                    metric: metric))
        }
        return lines
    }

    /// The lines decoded as `bench import` reads them, summaries recomputed.
    static func results(_ lines: [[String: Any]]) throws -> [BenchResult] {
        let text = try lines.map {
            String(decoding: try JSONSerialization.data(withJSONObject: $0, options: [.sortedKeys]), as: UTF8.self)
        }.joined(separator: "\n")
        var results = try Interchange.readJSONLines(text, file: "made.jsonl", source: "made")
        Summaries.recompute(&results)
        return results
    }

    /// `count` launches of `size` values around `center`, spread by `noise` (deterministic).
    static func launches(_ center: Double, noise: Double, count: Int = 4, size: Int = 5) -> [[Double]] {
        (0..<count).map { (l: Int) -> [Double] in
            (0..<size).map { (j: Int) -> Double in
                let step = Double((l * 7 + j * 3) % 5) - 2
                return center + noise * step / 2
            }
        }
    }
}
