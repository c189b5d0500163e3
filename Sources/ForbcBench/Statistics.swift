import Foundation

/// Summary statistics of repeated measurements, as benchmark reports need them: median, MAD, CV, a bootstrap
/// 95% confidence interval of the median, and outliers flagged by the modified Z-score (kept, never dropped).
public struct Summary: Sendable, Codable, Equatable {
    public var count: Int
    public var median: Double
    public var mean: Double
    /// Median absolute deviation (unscaled).
    public var mad: Double
    /// Coefficient of variation: sample standard deviation / mean.
    public var cv: Double
    /// Bootstrap 95% confidence interval of the median.
    public var ciLow: Double
    public var ciHigh: Double
    /// Indices of values whose modified Z-score exceeds 3.5 (Iglewicz and Hoaglin).
    public var outliers: [Int]
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

    /// Percentile-bootstrap 95% CI of the median: `resamples` resamples drawn with a seeded generator, so the
    /// same values always give the same interval.
    public static func bootstrapMedianCI(_ values: [Double], resamples: Int = 2000, seed: UInt64 = 0x5eed) -> (
        Double, Double
    ) {
        guard values.count > 1 else { return (values.first ?? 0, values.first ?? 0) }
        var generator = SplitMix64(seed: seed)
        var medians: [Double] = []
        medians.reserveCapacity(resamples)
        var sample = [Double](repeating: 0, count: values.count)
        for _ in 0..<resamples {
            for i in sample.indices { sample[i] = values[Int(generator.next() % UInt64(values.count))] }
            medians.append(median(sample))
        }
        medians.sort()
        return (quantile(sorted: medians, 0.025), quantile(sorted: medians, 0.975))
    }

    /// Linear-interpolation quantile (type 7) of sorted values.
    public static func quantile(sorted: [Double], _ q: Double) -> Double {
        let position = q * Double(sorted.count - 1)
        let lower = Int(position.rounded(.down))
        let upper = Int(position.rounded(.up))
        return sorted[lower] + (sorted[upper] - sorted[lower]) * (position - Double(lower))
    }

    public static func summarize(_ values: [Double]) -> Summary {
        let (low, high) = bootstrapMedianCI(values)
        return Summary(
            count: values.count, median: median(values), mean: mean(values), mad: mad(values), cv: cv(values),
            ciLow: low, ciHigh: high,
            outliers: modifiedZScores(values).enumerated().filter { abs($0.element) > 3.5 }.map(\.offset))
    }

    /// The ratio of two medians (candidate / baseline) with a bootstrap 95% CI, and whether it excludes 1.
    public static func ratio(_ candidate: [Double], to baseline: [Double], resamples: Int = 2000, seed: UInt64 = 0x5eed)
        -> (ratio: Double, low: Double, high: Double, significant: Bool)
    {
        var generator = SplitMix64(seed: seed)
        var ratios: [Double] = []
        ratios.reserveCapacity(resamples)
        for _ in 0..<resamples {
            let c = (0..<candidate.count).map { _ in candidate[Int(generator.next() % UInt64(candidate.count))] }
            let b = (0..<baseline.count).map { _ in baseline[Int(generator.next() % UInt64(baseline.count))] }
            let mb = median(b)
            if mb != 0 { ratios.append(median(c) / mb) }
        }
        ratios.sort()
        let point = median(candidate) / median(baseline)
        guard !ratios.isEmpty else { return (point, point, point, false) }
        let low = quantile(sorted: ratios, 0.025)
        let high = quantile(sorted: ratios, 0.975)
        return (point, low, high, low > 1 || high < 1)
    }

    /// Jain's fairness index of per-tenant throughputs: 1 when equal, 1/n when one tenant has everything.
    public static func jainFairness(_ throughputs: [Double]) -> Double {
        let sum = throughputs.reduce(0, +)
        let squares = throughputs.reduce(0) { $0 + $1 * $1 }
        guard squares > 0 else { return 0 }
        return sum * sum / (Double(throughputs.count) * squares)
    }
}

/// A small deterministic generator (SplitMix64) for reproducible bootstraps.
struct SplitMix64 {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
