import Foundation

/// Whether a result is stable enough to trust, judged as pyperf and hyperfine judge theirs, plus what values from
/// a few launches need: a launch effect, warm-up and window-edge effects, too few launches for the interval.
/// Every rule is stated in its warning; a result that earns one is still stored, with it.
public enum Stability {
    /// The thresholds; the defaults are the ones the warnings name.
    public struct Policy: Sendable {
        /// Below this many launches the hierarchical interval undercovers (coverage benchmark: `forbc-coverage`).
        public var minLaunches = 10
        /// pyperf and hyperfine want at least this many values.
        public var minValues = 10
        /// The runner relaunches while the CV is above this; above it after the last launch, the cap stopped it.
        public var cvThreshold = 0.05
        /// pyperf: std/mean at or above this is unstable.
        public var spreadLimit = 0.10
        /// pyperf: a minimum or maximum this far (relative) from the median.
        public var farFromMedian = 0.5
        /// A one-way ANOVA across launches below this p-value is a launch effect (1% of clean results warn).
        public var launchEffectP = 0.01
        /// hyperfine's outlier cut: modified Z-score (robust σ units) above 10, not Iglewicz–Hoaglin's 3.5, which
        /// flags a value in 9–21% of clean normal samples of 5–30 values.
        public var outlierZ = 10.0
        /// A first (last) repetition that is its launch's extreme in every launch, on one side, on average this many
        /// robust σ from the rest of its launch (and 1% away), is a warm-up (window-edge) effect; see `edgeEffect`.
        public var edgeZ = 2.0
        /// The launch cap, when known: the CV warning names it.
        public var launchCap: Int?
        /// The defaults.
        public init() {}
    }

    /// Outlier indices (into the values, launch after launch) and warnings.
    public struct Findings: Sendable, Equatable {
        /// Indices into the values, launch after launch.
        public var outliers: [Int] = []
        /// One sentence a finding: its kind, a colon, what was found and the remedy.
        public var warnings: [String] = []
    }

    /// The findings on values grouped by launch, in repetition order inside each launch.
    public static func findings(_ launches: [[Double]], policy: Policy = .init()) -> Findings {
        let launches = launches.filter { !$0.isEmpty }
        let values = launches.flatMap { $0 }
        var found = Findings()
        guard values.count > 1 else { return found }
        let cv = Statistics.cv(values)
        let median = Statistics.median(values)
        if launches.count < policy.minLaunches {
            found.warnings.append(
                "few launches: \(launches.count) (the interval needs \(policy.minLaunches) to cover 95%); "
                    + "rerun with '--launches \(policy.minLaunches)'")
        }
        if values.count < policy.minValues {
            found.warnings.append("few values: \(values.count) (pyperf and hyperfine want \(policy.minValues))")
        }
        if cv > policy.cvThreshold {
            let cap = policy.launchCap.map { "the launch cap (\($0))" } ?? "the launch cap"
            found.warnings.append(
                String(format: "CV %.1f%% is over the %.0f%% relaunch threshold; ", cv * 100, policy.cvThreshold * 100)
                    + "\(cap) stopped relaunching; raise '--max-launches'")
        }
        if cv >= policy.spreadLimit {
            found.warnings.append(String(format: "unstable: std/mean is %.1f%% (pyperf warns at 10%%)", cv * 100))
        }
        found.warnings += farFromMedian(values, median: median, limit: policy.farFromMedian)
        if let effect = launchEffect(launches), effect.p < policy.launchEffectP {
            found.warnings.append(
                String(
                    format: "launch effect: %.0f%% of the variance lies between launches (ANOVA F = %.1f, p = %.2g); "
                        + "only launches are independent samples", effect.share * 100, effect.f, effect.p))
        }
        for (position, name) in [(EdgePosition.first, "warm-up"), (.last, "window edge")] {
            if let edge = edgeEffect(launches, at: position, minimumZ: policy.edgeZ) {
                found.warnings.append(
                    String(
                        format: "%@: the %@ repetition is %.1f%% %@ the rest of its launch (%d launches judged)",
                        name, position == .first ? "first" : "last", abs(edge.relative) * 100,
                        edge.relative > 0 ? "above" : "below", edge.launches)
                        + (position == .first
                            ? "; raise the warm-ups" : "; its window may overlap co-tenants starting or ending"))
            }
        }
        found.outliers = outliers(launches, threshold: policy.outlierZ)
        if !found.outliers.isEmpty {
            found.warnings.append(
                "outliers: value(s) \(found.outliers.map(String.init).joined(separator: ", ")) lie more than "
                    + "\(Int(policy.outlierZ)) robust σ from their launch's median (hyperfine's cut); kept")
        }
        return found
    }

