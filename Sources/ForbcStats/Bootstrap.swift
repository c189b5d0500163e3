import Foundation

/// A ratio (or any point estimate) with its 95% confidence interval, and whether the interval excludes 1.
public struct Interval: Sendable, Codable, Equatable {
    /// The point estimate.
    public var ratio: Double
    /// The 95% bounds.
    public var low: Double
    public var high: Double
    /// Whether the interval excludes 1.
    public var significant: Bool

    /// `significant` defaults to whether [low, high] excludes 1.
    public init(ratio: Double, low: Double, high: Double, significant: Bool? = nil) {
        self.ratio = ratio
        self.low = low
        self.high = high
        self.significant = significant ?? (low > 1 || high < 1)
    }
}

/// Values grouped by the process launch they came from, flattened for the bootstrap's inner loop. The order is
/// canonical (each launch sorted, launches sorted), so an interval depends on the values, never on their order.
public struct LaunchGroups: Sendable, Equatable {
    /// Every value, launch after launch.
    let values: [Double]
    /// Start and count of each launch, interleaved: [start₀, count₀, start₁, count₁, …].
    let layout: [Int]
    /// How many launches (non-empty).
    public let launchCount: Int
    /// How many values.
    public var total: Int { values.count }

    /// `launches`: one array of values a launch; empty launches are left out.
    public init(_ launches: [[Double]]) {
        let sorted = launches.filter { !$0.isEmpty }.map { $0.sorted() }.sorted { $0.lexicographicallyPrecedes($1) }
        self.init(canonical: Self.components(sorted))
        median = sorted.isEmpty ? 0 : Statistics.median(sorted.flatMap { $0 })
    }

    /// The values the bootstrap draws from, with the variance components made unbiased (Davison and Hinkley,
    /// Bootstrap Methods, §3.8): drawing launches and then repetitions counts the within-launch variance twice
    /// and the between-launch variance (L − 1)/L times. So each launch's mean is moved towards the grand mean
    /// until their spread estimates the between-launch variance alone (the one-way ANOVA estimate, scaled by
    /// L/(L − 1)), each value's distance from its launch mean is scaled by √(n/(n − 1)), and the whole is shifted
    /// so its median is the values' median. The order of values within a launch is kept.
    static func components(_ launches: [[Double]]) -> [[Double]] {
        let all = launches.flatMap { $0 }
        guard all.count > 1 else { return launches }
        let means = launches.map { Statistics.mean($0) }
        let grand = Statistics.mean(all)
        var within = 0.0
        var withinDF = 0.0
        for (launch, m) in zip(launches, means) {
            within += launch.reduce(0) { $0 + ($1 - m) * ($1 - m) }
            withinDF += Double(launch.count - 1)
        }
        let withinVariance = withinDF > 0 ? within / withinDF : 0
        let count = Double(launches.count)
        var shrink = 0.0
        if launches.count > 1 {
            let spread = means.reduce(0) { $0 + ($1 - grand) * ($1 - grand) } / (count - 1)
            let size = Double(all.count) / count
            let between = max(0, spread - withinVariance / size)
            shrink = spread > 0 ? (count / (count - 1) * between / spread).squareRoot() : 0
        }
        var moved = zip(launches, means).map { launch, m in
            let scale = launch.count > 1 ? (Double(launch.count) / Double(launch.count - 1)).squareRoot() : 1
            return launch.map { grand + shrink * (m - grand) + scale * ($0 - m) }
        }
        let shift = Statistics.median(all) - Statistics.median(moved.flatMap { $0 })
        moved = moved.map { $0.map { $0 + shift } }
        return moved
    }

    init(canonical launches: [[Double]]) {
        values = launches.flatMap { $0 }
        var layout: [Int] = []
        var start = 0
        for launch in launches {
            layout += [start, launch.count]
            start += launch.count
        }
        self.layout = layout
        launchCount = launches.count
        median = values.isEmpty ? 0 : Statistics.median(values)
    }

    /// Independent values: each its own launch (the ordinary bootstrap).
    public static func independent(_ values: [Double]) -> LaunchGroups { LaunchGroups(values.map { [$0] }) }

    /// The median of the values as given (the point estimate the bootstrap resamples).
    public private(set) var median: Double
}

/// Co-tenants that measured the same wall-clock windows: tenant `t`'s value `j` of launch `l` covers the same
/// window as every other tenant's. The aggregate is the sum of the tenants' medians; the bootstrap draws launches,
/// then windows, and takes the same draws for every tenant, so what the tenants share stays shared. Tenants whose
/// launches do not line up (a tenant lost values) are resampled each on its own.
public struct TenantGroups: Sendable, Equatable {
    /// Tenant-major: tenant t's values at t × total ..< (t + 1) × total, in the canonical window order.
    let values: [Double]
    let layout: [Int]
    let total: Int
    /// How many tenants.
    public let tenantCount: Int
    /// The tenants, each resampled alone, when their launches do not line up; empty when they do.
    let separate: [LaunchGroups]
    /// Each tenant's median, summed: the aggregate.
    public let point: Double
    /// Whether the tenants' launches and windows line up (and are resampled together).
    public var aligned: Bool { separate.isEmpty }

