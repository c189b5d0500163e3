import ForbcCore
@_exported import ForbcStats
import Foundation

/// Runs a manifest's benchmark suites: each workload on each target partition (or the host, or inside a domain),
/// co-tenants released together once all are ready, several process launches with repetitions inside each, more
/// launches while the coefficient of variation stays above a threshold (up to a cap); every value kept, outliers
/// flagged.
public struct BenchRunner: Sendable {
    public struct Options: Sendable {
        /// At least this many launches: the hierarchical interval needs about 10 to cover 95% (pyperf runs 20).
        public var launches = 10
        public var maxLaunches = 20
        public var warmups = 1
        /// Warm-ups added (one at a time, up to this many) when a launch's first repetition differs.
        public var maxExtraWarmups = 3
        public var cvThreshold = 0.05
        /// Seconds between starting the processes and the `{start_at}` instant they wait for (profiles without
        /// `{sync}`; those with it are released when all are ready).
        public var barrierDelay = 1.0
        /// With co-tenants, each repetition measures this many seconds of wall-clock time after the release, so the
        /// tenants' windows coincide and their rates add up to the aggregate (short device-timed windows do not).
        public var window = 1.0
        /// Measure a lone tenant in a wall-clock window too (to compare with co-tenants by the same method).
        public var windowAlways = false
        /// Seconds forbc keeps trying to write a co-tenants' `go` that could not be written (a guest agent busy
        /// with the tenants' own commands refuses some for a while), before it gives up and stops them.
        public var goDeadline = 30.0
        /// Seconds between the progress lines of a release that waits (who is ready, who is not).
        public var releaseProgressEvery = 60.0
        public init() {}
    }

    public var profiles: [String: (WorkloadProfile, String)]
    public var options: Options
    /// How workloads reach a domain's inside (libvirt's QEMU guest agent); nil: VM targets are recorded as failed.
    public var agent: (any GuestAgentChannel)?
    /// How workload processes start on the host (`RealProcesses`; `ScriptedProcesses` in tests).
    public var processes: any ProcessChannel
    /// Seconds the workload processes ran (the slowest tenant of each launch), for the harness's overhead.
    public let processSeconds = Locked(0.0)
    /// Each domain's copy of a workload folder, by run, domain and folder (`staged`).
    let staging = Locked([String: Staged]())
    /// The domains whose agent stopped answering in a launch, by run and domain (`silentDomains`).
    let unanswered = Locked(Set<String>())

    public init(
        profiles: [String: (WorkloadProfile, String)], options: Options = Options(),
        agent: (any GuestAgentChannel)? = nil, processes: any ProcessChannel = RealProcesses()
    ) {
        self.profiles = profiles
        self.options = options
        self.agent = agent
        self.processes = processes
    }

    /// One workload of one suite in one run: what its launches share.
    struct Job: Sendable {
        var profile: WorkloadProfile
        /// The profile's folder on the host.
        var directory: String
        var suite: BenchmarkSpec
        var tenants: [Tenant]
        var runID: String
        /// The run's log folder.
        var logs: URL
    }

    /// One target of a suite: where a copy of the workload runs and how it reaches its partition.
    struct Tenant: Sendable {
        var name: String
        var partition: DesiredPartition?
        var environment: [String: String]
        /// The running domain it runs in (a `vms:` target, or a partition attached to it).
        var domain: Domain?
        /// Why it cannot run at all (a partition only a VM can use, attached to no running domain).
        var unreachable: String?
    }

    /// Runs every suite; `progress` gets a line per launch (for stderr).
    public func run(
        manifest: Manifest, plan: Plan, inventory: Inventory, topology: String?, logs: URL,
        progress: @Sendable (String) -> Void = { _ in }
    ) throws -> [BenchResult] {
        let runID = UUID().uuidString.lowercased()
        var results: [BenchResult] = []
        for suite in manifest.benchmarks {
            for workload in suite.workloads where profiles[workload] == nil {
                throw ForbcError(
                    .invalidInput,
                    "suite '\(suite.suite)' names workload '\(workload)', which has no profile; known: "
                        + "\(profiles.keys.sorted().joined(separator: ", "))"
                )
            }
            let tenants = Self.tenants(of: suite, plan: plan, inventory: inventory)
            for workload in suite.workloads {
                let (profile, directory) = profiles[workload]!
                let job = Job(
                    profile: profile, directory: directory, suite: suite, tenants: tenants, runID: runID,
                    logs: logs.appendingPathComponent(runID))
                results += measure(
                    job, manifest: manifest, inventory: inventory,
                    topology: topology ?? "\(manifest.name)/\(suite.suite)", progress: progress)
            }
        }
        unstage(runID, progress: progress)
        return results
    }

