import ForbcCore
import Foundation

/// Every summary of a stored result comes from its values, here: on `bench run` and again on `bench import`,
/// which first checks that the stored medians, MADs, CVs and aggregates agree with the values (a forged or stale
/// summary is refused) and then recomputes the intervals, outliers and warnings by today's method.
public enum Summaries {
    /// The tenant name of co-tenants' aggregate results.
    public static let aggregateTenant = "(aggregate)"

    /// Recomputes each result's summary (tenants first, then the aggregates from their tenants).
    public static func recompute(_ results: inout [BenchResult], policy: Stability.Policy = .init()) {
        for i in results.indices where results[i].tenant != aggregateTenant && results[i].status == "ok" {
            summarize(&results[i], policy: policy)
        }
        for i in results.indices where results[i].tenant == aggregateTenant && results[i].status == "ok" {
            let tenants = Self.tenants(of: results[i], in: results)
            aggregate(&results[i], tenants: tenants, policy: policy)
        }
    }

    /// The co-tenants an aggregate sums: the same run, topology, workload and metric.
    public static func tenants(of aggregate: BenchResult, in results: [BenchResult]) -> [BenchResult] {
        results.filter {
            $0.runID == aggregate.runID && $0.topology == aggregate.topology && $0.workload == aggregate.workload
                && $0.metric == aggregate.metric && $0.tenant != aggregateTenant && $0.status == "ok"
        }
    }

    static func summarize(_ result: inout BenchResult, policy: Stability.Policy) {
        let values = result.valueList
        guard !values.isEmpty else { return }
        let launches = result.launches
        let summary = Statistics.summarize(launches: launches ?? values.map { [$0] }, policy: policy)
        var warnings = launches == nil ? [] : summary.warnings
        if launches == nil {
            // Unknown structure: judged as independent values, without the launch rules that would misfire.
            warnings.append(
                "launch structure unknown: the \(values.count) values are treated as independent, so the interval "
                    + "is too narrow if launches differ; rerun with this forbc to record launches")
            warnings += summary.warnings.filter { !$0.hasPrefix("few launches") && !$0.hasPrefix("launch effect") }
        }
        result.median = summary.median
        result.mad = summary.mad
        result.cv = summary.cv
        result.ciLow = summary.ciLow
        result.ciHigh = summary.ciHigh
        result.outliers = BenchRunner.json(summary.outliers)
        result.warnings = BenchRunner.json(warnings)
    }

    /// The aggregate of co-tenants: the sum of their medians, Jain's fairness, and the interval from a bootstrap
    /// that resamples every tenant (launches, then windows, the same draws for all, so shared noise stays shared).
    static func aggregate(_ result: inout BenchResult, tenants: [BenchResult], policy: Stability.Policy) {
        guard !tenants.isEmpty, tenants.allSatisfy({ $0.median != nil }) else {
            result.warnings = BenchRunner.json([
                "its tenants are not stored: no interval; import them with it"
            ])
            return
        }
        let grouped = tenants.map { $0.launches ?? $0.valueList.map { [$0] } }
        let groups = TenantGroups(grouped)
        let (point, low, high) = Bootstrap.aggregateCI(groups)
        let medians = tenants.map { $0.median! }
        result.values = BenchRunner.json(medians)
        result.median = point
        result.fairness = Statistics.jainFairness(medians)
        result.ciLow = low
        result.ciHigh = high
        result.mad = nil
        result.cv = nil
        result.outliers = "[]"
        var warnings: [String] = []
        if groups.aligned, let first = grouped.first {
            // The per-window sums behave like one tenant's values: judge them as such (outliers aside).
            let sums = first.indices.map { l in first[l].indices.map { j in grouped.reduce(0) { $0 + $1[l][j] } } }
            warnings = Stability.findings(sums, policy: policy).warnings.filter { !$0.hasPrefix("outliers") }
        } else {
            warnings.append("the tenants' launches do not line up: each tenant was resampled on its own")
        }
        if tenants.contains(where: { $0.launches == nil }) {
            warnings.append("launch structure unknown for some tenant: its values are treated as independent")
        }
        result.warnings = BenchRunner.json(warnings)
    }

    /// Refuses results whose stored summaries disagree with their values: median, MAD and CV of each result; an
    /// aggregate's median (the sum of its values, the tenants' medians) and each tenant's median where the tenants
    /// are there. `file` names the source in the message.
    public static func verify(_ results: [BenchResult], file: String) throws {
        for result in results where result.status == "ok" {
            let values = result.valueList
            let name = "'\(result.topology)' \(result.workload) \(result.metric) on '\(result.tenant)'"
            func check(_ field: String, _ stored: Double?, _ computed: Double) throws {
                guard let stored else { return }
                guard abs(stored - computed) <= 1e-9 * max(1, abs(computed)) else {
                    throw ForbcError(
                        .invalidInput,
                        "\(file): \(name): stored '\(field)' \(stored) disagrees with \(computed) computed from its "
                            + "values; refusing a forged or stale summary; export it again from forbc")
                }
            }
            guard !values.isEmpty else {
                throw ForbcError(.invalidInput, "\(file): \(name) is 'ok' but has no values; it cannot be checked")
            }
            if result.tenant == aggregateTenant {
                try check("median", result.median, values.reduce(0, +))
                try check("fairness", result.fairness, Statistics.jainFairness(values))
                let tenants = Self.tenants(of: result, in: results)
                if tenants.count == values.count {
                    for (tenant, value) in zip(tenants, values) { try check("values", value, tenant.median ?? value) }
                }
                continue
            }
            try check("median", result.median, Statistics.median(values))
            try check("mad", result.mad, Statistics.mad(values))
            try check("cv", result.cv, Statistics.cv(values))
        }
    }

    /// SHA-1 (16 hex digits) of the result without its id, source, content hash, timing label and summaries (which
    /// are recomputed from the values), as sorted-key JSON with times to the second.
    public static func contentHash(_ result: BenchResult) -> String {
        var copy = result
        copy.id = nil
        copy.source = ""
        copy.contentHash = nil
        // How it was timed is a label (filled in for older results, or declared on import), not a measurement.
        copy.timing = nil
        copy.warnings = nil
        copy.ciLow = nil
        copy.ciHigh = nil
        copy.outliers = "[]"
        copy.median = nil
        copy.mad = nil
        copy.cv = nil
        copy.fairness = nil
        if copy.tenant == aggregateTenant { copy.values = "[]" }
        let data = (try? Interchange.encoder().encode(copy)) ?? Data()
        return SHA1.hash(Array(data)).prefix(8).map { String(format: "%02x", $0) }.joined()
    }
}
