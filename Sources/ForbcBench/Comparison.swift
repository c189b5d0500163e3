import ForbcCore

/// Each topology as a ratio to a baseline: per workload and metric, each tenant's values (and the aggregate of
/// co-tenants) against the baseline's first tenant, with a bootstrap 95% CI and whether it excludes 1.
public enum Comparison {
    public struct Row: Sendable, Codable, Equatable {
        public var topology: String
        public var workload: String
        public var metric: String
        public var tenant: String
        public var ratio: Double
        public var low: Double
        public var high: Double
        public var significant: Bool
    }

    public static func rows(_ results: [BenchResult], baseline: String) throws -> [Row] {
        let base = results.filter { $0.topology == baseline && $0.status == "ok" && $0.tenant != "(aggregate)" }
        guard !base.isEmpty else {
            let known = Array(Set(results.map(\.topology))).sorted()
            throw ForbcError(
                .invalidInput,
                "no results for baseline topology '\(baseline)'; stored topologies: \(known.joined(separator: ", "))")
        }
        var rows: [Row] = []
        for result in results where result.topology != baseline && result.status == "ok" {
            guard let reference = base.first(where: { $0.workload == result.workload && $0.metric == result.metric })
            else { continue }
            let values = result.valueList
            let baseValues = reference.valueList
            guard !values.isEmpty, !baseValues.isEmpty else { continue }
            if result.tenant == "(aggregate)", let aggregate = result.median {
                // The sum of the tenants' medians against the baseline: its CI from the baseline's median CI.
                let (low, high) = Statistics.bootstrapMedianCI(baseValues)
                let ratio = aggregate / Statistics.median(baseValues)
                let lowRatio = high > 0 ? aggregate / high : ratio
                let highRatio = low > 0 ? aggregate / low : ratio
                rows.append(
                    Row(
                        topology: result.topology, workload: result.workload, metric: result.metric,
                        tenant: result.tenant,
                        ratio: ratio, low: lowRatio, high: highRatio, significant: lowRatio > 1 || highRatio < 1))
                continue
            }
            let r = Statistics.ratio(values, to: baseValues)
            rows.append(
                Row(
                    topology: result.topology, workload: result.workload, metric: result.metric, tenant: result.tenant,
                    ratio: r.ratio, low: r.low, high: r.high, significant: r.significant))
        }
        return rows
    }
}
