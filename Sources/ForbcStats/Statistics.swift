import Foundation

/// Summary statistics of repeated measurements, as benchmark reports need them: median, MAD, CV, a hierarchical
/// bootstrap 95% confidence interval of the median (launches, then repetitions), outliers flagged at hyperfine's
/// threshold (kept, never dropped), and the warnings pyperf and hyperfine would give.
public struct Summary: Sendable, Codable, Equatable {
    public var count: Int
    public var median: Double
    public var mean: Double
    /// Median absolute deviation (unscaled).
    public var mad: Double
    /// Coefficient of variation: sample standard deviation / mean.
    public var cv: Double
    /// Hierarchical bootstrap 95% confidence interval of the median.
    public var ciLow: Double
    public var ciHigh: Double
    /// Indices of values more than 10 robust standard deviations from their launch's median (see `Stability`).
    public var outliers: [Int]
    /// Why the result may be unstable, in words; empty when nothing was found.
    public var warnings: [String]
}

public enum Statistics {
    public static func median(_ values: [Double]) -> Double {
        precondition(!values.isEmpty, "median of no values")
        let sorted = values.sorted()
        let mid = sorted.count / 2
        return sorted.count % 2 == 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2
    }

    public static func mean(_ values: [Double]) -> Double { values.reduce(0, +) / Double(values.count) }

    /// Median of the absolute deviations from the median.
    public static func mad(_ values: [Double]) -> Double {
        let m = median(values)
        return median(values.map { abs($0 - m) })
    }

    /// Sample standard deviation (n − 1) over the mean; 0 for fewer than two values or a zero mean.
    public static func cv(_ values: [Double]) -> Double {
        guard values.count > 1 else { return 0 }
        let m = mean(values)
        guard m != 0 else { return 0 }
        let variance = values.reduce(0) { $0 + ($1 - m) * ($1 - m) } / Double(values.count - 1)
        return variance.squareRoot() / abs(m)
    }

    /// Modified Z-scores 0.6745 (x − median) / MAD; all 0 when MAD is 0.
    public static func modifiedZScores(_ values: [Double]) -> [Double] {
        let m = median(values)
        let d = mad(values)
        guard d > 0 else { return values.map { _ in 0 } }
        return values.map { 0.6745 * ($0 - m) / d }
    }

    /// Percentile-bootstrap 95% CI of the median of independent values (each value its own launch); see
    /// `Bootstrap` for values that come from launches.
    public static func bootstrapMedianCI(
        _ values: [Double], resamples: Int = Bootstrap.resamples, seed: UInt64 = Bootstrap.seed
    ) -> (Double, Double) {
        guard values.count > 1 else { return (values.first ?? 0, values.first ?? 0) }
        return Bootstrap.medianCI(LaunchGroups([values]), resamples: resamples, seed: seed)
    }

    /// Linear-interpolation quantile (type 7) of sorted values.
    public static func quantile(sorted: [Double], _ q: Double) -> Double {
        let position = q * Double(sorted.count - 1)
        let lower = Int(position.rounded(.down))
        let upper = Int(position.rounded(.up))
        return sorted[lower] + (sorted[upper] - sorted[lower]) * (position - Double(lower))
    }

    /// The summary of values from one launch (see `summarize(launches:policy:)`).
    public static func summarize(_ values: [Double]) -> Summary { summarize(launches: [values]) }

    /// The summary of values grouped by the launch they came from (in repetition order inside each launch): the
    /// median's CI from the hierarchical bootstrap, outliers and warnings from `Stability`.
    public static func summarize(launches: [[Double]], policy: Stability.Policy = .init()) -> Summary {
        let values = launches.flatMap { $0 }
        let (low, high) = Bootstrap.medianCI(LaunchGroups(launches))
        let findings = Stability.findings(launches, policy: policy)
        return Summary(
            count: values.count, median: median(values), mean: mean(values), mad: mad(values), cv: cv(values),
            ciLow: low, ciHigh: high, outliers: findings.outliers, warnings: findings.warnings)
    }

    /// The ratio of two medians (candidate / baseline) of independent values with a bootstrap 95% CI, and whether
    /// it excludes 1; see `Bootstrap.ratio` for values that come from launches.
    public static func ratio(
        _ candidate: [Double], to baseline: [Double], resamples: Int = Bootstrap.resamples,
        seed: UInt64 = Bootstrap.seed
    ) -> Interval {
        Bootstrap.ratio(
            .median(LaunchGroups([candidate])), to: LaunchGroups([baseline]), resamples: resamples, seed: seed)
    }

    /// Jain's fairness index of per-tenant throughputs: 1 when equal, 1/n when one tenant has everything.
    public static func jainFairness(_ throughputs: [Double]) -> Double {
        let sum = throughputs.reduce(0, +)
        let squares = throughputs.reduce(0) { $0 + $1 * $1 }
        guard squares > 0 else { return 0 }
        return sum * sum / (Double(throughputs.count) * squares)
    }
}

/// A small deterministic generator (SplitMix64) for reproducible bootstraps and simulations.
public struct SplitMix64: Sendable {
    /// The generator's state.
    public var state: UInt64
    /// A generator that starts from `seed`.
    public init(seed: UInt64) { state = seed }

    @inline(__always)
    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// A uniform integer in 0..<n (Lemire's multiply-shift; the bias is below 2⁻⁵⁰ for benchmark sizes).
    @inline(__always)
    public mutating func below(_ n: Int) -> Int {
        Int(truncatingIfNeeded: next().multipliedFullWidth(by: UInt64(n)).high)
    }

    /// A uniform double in [0, 1).
    @inline(__always)
    public mutating func unit() -> Double { Double(next() >> 11) * 0x1.0p-53 }

    /// A standard normal deviate (Box–Muller).
    public mutating func normal() -> Double {
        let u = max(unit(), 0x1.0p-60)
        let v = unit()
        return (-2 * Foundation.log(u)).squareRoot() * Foundation.cos(2 * Double.pi * v)
    }
}