    /// `tenants[t][l]`: tenant t's values of launch l, in repetition (window) order.
    public init(_ tenants: [[[Double]]]) {
        tenantCount = tenants.count
        point = tenants.map { LaunchGroups($0).median }.reduce(0, +)
        let shape = tenants.first.map { $0.map(\.count) } ?? []
        guard tenants.allSatisfy({ $0.map(\.count) == shape }), !shape.isEmpty else {
            separate = tenants.map { LaunchGroups($0) }
            values = []
            layout = []
            total = 0
            return
        }
        separate = []
        let tenants = tenants.map { LaunchGroups.components($0) }
        // Windows are ordered within a launch by (their sum, each tenant's value), launches by their windows' sums.
        var launches: [(key: [Double], windows: [[Double]])] = []
        for l in shape.indices {
            var keyed: [[Double]] = []
            for j in 0..<shape[l] {
                let window: [Double] = tenants.map { $0[l][j] }
                keyed.append([window.reduce(0, +)] + window)
            }
            keyed.sort { $0.lexicographicallyPrecedes($1) }
            let windows: [[Double]] = keyed.map { Array($0.dropFirst()) }
            let key: [Double] = keyed.map { $0[0] } + windows.flatMap { $0 }
            launches.append((key, windows))
        }
        launches.sort { $0.key.lexicographicallyPrecedes($1.key) }
        let windows = launches.flatMap(\.windows)
        total = windows.count
        values = (0..<tenants.count).flatMap { t in windows.map { $0[t] } }
        layout = LaunchGroups(canonical: launches.map { $0.windows.map { _ in 0 } }).layout
    }
}

/// The hierarchical (two-stage) percentile bootstrap: draw launches with replacement, then repetitions with
/// replacement within each drawn launch. 10,000 resamples from a seeded SplitMix64, plain arrays and no
/// allocation inside the resampling loop; the values' canonical order makes the interval independent of the order
/// they were given in, and 10,000 resamples keep the bounds' Monte Carlo error small beside their width.
public enum Bootstrap {
    /// Resamples an interval is computed from.
    public static let resamples = 10_000
    /// The generator's default seed.
    public static let seed: UInt64 = 0x5eed

    /// What a ratio's numerator is: a median of one tenant's values, or the aggregate of co-tenants.
    public enum Statistic: Sendable {
        case median(LaunchGroups)
        case aggregate(TenantGroups)

        var point: Double {
            switch self {
            case .median(let groups): groups.median
            case .aggregate(let tenants): tenants.point
            }
        }
    }

    /// The 95% CI of the median.
    public static func medianCI(_ groups: LaunchGroups, resamples: Int = resamples, seed: UInt64 = seed) -> (
        Double, Double
    ) {
        guard groups.total > 1 else { return (groups.median, groups.median) }
        var generator = SplitMix64(seed: seed)
        return percentile(medians(groups, resamples, &generator))
    }

    /// The aggregate (sum of the tenants' medians) with its 95% CI.
    public static func aggregateCI(_ tenants: TenantGroups, resamples: Int = resamples, seed: UInt64 = seed) -> (
        point: Double, low: Double, high: Double
    ) {
        var generator = SplitMix64(seed: seed)
        let (low, high) = percentile(aggregates(tenants, resamples, &generator))
        return (tenants.point, low, high)
    }

    /// candidate / baseline medians with a 95% CI; candidate and baseline are resampled independently, each
    /// hierarchically (an aggregate resamples every tenant as well as the baseline).
    public static func ratio(
        _ candidate: Statistic, to baseline: LaunchGroups, resamples: Int = resamples, seed: UInt64 = seed
    ) -> Interval {
        let point = baseline.median != 0 ? candidate.point / baseline.median : .nan
        var generator = SplitMix64(seed: seed)
        let top: [Double]
        switch candidate {
        case .median(let groups): top = medians(groups, resamples, &generator)
        case .aggregate(let tenants): top = aggregates(tenants, resamples, &generator)
        }
        let bottom = medians(baseline, resamples, &generator)
        var ratios: [Double] = []
        ratios.reserveCapacity(resamples)
        for i in 0..<resamples where bottom[i] != 0 { ratios.append(top[i] / bottom[i]) }
        guard !ratios.isEmpty, point.isFinite else { return Interval(ratio: point, low: point, high: point) }
        let (low, high) = percentile(ratios)
        return Interval(ratio: point, low: low, high: high)
    }

