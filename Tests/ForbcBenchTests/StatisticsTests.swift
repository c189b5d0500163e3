import ForbcBench
import Testing

/// Against values computed by hand.
@Suite("benchmark statistics")
struct StatisticsTests {
    let values: [Double] = [10, 12, 11, 13, 50]

    @Test("median, MAD, mean and CV")
    func basics() {
        #expect(Statistics.median(values) == 12)
        #expect(Statistics.median([4, 1, 3, 2]) == 2.5)
        // deviations from 12: 2, 0, 1, 1, 38 → sorted 0, 1, 1, 2, 38 → MAD 1
        #expect(Statistics.mad(values) == 1)
        #expect(Statistics.mean(values) == 19.2)
        // sample sd: deviations from 19.2: −9.2, −7.2, −8.2, −6.2, 30.8;
        // squares sum 84.64+51.84+67.24+38.44+948.64 = 1190.8
        // variance 1190.8 / 4 = 297.7; sd 17.2540…; CV = 0.89865…
        #expect(abs(Statistics.cv(values) - 17.254_0 / 19.2) < 1e-4)
        #expect(Statistics.cv([5]) == 0)
    }

    @Test("modified Z-scores flag 50 as an outlier and keep it")
    func outliers() {
        // 0.6745 × (50 − 12) / 1 = 25.631
        let z = Statistics.modifiedZScores(values)
        #expect(abs(z[4] - 25.631) < 1e-9)
        #expect(abs(z[0] - -1.349) < 1e-9)
        let summary = Statistics.summarize(values)
        #expect(summary.outliers == [4])
        #expect(summary.count == 5)
    }

    @Test("the bootstrap CI brackets the median, is reproducible, and collapses for constant data")
    func bootstrap() {
        let (low, high) = Statistics.bootstrapMedianCI(values)
        #expect(low <= 12 && 12 <= high)
        #expect(Statistics.bootstrapMedianCI(values) == (low, high))
        #expect(Statistics.bootstrapMedianCI([7, 7, 7, 7]) == (7, 7))
        #expect(Statistics.quantile(sorted: [1, 2, 3, 4], 0.5) == 2.5)
    }

    @Test("ratios to a baseline with a CI; significance only when the CI excludes 1")
    func ratios() {
        let base: [Double] = [100, 101, 99, 100, 100, 102, 98]
        let half = base.map { $0 / 2 }
        let r = Statistics.ratio(half, to: base)
        #expect(r.ratio == 0.5 && r.significant && r.high < 1)
        let same = Statistics.ratio(base, to: base)
        #expect(same.ratio == 1 && !same.significant)
    }

    @Test("Jain's fairness index")
    func fairness() {
        #expect(Statistics.jainFairness([5, 5, 5, 5]) == 1)
        #expect(Statistics.jainFairness([10, 0, 0, 0]) == 0.25)
        // (1+2+3)² / (3 × (1+4+9)) = 36 / 42
        #expect(abs(Statistics.jainFairness([1, 2, 3]) - 36.0 / 42.0) < 1e-12)
    }
}
