import ForbcBench
import Foundation
import Testing

/// The hierarchical bootstrap, the stability rules and the coverage they give.
@Suite("hierarchical bootstrap and stability")
struct BootstrapTests {
    /// Two launches whose means differ, five repetitions each.
    let launches: [[Double]] = [[100, 101, 99, 100.5, 99.5], [104, 105, 103, 104.5, 103.5]]

    @Test("the interval depends on the values, not on their order, and hardly on the seed")
    func orderAndSeed() {
        let (low, high) = Bootstrap.medianCI(LaunchGroups(launches))
        let shuffled = launches.reversed().map { Array($0.reversed()) }
        #expect(Bootstrap.medianCI(LaunchGroups(shuffled)) == (low, high))
        // 10,000 resamples: across seeds the bounds move by a small part of the interval's width.
        for seed in [UInt64(1), 2, 3, 4] {
            let (l, h) = Bootstrap.medianCI(LaunchGroups(launches), seed: seed)
            #expect(abs(l - low) < 0.1 * (high - low) && abs(h - high) < 0.1 * (high - low), "seed \(seed)")
        }
        let ratio = Bootstrap.ratio(.median(LaunchGroups(shuffled)), to: LaunchGroups(launches))
        #expect(ratio == Bootstrap.ratio(.median(LaunchGroups(launches)), to: LaunchGroups(shuffled)))
        #expect(ratio.ratio == 1 && !ratio.significant)
    }

    @Test("launches count: an interval over two differing launches is wider than one that treats values as independent")
    func launchesWiden() {
        let (low, high) = Bootstrap.medianCI(LaunchGroups(launches))
        let (flatLow, flatHigh) = Bootstrap.medianCI(LaunchGroups.independent(launches.flatMap { $0 }))
        #expect(high - low > 1.3 * (flatHigh - flatLow))
        #expect(low <= 102.25 && 102.25 <= high)
    }

    @Test("an aggregate's interval resamples its tenants: noisier tenants, wider interval")
    func aggregateFromTenants() {
        let baseline = LaunchGroups(launches)
        let quiet: [[[Double]]] = (0..<3).map { t in launches.map { $0.map { $0 / 4 + Double(t) * 0.01 } } }
        let noisy: [[[Double]]] = quiet.map { tenant in
            tenant.enumerated().map { l, launch in
                launch.enumerated().map { j, v in v + (Double((l * 5 + j) % 3) - 1) * 2 }
            }
        }
        let calm = Bootstrap.ratio(.aggregate(TenantGroups(quiet)), to: baseline)
        let loud = Bootstrap.ratio(.aggregate(TenantGroups(noisy)), to: baseline)
        let sum = quiet.map { Statistics.median($0.flatMap { $0 }) }.reduce(0, +)
        #expect(TenantGroups(quiet).aligned && abs(TenantGroups(quiet).point - sum) < 1e-12)
        #expect(loud.high - loud.low > calm.high - calm.low)
        #expect(calm.low <= calm.ratio && calm.ratio <= calm.high)
        // Tenants whose launches do not line up are resampled each on its own.
        #expect(!TenantGroups([launches, [[1, 2, 3]]]).aligned)
    }

    @Test("the F test's p-value agrees with scipy.stats.f.sf; the ANOVA finds a launch effect")
    func fTest() {
        #expect(abs(Distributions.fSurvival(26.9, d1: 1, d2: 4) - 0.006_576_752_649_517_62) < 1e-9)
        #expect(abs(Distributions.fSurvival(3.0, d1: 2, d2: 12) - 0.087_791_495_198_902_6) < 1e-9)
        #expect(abs(Distributions.fSurvival(0.5, d1: 3, d2: 20) - 0.686_518_612_836_403) < 1e-9)
        // scipy.stats.f_oneway: F = 42.6497…, p = 2.5633e-05
        let effect = Stability.launchEffect([
            [10, 11, 10.5, 10.2], [12, 12.5, 11.8, 12.2], [10.1, 10.4, 10.0, 10.3],
        ])
        #expect(abs((effect?.f ?? 0) - 42.649_732_620_320_91) < 1e-9)
        #expect(abs((effect?.p ?? 1) - 2.563_301_890_572_233_8e-05) < 1e-12)
    }

    @Test("warnings: few launches and values, a launch effect, a warm-up, the capped CV, std/mean; none on clean data")
    func warnings() {
        let found = Stability.findings(launches).warnings
        #expect(found.contains { $0.hasPrefix("few launches: 2") })
        #expect(found.contains { $0.hasPrefix("launch effect: ") })
        #expect(!found.contains { $0.hasPrefix("outliers") })
        // The first repetition 8% above the rest, in every launch: a warm-up, judged, not assumed.
        let warm: [[Double]] = (0..<3).map { l in [108] + [100, 101, 99, 100.5].map { $0 + Double(l) * 0.1 } }
        #expect(Stability.findings(warm).warnings.contains { $0.hasPrefix("warm-up: the first repetition is 7.") })
        var policy = Stability.Policy()
        policy.launchCap = 8
        let noisy = Stability.findings([[100, 130, 80, 115, 90]], policy: policy).warnings
        #expect(noisy.contains { $0.contains("the launch cap (8) stopped relaunching") })
        #expect(noisy.contains { $0.hasPrefix("unstable: std/mean is") })
        // Ten launches of five clean values: nothing to say.
        var generator = SplitMix64(seed: 3)
        let clean = (0..<10).map { _ in (0..<5).map { _ in 100 + 0.5 * generator.normal() } }
        #expect(Stability.findings(clean).warnings == [])
    }

    @Test("outliers: hyperfine's cut flags a wild value and rarely fires on clean data; 3.5 fires often")
    func outliers() {
        #expect(Stability.outliers([[10, 10.1, 9.9, 10.05, 30]], threshold: 10) == [4])
        let old = Coverage.cleanOutlierRate(count: 5, threshold: 3.5, trials: 2000, seed: 5)
        let new = Coverage.cleanOutlierRate(count: 5, launches: 2, threshold: 10, trials: 2000, seed: 5)
        #expect(old > 0.15 && new < 0.03, "3.5: \(old), 10: \(new)")
    }

    @Test("coverage (fast, fixed seed): 95% intervals cover 85-99% with a launch effect and noisy co-tenants")
    func coverage() {
        var setting = Coverage.Setting()
        setting.trials = 200
        setting.launches = 10
        setting.repetitions = 3
        setting.tenants = 2
        setting.resamples = 500
        let outcome = Coverage.run(setting)
        for (name, value) in [("median", outcome.median), ("ratio", outcome.ratio), ("aggregate", outcome.aggregate)] {
            #expect((0.85...0.99).contains(value), "\(name): \(value)")
        }
        #expect(outcome.nullSignificant <= 0.12, "null: \(outcome.nullSignificant)")
        // Deterministic: the same seed gives the same outcome.
        setting.trials = 20
        #expect(Coverage.run(setting) == Coverage.run(setting))
    }
}