    /// The 2.5% and 97.5% quantiles (type 7) of replicates.
    static func percentile(_ replicates: [Double]) -> (Double, Double) {
        guard !replicates.isEmpty else { return (0, 0) }
        let sorted = replicates.sorted()
        return (Statistics.quantile(sorted: sorted, 0.025), Statistics.quantile(sorted: sorted, 0.975))
    }

    /// `count` medians of two-stage resamples.
    static func medians(_ groups: LaunchGroups, _ count: Int, _ generator: inout SplitMix64) -> [Double] {
        var out = [Double](repeating: groups.median, count: count)
        guard groups.total > 1 else { return out }
        let launches = groups.launchCount
        var scratch = [Double](repeating: 0, count: groups.total * launches)
        groups.values.withUnsafeBufferPointer { values in
            groups.layout.withUnsafeBufferPointer { layout in
                scratch.withUnsafeMutableBufferPointer { s in
                    for r in 0..<count {
                        var k = 0
                        for _ in 0..<launches {
                            let l = generator.below(launches)
                            let start = layout[2 * l]
                            let n = layout[2 * l + 1]
                            for _ in 0..<n {
                                s[k] = values[start + generator.below(n)]
                                k += 1
                            }
                        }
                        out[r] = selectMedian(s.baseAddress!, k)
                    }
                }
            }
        }
        return out
    }

    /// `count` aggregates (sums of the tenants' medians) of two-stage resamples with draws shared by the tenants.
    static func aggregates(_ tenants: TenantGroups, _ count: Int, _ generator: inout SplitMix64) -> [Double] {
        guard tenants.separate.isEmpty else {
            var sums = [Double](repeating: 0, count: count)
            for groups in tenants.separate {
                let replicates = medians(groups, count, &generator)
                for i in 0..<count { sums[i] += replicates[i] }
            }
            return sums
        }
        var out = [Double](repeating: 0, count: count)
        let launches = tenants.layout.count / 2
        let total = tenants.total
        var picks = [Int](repeating: 0, count: total * launches)
        var scratch = [Double](repeating: 0, count: total * launches)
        tenants.values.withUnsafeBufferPointer { values in
            tenants.layout.withUnsafeBufferPointer { layout in
                scratch.withUnsafeMutableBufferPointer { s in
                    picks.withUnsafeMutableBufferPointer { p in
                        for r in 0..<count {
                            var k = 0
                            for _ in 0..<launches {
                                let l = generator.below(launches)
                                let start = layout[2 * l]
                                let n = layout[2 * l + 1]
                                for _ in 0..<n {
                                    p[k] = start + generator.below(n)
                                    k += 1
                                }
                            }
                            var sum = 0.0
                            for t in 0..<tenants.tenantCount {
                                let offset = t * total
                                for i in 0..<k { s[i] = values[offset + p[i]] }
                                sum += selectMedian(s.baseAddress!, k)
                            }
                            out[r] = sum
                        }
                    }
                }
            }
        }
        return out
    }

    /// The median of `a[0..<n]`, reordering them (insertion sort when short, else quickselect).
    @inline(__always)
    static func selectMedian(_ a: UnsafeMutablePointer<Double>, _ n: Int) -> Double {
        let mid = n / 2
        if n <= 24 {
            for i in 1..<max(n, 1) {
                let x = a[i]
                var j = i - 1
                while j >= 0 && a[j] > x {
                    a[j + 1] = a[j]
                    j -= 1
                }
                a[j + 1] = x
            }
            return n % 2 == 1 ? a[mid] : (a[mid - 1] + a[mid]) / 2
        }
        select(a, n, mid)
        guard n % 2 == 0 else { return a[mid] }
        var lower = a[0]
        for i in 1..<mid where a[i] > lower { lower = a[i] }
        return (lower + a[mid]) / 2
    }

    /// Puts the k-th smallest of `a[0..<n]` at `a[k]`, the smaller ones before it (Lomuto quickselect).
    static func select(_ a: UnsafeMutablePointer<Double>, _ n: Int, _ k: Int) {
        var low = 0
        var high = n - 1
        while low < high {
            let middle = (low + high) >> 1
            a.swapAt(middle, high)
            let pivot = a[high]
            var store = low
            for i in low..<high where a[i] < pivot {
                a.swapAt(i, store)
                store += 1
            }
            a.swapAt(store, high)
            if k == store { return }
            if k < store { high = store - 1 } else { low = store + 1 }
        }
    }
}

extension UnsafeMutablePointer where Pointee == Double {
    @inline(__always)
    fileprivate func swapAt(_ i: Int, _ j: Int) {
        let t = self[i]
        self[i] = self[j]
        self[j] = t
    }
}
