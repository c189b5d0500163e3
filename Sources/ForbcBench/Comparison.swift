import ForbcCore
import Foundation

/// Each topology as a ratio to a baseline: per workload and metric, each tenant's median (and the aggregate of
/// co-tenants) against the baseline's first tenant, with a hierarchical-bootstrap 95% CI and whether it excludes 1.
/// A result is paired with baseline runs timed the same way (`Timing`); where the baseline has none, the row says
/// that it mixes methods. The baseline is chosen by a stated rule (`BaselineRuns`) and named in the output.
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
        /// The absolute values: the candidate's median (or aggregate) with its own 95% CI, and the baseline's
        /// median (its runs pooled), in `unit`.
        public var unit: String
        public var value: Double
        public var valueLow: Double?
        public var valueHigh: Double?
        public var baselineValue: Double
        /// How the candidate and the baseline it was paired with were timed (`Timing`), and whether that is the
        /// same known method (else the ratio mixes methods, and says so).
        public var timing: String
        public var baselineTiming: String
        public var sameTiming: Bool

        /// Whether there is a ratio: against a baseline whose median is 0 there is none (JSON: null).
        public var hasRatio: Bool { ratio.isFinite && low.isFinite && high.isFinite }

        /// "1.234 [1.100, 1.300]", or why there is no ratio.
        public var ratioText: String {
            hasRatio ? String(format: "%.3f [%.3f, %.3f]", ratio, low, high) : "no ratio (baseline median is 0)"
        }
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
        /// How the chosen runs were timed ("+"-joined when they differ).
        public var timing: String = Timing.unknown

        /// One line naming the baseline, its timing and the rule.
        public var description: String {
            let runs = self.runs.map { String($0.prefix(8)) }.joined(separator: ", ")
            return "baseline: '\(topology)' run(s) \(runs) timed by \(timing) (\(rule); '--baseline-run latest|all|ID' "
                + "chooses)"
        }
    }

    /// The comparison with the baselines it used.
    public struct Result: Sendable, Codable, Equatable {
        /// The first baseline used (see `baselines`), and one row a candidate result.
        public var baseline: Baseline
        public var rows: [Row]
        /// One baseline a timing method the candidates were paired by, in the order first used.
        public var baselines: [Baseline] = []

        /// The rows whose ratio mixes two timing methods (or an unknown one).
        public var mixed: [Row] { rows.filter { !$0.sameTiming } }
    }

    /// The rows alone (see `compare`).
    public static func rows(_ results: [BenchResult], baseline: String, runs: BaselineRuns = .latest) throws -> [Row] {
        try compare(results, baseline: baseline, runs: runs).rows
    }

    /// A result's timing, inferred from its data when it records none.
    static func timing(_ result: BenchResult) -> String { result.timing ?? Timing.inferred(result) }

    /// Every ok result of the other topologies against the chosen baseline runs timed as it was (or, when the
    /// baseline has no such runs or `runs` names one, against the runs chosen among all, marked as mixed).
    public static func compare(_ results: [BenchResult], baseline: String, runs: BaselineRuns = .latest) throws
        -> Result
    {
        let everything = try select(results, topology: baseline, runs: runs)
        let base = results.filter {
            $0.topology == baseline && $0.status == "ok" && $0.tenant != Summaries.aggregateTenant
        }
        var baselines: [String: Baseline] = [:]
        var order: [String] = []
        var rows: [Row] = []
        var references: [String: (LaunchGroups, [String])] = [:]
        for result in results where result.topology != baseline && result.status == "ok" {
            let timing = timing(result)
            if baselines[timing] == nil {
                baselines[timing] = try choose(base, timing: timing, runs: runs, everything: everything)
                order.append(timing)
            }
            let chosen = baselines[timing]!
            let key = "\(timing) \(result.workload) \(result.metric)"
            if references[key] == nil {
                // The baseline's first tenant of each chosen run, launches pooled across runs.
                var seen: Set<String> = []
                let matching = base.filter {
                    chosen.runs.contains($0.runID) && $0.workload == result.workload && $0.metric == result.metric
                        && seen.insert($0.runID).inserted
                }
                guard !matching.isEmpty else { continue }
                let groups = LaunchGroups(matching.flatMap { $0.launches ?? $0.valueList.map { [$0] } })
                references[key] = (groups, matching.map(Self.timing))
                baselines[timing]!.warnings["\(result.workload) \(result.metric)"] =
                    Array(Set(matching.flatMap(\.warningList))).sorted()
            }
            guard let (reference, baseTimings) = references[key], reference.total > 0, !result.valueList.isEmpty
            else { continue }
            guard let interval = ratio(result, in: results, to: reference) else { continue }
            let baseTiming = Array(Set(baseTimings)).sorted().joined(separator: "+")
            rows.append(
                Row(
                    topology: result.topology, runID: result.runID, workload: result.workload, metric: result.metric,
                    tenant: result.tenant, ratio: interval.ratio, low: interval.low, high: interval.high,
                    significant: interval.significant,
                    warnings: result.warningList + (interval.ratio.isFinite ? [] : [Self.noRatio]), unit: result.unit,
                    value: result.median ?? interval.ratio * reference.median, valueLow: result.ciLow,
                    valueHigh: result.ciHigh,
                    baselineValue: reference.median, timing: timing, baselineTiming: baseTiming,
                    sameTiming: Timing.comparable(timing, baseTiming)))
        }
        let used = order.compactMap { baselines[$0] }
        let first = used.first ?? everything
        return Result(baseline: first, rows: rows, baselines: used)
    }

    /// The warning of a row compared with a baseline whose median is 0.
    static let noRatio = "no ratio: the baseline's median is 0; compare the absolute values"

    /// A candidate against the baseline's groups: a tenant's median, or co-tenants' aggregate resampling every
    /// tenant (and, in both, the baseline).
    static func ratio(_ result: BenchResult, in results: [BenchResult], to reference: LaunchGroups) -> Interval? {
        if result.tenant == Summaries.aggregateTenant {
            let tenants = Summaries.tenants(of: result, in: results)
            guard !tenants.isEmpty else { return nil }
            let groups = TenantGroups(tenants.map { $0.launches ?? $0.valueList.map { [$0] } })
            return Bootstrap.ratio(.aggregate(groups), to: reference)
        }
        return Bootstrap.ratio(.median(LaunchGroups(result.launches ?? [result.valueList])), to: reference)
    }

    /// The baseline runs for candidates timed by `timing`: by the rule among the baseline's runs timed the same
    /// way; `everything` (the rule over all runs) when there are none, the method is unknown, or a run was named.
    static func choose(_ base: [BenchResult], timing: String, runs: BaselineRuns, everything: Baseline) throws
        -> Baseline
    {
        let same = base.filter { Self.timing($0) == timing }
        if case .run = runs { return everything }
        guard timing != Timing.unknown, !same.isEmpty else { return everything }
        var chosen = try select(same, topology: everything.topology, runs: runs)
        chosen.rule += " timed by \(timing)"
        return chosen
    }

    /// The baseline runs by the rule, and the rule in words.
    static func select(_ results: [BenchResult], topology: String, runs: BaselineRuns) throws -> Baseline {
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
        func baseline(_ runs: [String], _ rule: String) -> Baseline {
            let timings = Set(mine.filter { runs.contains($0.runID) }.map(Self.timing))
            return Baseline(
                topology: topology, runs: runs, rule: rule, warnings: [:],
                timing: timings.sorted().joined(separator: "+"))
        }
        let count = "\(ordered.count) run\(ordered.count == 1 ? "" : "s")"
        switch runs {
        case .latest: return baseline([ordered.last!], "the latest of \(count)")
        case .all: return baseline(ordered, "all \(count), launches pooled")
        case .run(let id):
            let found = ordered.filter { $0.hasPrefix(id) }
            guard found.count == 1 else {
                throw ForbcError(
                    .invalidInput,
                    "'--baseline-run \(id)' matches \(found.count) run(s) of '\(topology)'; its runs: "
                        + "\(ordered.joined(separator: ", "))")
            }
            return baseline(found, "chosen by '--baseline-run', of \(count)")
        }
    }
}