    static func farFromMedian(_ values: [Double], median: Double, limit: Double) -> [String] {
        guard median != 0 else { return [] }
        var warnings: [String] = []
        let low = (median - values.min()!) / abs(median)
        let high = (values.max()! - median) / abs(median)
        if low >= limit {
            warnings.append(String(format: "the minimum is %.0f%% below the median (pyperf warns at 50%%)", low * 100))
        }
        if high >= limit {
            warnings.append(String(format: "the maximum is %.0f%% above the median (pyperf warns at 50%%)", high * 100))
        }
        return warnings
    }

    /// Indices of values whose distance from the median of the rest of their launch exceeds `threshold` robust
    /// σ (1.4826 × the MAD of every value's such distance). Leaving the value out keeps a launch's own median
    /// from counting as a zero distance, which would shrink the MAD of short launches and flag clean values.
    public static func outliers(_ launches: [[Double]], threshold: Double) -> [Int] {
        var residuals: [Double] = []
        for launch in launches where !launch.isEmpty {
            guard launch.count >= 3 else {
                let m = Statistics.median(launch)
                residuals += launch.map { $0 - m }
                continue
            }
            for i in launch.indices {
                var rest = launch
                rest.remove(at: i)
                residuals.append(launch[i] - Statistics.median(rest))
            }
        }
        guard residuals.count > 2 else { return [] }
        let mad = Statistics.median(residuals.map(abs))
        guard mad > 0 else { return [] }
        return residuals.indices.filter { abs(0.6745 * residuals[$0] / mad) > threshold }
    }

    /// One-way ANOVA across launches: F, its p-value, and the share of the variance between launches.
    public static func launchEffect(_ launches: [[Double]]) -> (f: Double, p: Double, share: Double)? {
        let groups = launches.filter { !$0.isEmpty }
        let n = Double(groups.reduce(0) { $0 + $1.count })
        let k = Double(groups.count)
        guard groups.count >= 2, n - k >= 1 else { return nil }
        let grand = groups.flatMap { $0 }.reduce(0, +) / n
        var between = 0.0
        var within = 0.0
        for group in groups {
            let m = Statistics.mean(group)
            between += Double(group.count) * (m - grand) * (m - grand)
            within += group.reduce(0) { $0 + ($1 - m) * ($1 - m) }
        }
        let msb = between / (k - 1)
        let msw = within / (n - k)
        guard msw > 0 else { return msb > 0 ? (.infinity, 0, 1) : nil }
        let f = msb / msw
        let p = Distributions.fSurvival(f, d1: k - 1, d2: n - k)
        let n0 = (n - groups.reduce(0) { $0 + Double($1.count * $1.count) } / n) / (k - 1)
        let sb2 = max(0, (msb - msw) / n0)
        return (f, p, sb2 / (sb2 + msw))
    }

    /// Which repetition of a launch `edgeEffect` judges.
    public enum EdgePosition: Sendable { case first, last }

