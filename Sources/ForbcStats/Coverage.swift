import Foundation

/// Simulated benchmarks with a known truth, to measure how often the 95% intervals cover it: launches whose means
/// differ (a share of the variance between launches), co-tenants noisier than the baseline that share part of
/// each window's noise. `forbc-coverage` prints the table; a small fixed-seed version runs in the tests.
public enum Coverage {
    /// One simulated setting.
    public struct Setting: Sendable {
        /// Launches × repetitions of every simulated process, and the co-tenants sharing the windows.
        public var launches = 10
        public var repetitions = 5
        public var tenants = 4
        /// The baseline's CV; co-tenants have `tenantNoise` times it.
        public var cv = 0.02
        public var tenantNoise = 2.0
        /// The share of the variance between launches.
        public var launchShare = 0.5
        /// The share of a tenant's within-launch variance common to every tenant in the same window.
        public var windowShare = 0.3
        /// Trials, bootstrap resamples an interval, and the seed of the first trial's generator.
        public var trials = 1000
        public var resamples = Bootstrap.resamples
        public var seed: UInt64 = 17
        /// The setting of the coverage table's default row.
        public init() {}
    }

    /// The fractions of trials whose interval covered the truth (and, for `nullSignificant`, how often a
    /// candidate identical to the baseline was called significantly different).
    public struct Outcome: Sendable, Equatable {
        /// A median, a tenant's ratio to the baseline, the co-tenants' aggregate ratio.
        public var median = 0.0
        public var ratio = 0.0
        public var aggregate = 0.0
        /// A candidate with the baseline's own distribution called significantly different.
        public var nullSignificant = 0.0
        /// The same with the independent-values bootstrap (launches ignored), for contrast.
        public var flatMedian = 0.0
        public var flatRatio = 0.0
        public var flatNullSignificant = 0.0
    }

    /// Runs `setting.trials` trials (in parallel, each from its own seeded generator: deterministic).
    public static func run(_ setting: Setting) -> Outcome {
        let hits = Locked([[Bool]](repeating: [], count: setting.trials))
        DispatchQueue.concurrentPerform(iterations: setting.trials) { trial in
            let result = Self.trial(setting, seed: setting.seed &* 0x1_0000_0001 &+ UInt64(trial))
            hits.update { $0[trial] = result }
        }
        let all = hits.value
        func rate(_ i: Int) -> Double { Double(all.filter { $0[i] }.count) / Double(max(all.count, 1)) }
        return Outcome(
            median: rate(0), ratio: rate(1), aggregate: rate(2), nullSignificant: rate(3), flatMedian: rate(4),
            flatRatio: rate(5), flatNullSignificant: rate(6))
    }

    /// One trial: whether each interval covered its truth (and whether the null comparison was significant).
    static func trial(_ setting: Setting, seed: UInt64) -> [Bool] {
        var generator = SplitMix64(seed: seed)
        let baselineMean = 100.0
        let tenantMean = 90.0 / Double(setting.tenants)
        let baseline = sample(baselineMean, cv: setting.cv, setting, &generator)
        let twin = sample(baselineMean, cv: setting.cv, setting, &generator)
        let tenants = cotenants(tenantMean, setting, &generator)
        let groups = LaunchGroups(baseline)
        let seed = generator.next()
        let resamples = setting.resamples
        let (low, high) = Bootstrap.medianCI(groups, resamples: resamples, seed: seed)
        let one = Bootstrap.ratio(.median(LaunchGroups(tenants[0])), to: groups, resamples: resamples, seed: seed)
        let all = Bootstrap.ratio(.aggregate(TenantGroups(tenants)), to: groups, resamples: resamples, seed: seed)
        let null = Bootstrap.ratio(.median(LaunchGroups(twin)), to: groups, resamples: resamples, seed: seed)
        let flat = LaunchGroups([baseline.flatMap { $0 }])
        let (flatLow, flatHigh) = Bootstrap.medianCI(flat, resamples: resamples, seed: seed)
        let flatOne = Bootstrap.ratio(
            .median(LaunchGroups([tenants[0].flatMap { $0 }])), to: flat, resamples: resamples, seed: seed)
        let flatNull = Bootstrap.ratio(
            .median(LaunchGroups([twin.flatMap { $0 }])), to: flat, resamples: resamples, seed: seed)
        let truth = tenantMean / baselineMean
        let aggregateTruth = tenantMean * Double(setting.tenants) / baselineMean
        return [
            low <= baselineMean && baselineMean <= high, one.low <= truth && truth <= one.high,
            all.low <= aggregateTruth && aggregateTruth <= all.high, null.significant,
            flatLow <= baselineMean && baselineMean <= flatHigh, flatOne.low <= truth && truth <= flatOne.high,
            flatNull.significant,
        ]
    }

