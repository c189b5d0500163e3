import ForbcCore
import Foundation

/// Each topology as a ratio to a baseline: per workload and metric, each tenant's median (and the aggregate of
/// co-tenants) against the baseline's first tenant, with a hierarchical-bootstrap 95% CI and whether it excludes 1.
/// The baseline is chosen by a stated rule (`BaselineRuns`) and named in the output.
public enum Comparison {
    /// One candidate result against the baseline.
    public struct Row: Sendable, Codable, Equatable {
        public var topology: String
        /// The candidate's run.
        public var runID: String
        public var workload: String
        public var metric: String
        public var tenant: String
        /// Candidate median (or aggregate) / baseline median, its 95% CI, and whether that excludes 1.
        public var ratio: Double
        public var low: Double
        public var high: Double
        public var significant: Bool
        /// The candidate's stability warnings (the baseline's are in `Baseline`).
        public var warnings: [String]
    }

    /// Which runs of the baseline topology are the baseline.
    public enum BaselineRuns: Sendable, Equatable {
        /// The run with the newest result (ties: the greater run ID).
        case latest
        /// One run, by its ID or a unique prefix of it.
        case run(String)
        /// Every run, their launches pooled.
        case all

        /// "latest", "all" or a run ID (prefix).
        public init(_ text: String) {
            switch text {
            case "latest": self = .latest
            case "all": self = .all
            default: self = .run(text)
            }
        }
    }

    /// The baseline a comparison used, in words and as data.
    public struct Baseline: Sendable, Codable, Equatable {
        public var topology: String
        /// The chosen runs' IDs, oldest first.
        public var runs: [String]
        /// How the runs were chosen, e.g. "the latest of 2 runs".
        public var rule: String
        /// Warnings of the baseline results compared against, by "workload metric".
        public var warnings: [String: [String]]

        /// One line naming the baseline and the rule.
        public var description: String {
            let runs = self.runs.map { String($0.prefix(8)) }.joined(separator: ", ")
            return "baseline: '\(topology)' run(s) \(runs) (\(rule); '--baseline-run latest|all|ID' chooses)"
        }
    }

    /// The comparison with the baseline it used.
    public struct Result: Sendable, Codable, Equatable {
        /// The baseline used, and one row a candidate result.
        public var baseline: Baseline
        public var rows: [Row]
    }

    /// The rows alone (see `compare`).
    public static func rows(_ results: [BenchResult], baseline: String, runs: BaselineRuns = .latest) throws -> [Row] {
        try compare(results, baseline: baseline, runs: runs).rows
    }

    /// Every ok result of the other topologies against the chosen baseline runs.
    public static func compare(_ results: [BenchResult], baseline: String, runs: BaselineRuns = .latest) throws
        -> Result
    {
        let (chosen, description) = try select(results, topology: baseline, runs: runs)
        let base = results.filter {
            $0.topology == baseline && chosen.contains($0.runID) && $0.status == "ok"
                && $0.tenant != Summaries.aggregateTenant
        }
        var warnings: [String: [String]] = [:]
        var rows: [Row] = []
        var references: [String: LaunchGroups] = [:]
        for result in results where result.topology != baseline && result.status == "ok" {
            let key = "\(result.workload) \(result.metric)"
            if references[key] == nil {
                // The baseline's first tenant of each chosen run, launches pooled across runs.
                var seen: Set<String> = []
                let matching = base.filter {
                    $0.workload == result.workload && $0.metric == result.metric && seen.insert($0.runID).inserted
                }
                guard !matching.isEmpty else { continue }
                references[key] = LaunchGroups(matching.flatMap { $0.launches ?? $0.valueList.map { [$0] } })
                warnings[key] = Array(Set(matching.flatMap(\.warningList))).sorted()
            }
            guard let reference = references[key], reference.total > 0, !result.valueList.isEmpty else { continue }
            let interval: Interval
            if result.tenant == Summaries.aggregateTenant {
                let tenants = Summaries.tenants(of: result, in: results)
                guard !tenants.isEmpty else { continue }
                let groups = TenantGroups(tenants.map { $0.launches ?? $0.valueList.map { [$0] } })
                interval = Bootstrap.ratio(.aggregate(groups), to: reference)
            } else {
                interval = Bootstrap.ratio(.median(LaunchGroups(result.launches ?? [result.valueList])), to: reference)
            }
            rows.append(
                Row(
                    topology: result.topology, runID: result.runID, workload: result.workload, metric: result.metric,
                    tenant: result.tenant, ratio: interval.ratio, low: interval.low, high: interval.high,
                    significant: interval.significant, warnings: result.warningList))
        }
        let chosenBaseline = Baseline(topology: baseline, runs: chosen, rule: description, warnings: warnings)
        return Result(baseline: chosenBaseline, rows: rows)
    }

    /// The baseline runs by the rule, and the rule in words.
    static func select(_ results: [BenchResult], topology: String, runs: BaselineRuns) throws -> ([String], String) {
        let mine = results.filter { $0.topology == topology && $0.status == "ok" }
        guard !mine.isEmpty else {
            let known = Array(Set(results.map(\.topology))).sorted()
            throw ForbcError(
                .invalidInput,
                "no results for baseline topology '\(topology)'; stored topologies: \(known.joined(separator: ", "))")
        }
        var newest: [String: Date] = [:]
        for result in mine { newest[result.runID] = max(newest[result.runID] ?? .distantPast, result.time) }
        let ordered = newest.keys.sorted { (newest[$0]!, $0) < (newest[$1]!, $1) }
        let count = "\(ordered.count) run\(ordered.count == 1 ? "" : "s")"
        switch runs {
        case .latest: return ([ordered.last!], "the latest of \(count)")
        case .all: return (ordered, "all \(count), launches pooled")
        case .run(let id):
            let found = ordered.filter { $0.hasPrefix(id) }
            guard found.count == 1 else {
                throw ForbcError(
                    .invalidInput,
                    "'--baseline-run \(id)' matches \(found.count) run(s) of '\(topology)'; its runs: "
                        + "\(ordered.joined(separator: ", "))")
            }
            return (found, "chosen by '--baseline-run', of \(count)")
        }
    }
}
