import ForbcBench
import ForbcTestSupport
import Foundation
import GRDB
import Testing

/// One timing method per comparison: each result records how it was timed, older stores are migrated, and a
/// ratio pairs a result only with baseline runs timed the same way (or says that it mixes methods).
@Suite("timing methods")
struct TimingTests {
    let lone = MadeResults.launches(100, noise: 2)
    let windowed = MadeResults.launches(90, noise: 2)
    let tenant = MadeResults.launches(40, noise: 1)

    @Test("the method follows from the workload's bound and the window it ran with")
    func method() throws {
        #expect(Timing.method(bound: "device", window: 0) == Timing.deviceEvents)
        #expect(Timing.method(bound: "host", window: 0) == Timing.hostClock)
        #expect(Timing.method(bound: "device", window: 1) == Timing.wallWindow)
        #expect(Timing.method(bound: "host", window: 0.5) == Timing.wallWindow)
        #expect(throws: (any Error).self) { try Timing.check("cuda", what: "'--timing'") }
        #expect(!Timing.comparable(Timing.unknown, Timing.unknown) && Timing.comparable("wall-window", "wall-window"))
    }

    @Test("a v3 store migrates: co-tenants measured since the window are wall-window, the rest unknown")
    func migration() throws {
        let path = makeTemporaryDirectory("store").appendingPathComponent("bench.sqlite").path
        let before = "2026-11-25T20:00:00Z"
        let after = "2026-11-26T01:00:00Z"
        let results = try MadeResults.results(
            MadeResults.run("pair-old", run: "r1", tenants: [tenant, tenant], timing: nil, time: before)
                + MadeResults.run("pair", run: "r2", tenants: [tenant, tenant], timing: nil, time: after)
                + MadeResults.run("solo", run: "r3", tenants: [lone], timing: nil, time: after))
        try ResultStore(path: path).insert(results)
        // Back to v3: the column dropped and the migration forgotten, as a store written before it.
        let queue = try DatabaseQueue(path: path)
        try queue.write { db in
            try db.alter(table: "result") { $0.drop(column: "timing") }
            try db.execute(sql: "DELETE FROM grdb_migrations WHERE identifier LIKE 'v4%'")
        }
        try queue.close()
        let migrated = try ResultStore(path: path).all()
        #expect(migrated.count == 7)
        for result in migrated {
            let expected = result.topology == "pair" ? Timing.wallWindow : Timing.unknown
            #expect(result.timing == expected, "\(result.topology) \(result.tenant)")
        }
    }

    @Test("each result is paired with baseline runs timed as it was, and says which")
    func pairing() throws {
        let results = try MadeResults.results(
            MadeResults.run("solo", run: "events", tenants: [lone], timing: Timing.deviceEvents)
                + MadeResults.run(
                    "solo", run: "window", tenants: [windowed], timing: Timing.wallWindow,
                    time: "2026-11-26T07:00:00Z")
                + MadeResults.run("pair", run: "p", tenants: [tenant, tenant], timing: Timing.wallWindow)
                + MadeResults.run("other", run: "o", tenants: [lone], timing: Timing.deviceEvents))
        let compared = try Comparison.compare(results, baseline: "solo")
        #expect(compared.mixed.isEmpty)
        #expect(Set(compared.baselines.map(\.timing)) == [Timing.wallWindow, Timing.deviceEvents])
        let aggregate = try #require(compared.rows.first { $0.tenant == "(aggregate)" })
        let windowedMedian = Statistics.median(windowed.flatMap { $0 })
        #expect(aggregate.timing == Timing.wallWindow && aggregate.baselineTiming == Timing.wallWindow)
        #expect(aggregate.baselineValue == windowedMedian)
        let sum = 2 * Statistics.median(tenant.flatMap { $0 })
        #expect(abs(aggregate.value - sum) < 1e-9 && abs(aggregate.ratio - sum / windowedMedian) < 1e-12)
        // The lone device-timed topology is compared with the device-timed baseline run, though it is older.
        let other = try #require(compared.rows.first { $0.topology == "other" })
        #expect(
            other.baselineTiming == Timing.deviceEvents && other.baselineValue == Statistics.median(lone.flatMap { $0 })
        )
        #expect(compared.baselines.first { $0.timing == Timing.deviceEvents }?.runs == ["events"])
        #expect(compared.baselines.allSatisfy { $0.description.contains("timed by \($0.timing)") })
    }

    @Test("without a baseline timed the same way, the rows say they mix methods")
    func mixed() throws {
        let results = try MadeResults.results(
            MadeResults.run("solo", run: "events", tenants: [lone], timing: Timing.deviceEvents)
                + MadeResults.run("pair", run: "p", tenants: [tenant, tenant], timing: Timing.wallWindow)
                + MadeResults.run("old", run: "u", tenants: [lone], timing: Timing.unknown))
        let compared = try Comparison.compare(results, baseline: "solo")
        #expect(compared.rows.count == 4 && compared.mixed.count == 4)
        #expect(compared.rows.allSatisfy { !$0.sameTiming && $0.baselineTiming == Timing.deviceEvents })
        // A named baseline run is used for every method; rows timed otherwise say so.
        let named = try Comparison.compare(results, baseline: "solo", runs: .run("events"))
        #expect(named.mixed.count == 4)
    }

    @Test("an aggregate's interval comes from both samples: a noisier baseline or noisier tenants widen it")
    func bothSamples() {
        let tight = LaunchGroups(MadeResults.launches(100, noise: 0.2))
        let loose = LaunchGroups(MadeResults.launches(100, noise: 8))
        let quiet = TenantGroups([MadeResults.launches(40, noise: 0.1), MadeResults.launches(41, noise: 0.1)])
        let loud = TenantGroups([MadeResults.launches(40, noise: 4), MadeResults.launches(41, noise: 4)])
        #expect(tight.median == loose.median && quiet.point == loud.point)
        func width(_ i: Interval) -> Double { i.high - i.low }
        let calm = Bootstrap.ratio(.aggregate(quiet), to: tight)
        let noisyBaseline = Bootstrap.ratio(.aggregate(quiet), to: loose)
        let noisyTenants = Bootstrap.ratio(.aggregate(loud), to: tight)
        #expect(calm.ratio == noisyBaseline.ratio && calm.ratio == noisyTenants.ratio)
        #expect(width(noisyBaseline) > 5 * width(calm), "\(calm) \(noisyBaseline)")
        #expect(width(noisyTenants) > 5 * width(calm), "\(calm) \(noisyTenants)")
        // Not the baseline's interval rescaled: the tenants' own spread is in it.
        let (low, high) = Bootstrap.medianCI(tight)
        #expect(width(noisyTenants) > 5 * (high - low) / tight.median * calm.ratio)
    }
}