    /// Launches × repetitions of one process: mean + launch effect + repetition noise.
    static func sample(_ mean: Double, cv: Double, _ setting: Setting, _ generator: inout SplitMix64) -> [[Double]] {
        let sd = mean * cv
        return (0..<setting.launches).map { _ in
            let shift = sd * setting.launchShare.squareRoot() * generator.normal()
            return (0..<setting.repetitions).map { _ in
                mean + shift + sd * (1 - setting.launchShare).squareRoot() * generator.normal()
            }
        }
    }

    /// Co-tenants: each with its own launch effect, and window noise partly shared by all tenants in a window.
    static func cotenants(_ mean: Double, _ setting: Setting, _ generator: inout SplitMix64) -> [[[Double]]] {
        let sd = mean * setting.cv * setting.tenantNoise
        let within = sd * (1 - setting.launchShare).squareRoot()
        var tenants = [[[Double]]](
            repeating: [[Double]](repeating: [], count: setting.launches), count: setting.tenants)
        for l in 0..<setting.launches {
            let shifts = (0..<setting.tenants).map { _ in sd * setting.launchShare.squareRoot() * generator.normal() }
            for _ in 0..<setting.repetitions {
                let common = within * setting.windowShare.squareRoot() * generator.normal()
                for t in 0..<setting.tenants {
                    let own = within * (1 - setting.windowShare).squareRoot() * generator.normal()
                    tenants[t][l].append(mean + shifts[t] + common + own)
                }
            }
        }
        return tenants
    }

    /// How often an outlier rule fires on clean data (independent normal values: `launches` launches of `count`
    /// without a launch effect): the share of `trials` samples with an outlier at `threshold` (below 5: the old
    /// pooled modified Z-score rule; else `Stability.outliers`).
    public static func cleanOutlierRate(count: Int, launches: Int = 1, threshold: Double, trials: Int, seed: UInt64)
        -> Double
    {
        var generator = SplitMix64(seed: seed)
        var fired = 0
        for _ in 0..<trials {
            let sample = (0..<launches).map { _ in (0..<count).map { _ in 100 + generator.normal() } }
            if threshold < 5 {
                // Iglewicz and Hoaglin's rule as forbc used it: every value against the median of all.
                if Statistics.modifiedZScores(sample.flatMap { $0 }).contains(where: { abs($0) > threshold }) {
                    fired += 1
                }
                continue
            }
            if !Stability.outliers(sample, threshold: threshold).isEmpty { fired += 1 }
        }
        return Double(fired) / Double(trials)
    }

    /// How often each warning kind (the text before its first ':') fires on clean data of `launches` ×
    /// `repetitions` values with a 1% CV.
    public static func cleanWarningRates(launches: Int, repetitions: Int, trials: Int, seed: UInt64) -> [String: Double]
    {
        var generator = SplitMix64(seed: seed)
        var counts: [String: Int] = [:]
        for _ in 0..<trials {
            let sample = (0..<launches).map { _ in (0..<repetitions).map { _ in 100 + generator.normal() } }
            for warning in Stability.findings(sample).warnings {
                counts[String(warning.prefix { $0 != ":" }), default: 0] += 1
            }
        }
        return counts.mapValues { Double($0) / Double(trials) }
    }
}

/// A value behind a lock, for results written from concurrent work.
public final class Locked<T>: @unchecked Sendable {
    private var stored: T
    private let lock = NSLock()
    /// A lock around `value`.
    public init(_ value: T) { stored = value }
    /// The value now.
    public var value: T { lock.withLock { stored } }
    /// Changes the value under the lock.
    public func update(_ body: (inout T) -> Void) { lock.withLock { body(&stored) } }
}