    /// A first (or last) repetition that differs from the rest of its launch (launches of four values or more,
    /// `minimumLaunches` of them at least), by `minimumRelative` of the rest's median on average, and
    /// - with fewer than five launches: it is its launch's extreme on the same side in every launch, on average
    ///   `minimumZ` robust σ (1.4826 × MAD of the rest of its launch) from the rest's median (hyperfine's first-run
    ///   check, made per launch);
    /// - with five or more: its ranks within the launches are too high (or low) for chance (p < 0.01).
    public static func edgeEffect(
        _ launches: [[Double]], at position: EdgePosition, minimumZ: Double, minimumLaunches: Int = 2,
        minimumRelative: Double = 0.01
    ) -> (relative: Double, z: Double, launches: Int)? {
        let judged = launches.filter { $0.count >= 4 }
        guard judged.count >= max(1, minimumLaunches) else { return nil }
        var sides: [Double] = []
        var zs: [Double] = []
        var relatives: [Double] = []
        var rankSum = 0.0
        var rankVariance = 0.0
        for launch in judged {
            let x = position == .first ? launch.first! : launch.last!
            let rest = position == .first ? Array(launch.dropFirst()) : Array(launch.dropLast())
            sides.append(x > rest.max()! ? 1 : (x < rest.min()! ? -1 : 0))
            let m = Statistics.median(rest)
            let sigma = 1.4826 * Statistics.mad(rest)
            zs.append(sigma > 0 ? abs(x - m) / sigma : (x == m ? 0 : .infinity))
            relatives.append(m != 0 ? (x - m) / abs(m) : 0)
            let n = Double(launch.count)
            let below = Double(rest.filter { $0 < x }.count) + Double(rest.filter { $0 == x }.count) / 2
            rankSum += below + 1 - (n + 1) / 2
            rankVariance += (n * n - 1) / 12
        }
        let relative = Statistics.mean(relatives)
        guard abs(relative) >= minimumRelative else { return nil }
        let z = zs.reduce(0, +) / Double(zs.count)
        if judged.count >= 5 {
            let p = Foundation.erfc(abs(rankSum) / (2 * rankVariance).squareRoot())
            return p < 0.01 ? (relative, z, judged.count) : nil
        }
        guard let side = sides.first, side != 0, sides.allSatisfy({ $0 == side }), z >= minimumZ else { return nil }
        return (relative, z, judged.count)
    }
}

/// The distribution functions the tests need, from the regularized incomplete beta function.
public enum Distributions {
    /// P(F > f) for an F(d1, d2) distribution.
    public static func fSurvival(_ f: Double, d1: Double, d2: Double) -> Double {
        guard f > 0 else { return 1 }
        guard f.isFinite else { return 0 }
        return incompleteBeta(d2 / (d2 + d1 * f), a: d2 / 2, b: d1 / 2)
    }

    /// The regularized incomplete beta function I_x(a, b) (continued fraction, Numerical Recipes §6.4).
    public static func incompleteBeta(_ x: Double, a: Double, b: Double) -> Double {
        if x <= 0 { return 0 }
        if x >= 1 { return 1 }
        let gammas: Double = lgamma(a + b) - lgamma(a) - lgamma(b)
        let logs: Double = a * Foundation.log(x) + b * Foundation.log(1 - x)
        let front = Foundation.exp(gammas + logs)
        if x < (a + 1) / (a + b + 2) { return front * continuedFraction(x, a, b) / a }
        return 1 - front * continuedFraction(1 - x, b, a) / b
    }

    static func continuedFraction(_ x: Double, _ a: Double, _ b: Double) -> Double {
        let tiny = 1e-300
        var c = 1.0
        var d = 1 - (a + b) * x / (a + 1)
        d = abs(d) < tiny ? tiny : d
        d = 1 / d
        var h = d
        for m in 1...300 {
            let m = Double(m)
            for step in 0..<2 {
                let numerator: Double
                if step == 0 {
                    let top: Double = m * (b - m) * x
                    numerator = top / ((a + 2 * m - 1) * (a + 2 * m))
                } else {
                    let top: Double = -(a + m) * (a + b + m) * x
                    numerator = top / ((a + 2 * m) * (a + 2 * m + 1))
                }
                d = 1 + numerator * d
                d = abs(d) < tiny ? tiny : d
                c = 1 + numerator / c
                c = abs(c) < tiny ? tiny : c
                d = 1 / d
                h *= d * c
                if step == 1 && abs(d * c - 1) < 1e-14 { return h }
            }
        }
        return h
    }
}