    /// One workload on every tenant: launches until the spread settles (or the cap), then one result per tenant
    /// and metric.
    func measure(
        _ job: Job, manifest: Manifest, inventory: Inventory, topology: String, progress: @Sendable (String) -> Void
    ) -> [BenchResult] {
        let (profile, tenants) = (job.profile, job.tenants)
        var gathered = Gathered(tenants: tenants.count)
        var launch = 0
        var warmups = options.warmups
        while launch < options.maxLaunches {
            let launched = launchTenants(job, launch: launch, warmups: warmups) { [launch] in
                progress("\(topology): \(profile.name) launch \(launch + 1): \($0)")
            }
            noteSilentDomains(job)
            let outcomes = launched.outcomes
            // Each failure as it happens, with how long the tenant took: where a slow run's time went.
            for (tenant, outcome) in zip(tenants, outcomes) {
                guard let outcome, let failure = outcome.failure else { continue }
                let seconds = String(format: "%.1f s", outcome.seconds)
                let place = "\(topology): \(profile.name) launch \(launch + 1): '\(tenant.name)'"
                progress("\(place) failed after \(seconds): \(failure)")
            }
            processSeconds.update { $0 += outcomes.compactMap { $0?.seconds }.max() ?? 0 }
            gathered.add(outcomes, launch: launch, record: launched.record)
            launch += 1
            let someFailed = gathered.failures.contains { $0 != nil } ? ", some failed" : ""
            let release = launched.release.map { "; \($0.summary)" } ?? ""
            progress(
                "\(topology): \(profile.name) launch \(launch), \(tenants.count) tenant(s)\(someFailed)\(release)")
            // A first repetition far from the rest of its launch: warm up longer from the next launch on.
            if warmups < options.warmups + options.maxExtraWarmups, let note = Self.warmupEffect(outcomes) {
                warmups += 1
                progress("\(topology): \(profile.name) launch \(launch): \(note); warm-ups raised to \(warmups)")
            }
            // More launches only while some tenant's spread is still above the threshold.
            if launch >= options.launches {
                if !gathered.noisy(above: options.cvThreshold) || gathered.failures.allSatisfy({ $0 != nil }) { break }
            }
        }
        return results(
            profile, tenants: tenants, gathered: gathered, suite: job.suite, manifest: manifest,
            inventory: inventory, topology: topology, runID: job.runID)
    }

    /// The first repetition of some tenant's metric in this launch, if it is the launch's extreme by 4 robust σ
    /// of the rest and 1% (hyperfine's first-run check, strict because one launch is judged alone).
    static func warmupEffect(_ outcomes: [WorkloadRunner.Outcome?]) -> String? {
        for outcome in outcomes.compactMap({ $0 }) where outcome.failure == nil {
            for (metric, list) in outcome.values.sorted(by: { $0.key < $1.key }) {
                if let edge = Stability.edgeEffect([list], at: .first, minimumZ: 4, minimumLaunches: 1) {
                    return String(
                        format: "the first '%@' repetition is %.1f%% %@ the rest", metric, abs(edge.relative) * 100,
                        edge.relative > 0 ? "above" : "below")
                }
            }
        }
        return nil
    }

    /// What the launches of one workload gathered, per tenant (in tenant order).
    struct Gathered {
        /// Each launch's values, in order.
        var launches: [[String: [[Double]]]]
        var values: [[String: [Double]]]
        /// The first failure of each tenant, with the launch it happened in.
        var failures: [String?]
        var logPaths: [[String]]

        init(tenants: Int) {
            values = Array(repeating: [:], count: tenants)
            launches = Array(repeating: [:], count: tenants)
            failures = Array(repeating: nil, count: tenants)
            logPaths = Array(repeating: [], count: tenants)
        }

        /// Adds one launch's outcomes: every log (and the launch's release record), and the values or (the
        /// first) failure of each tenant.
        mutating func add(_ outcomes: [WorkloadRunner.Outcome?], launch: Int, record: String? = nil) {
            for (i, outcome) in outcomes.enumerated() {
                guard let outcome else { continue }
                logPaths[i].append(outcome.log)
                if let record { logPaths[i].append(record) }
                if let failure = outcome.failure {
                    failures[i] = failures[i] ?? "launch \(launch): \(failure)"
                } else {
                    for (metric, list) in outcome.values {
                        values[i][metric, default: []] += list
                        launches[i][metric, default: []].append(list)
                    }
                }
            }
        }

        /// Whether some tenant's values of some metric still vary by more than `threshold` (coefficient of variation).
        func noisy(above threshold: Double) -> Bool {
            values.contains { $0.values.contains { $0.count > 1 && Statistics.cv($0) > threshold } }
        }
    }

    /// A result per tenant and metric (failed where a tenant has no values of it) and, with co-tenants who all
    /// measured a metric, an aggregate of their medians with Jain's fairness; summaries from `Summaries`.
    func results(
        _ profile: WorkloadProfile, tenants: [Tenant], gathered: Gathered, suite: BenchmarkSpec,
        manifest: Manifest, inventory: Inventory, topology: String, runID: String
    ) -> [BenchResult] {
        var results: [BenchResult] = []
        let cotenants = tenants.map(\.name).joined(separator: ",")
        for metric in profile.metrics {
            var measured = 0
            for (i, tenant) in tenants.enumerated() {
                let launches = gathered.launches[i][metric.name] ?? []
                var result = base(
                    profile, metric, tenant: tenant.name, tenants: tenants.count, cotenants: cotenants,
                    suite: suite, manifest: manifest, inventory: inventory, partition: tenant.partition,
                    topology: topology, runID: runID)
                result.logs = Self.json(gathered.logPaths[i])
                result.domain = tenant.domain?.name
                result.domainVCPUs = tenant.domain?.vcpus
                result.domainMemoryMiB = tenant.domain?.memoryKiB.map { $0 / 1024 }
                result.values = Self.json(launches.flatMap { $0 })
                result.launchSizes = Self.json(launches.map(\.count))
                result.failure = gathered.failures[i]
                if launches.flatMap({ $0 }).isEmpty {
                    result.status = "failed"
                    result.failure = gathered.failures[i] ?? "no '\(metric.name)' measurements"
                } else {
                    measured += 1
                }
                results.append(result)
            }
            if tenants.count > 1 && measured == tenants.count {
                results.append(
                    base(
                        profile, metric, tenant: Summaries.aggregateTenant, tenants: tenants.count,
                        cotenants: cotenants, suite: suite, manifest: manifest, inventory: inventory,
                        partition: nil, topology: topology, runID: runID))
            }
        }
        var policy = Stability.Policy()
        policy.cvThreshold = options.cvThreshold
        policy.launchCap = options.maxLaunches
        Summaries.recompute(&results, policy: policy)
        return results
    }

    func base(
        _ profile: WorkloadProfile, _ metric: WorkloadProfile.Metric, tenant: String, tenants: Int, cotenants: String,
        suite: BenchmarkSpec, manifest: Manifest, inventory: Inventory, partition: DesiredPartition?, topology: String,
        runID: String
    ) -> BenchResult {
        let gpu = partition.flatMap { p in inventory.gpus.first { $0.address == p.gpu } }
        var result = BenchResult(
            id: nil, runID: runID, time: Date(), topology: topology, suite: suite.suite, workload: profile.name,
            workloadVersion: profile.version, metric: metric.name, unit: metric.unit, better: metric.better,
            tenant: tenant,
            tenants: tenants, cotenants: cotenants, host: ProcessInfo.processInfo.hostName, gpuModel: gpu?.model,
            gpuUUID: gpu?.mig?.uuid, driver: gpu?.driver, partitionKind: partition?.kind.rawValue,
            partitionProfile: partition?.typeName ?? partition?.type, manifestHash: manifest.contentHash,
            forbcVersion: ForbcBench.version, status: "ok", failure: nil, values: "[]", outliers: "[]", logs: "[]",
            median: nil, mad: nil, cv: nil, ciLow: nil, ciHigh: nil, fairness: nil, source: "forbc")
        // The window `launchTenants` gives: co-tenants (or `--window-always`, or a suite's `timing: wall-window`)
        // are timed by a wall-clock window.
        let window = tenants > 1 || options.windowAlways || suite.wallWindow ? options.window : 0
        result.timing =
            window > 0 ? Timing.wallWindow : profile.timing ?? Timing.method(bound: profile.bound, window: 0)
        return result
    }

    static func json<T: Encodable>(_ value: T) -> String {
        (try? JSONEncoder().encode(value)).map { String(decoding: $0, as: UTF8.self) } ?? "[]"
    }
}

public enum ForbcBench {
    public static let version = "0.1.0"
}
