import ForbcCore
import Foundation

/// Runs a manifest's benchmark suites: each workload on each target partition (or the host), co-tenants started
/// behind one barrier, several process launches with repetitions inside each, more launches while the
/// coefficient of variation stays above a threshold (up to a cap); every value kept, outliers flagged.
public struct BenchRunner: Sendable {
    public struct Options: Sendable {
        public var launches = 3
        public var maxLaunches = 8
        public var warmups = 1
        public var cvThreshold = 0.05
        /// Seconds between starting the processes and the barrier they wait for.
        public var barrierDelay = 1.0
        /// With co-tenants, each repetition measures this many seconds of wall-clock time after the barrier, so the
        /// tenants' windows coincide and their rates add up to the aggregate (short device-timed windows do not).
        public var window = 1.0
        /// Measure a lone tenant in a wall-clock window too (to compare with co-tenants by the same method).
        public var windowAlways = false
        public init() {}
    }

    public var profiles: [String: (WorkloadProfile, String)]
    public var options: Options
    /// Seconds the workload processes ran (the slowest tenant of each launch), for the harness's overhead.
    public let processSeconds = Locked(0.0)

    public init(profiles: [String: (WorkloadProfile, String)], options: Options = Options()) {
        self.profiles = profiles
        self.options = options
    }

    /// One target of a suite: where a copy of the workload runs and how it reaches its partition.
    struct Tenant {
        var name: String
        var partition: DesiredPartition?
        var environment: [String: String]
        var vmOnly: Bool
    }

    /// Runs every suite; `progress` gets a line per launch (for stderr).
    public func run(manifest: Manifest, plan: Plan, inventory: Inventory, topology: String?, logs: URL,
                    progress: @Sendable (String) -> Void = { _ in }) throws -> [BenchResult] {
        let runID = UUID().uuidString.lowercased()
        var results: [BenchResult] = []
        for suite in manifest.benchmarks {
            for workload in suite.workloads where profiles[workload] == nil {
                throw ForbcError(.invalidInput, "suite '\(suite.suite)' names workload '\(workload)', which has no profile; known: \(profiles.keys.sorted().joined(separator: ", "))")
            }
            var tenants: [Tenant] = []
            let targets = suite.on.isEmpty ? ["host"] : suite.on
            for target in targets {
                let partition = plan.partitions.first { $0.name == target }
                var environment: [String: String] = [:]
                if let access = partition?.access, let eq = access.firstIndex(of: "=") {
                    environment[String(access[..<eq])] = String(access[access.index(after: eq)...])
                }
                let vmOnly = partition.map { [.mdev, .vgpuVF, .sriovVF].contains($0.kind) } ?? false
                for copy in 0..<suite.tenants {
                    tenants.append(Tenant(name: suite.tenants > 1 ? "\(target)#\(copy)" : target, partition: partition, environment: environment, vmOnly: vmOnly))
                }
            }
            for workload in suite.workloads {
                let (profile, directory) = profiles[workload]!
                results += measure(profile, directory: directory, tenants: tenants, suite: suite, manifest: manifest, inventory: inventory,
                                   topology: topology ?? "\(manifest.name)/\(suite.suite)", runID: runID,
                                   logs: logs.appendingPathComponent(runID), progress: progress)
            }
        }
        return results
    }

    func measure(_ profile: WorkloadProfile, directory: String, tenants: [Tenant], suite: BenchmarkSpec, manifest: Manifest,
                 inventory: Inventory, topology: String, runID: String, logs: URL, progress: @Sendable (String) -> Void) -> [BenchResult] {
        var values = [[String: [Double]]](repeating: [:], count: tenants.count)
        var failures = [String?](repeating: nil, count: tenants.count)
        var logPaths = [[String]](repeating: [], count: tenants.count)
        var launch = 0
        while launch < options.maxLaunches {
            // A lone tenant waits for nobody: no barrier, so the harness adds no idle time.
            let startAt = tenants.count > 1 ? Date().timeIntervalSince1970 + options.barrierDelay : 0
            let outcomes = Locked([WorkloadRunner.Outcome?](repeating: nil, count: tenants.count))
            let current = launch
            DispatchQueue.concurrentPerform(iterations: tenants.count) { i in
                let tenant = tenants[i]
                let log = logs.appendingPathComponent("\(suite.suite)-\(profile.name)-\(tenant.name.replacingOccurrences(of: "#", with: "_"))-\(current).log")
                let outcome: WorkloadRunner.Outcome
                if tenant.vmOnly {
                    outcome = WorkloadRunner.Outcome(values: [:], failure: "'\(tenant.name)' is reached from inside a VM (qemu guest agent or ssh), which forbc's runner does not do yet", log: log.path, seconds: 0)
                } else {
                    outcome = WorkloadRunner().run(profile, directory: directory, environment: tenant.environment, repetitions: suite.repetitions,
                                                   warmups: options.warmups, startAt: startAt, window: tenants.count > 1 || options.windowAlways ? options.window : 0, log: log)
                }
                outcomes.update { $0[i] = outcome }
            }
            processSeconds.update { $0 += outcomes.value.compactMap { $0?.seconds }.max() ?? 0 }
            for (i, outcome) in outcomes.value.enumerated() {
                guard let outcome else { continue }
                logPaths[i].append(outcome.log)
                if let failure = outcome.failure {
                    failures[i] = failures[i] ?? "launch \(launch): \(failure)"
                } else {
                    for (metric, list) in outcome.values { values[i][metric, default: []] += list }
                }
            }
            launch += 1
            progress("\(topology): \(profile.name) launch \(launch), \(tenants.count) tenant(s)\(failures.contains { $0 != nil } ? ", some failed" : "")")
            // More launches only while some tenant's spread is still above the threshold.
            if launch >= options.launches {
                let noisy = values.contains { $0.values.contains { $0.count > 1 && Statistics.cv($0) > options.cvThreshold } }
                if !noisy || failures.allSatisfy({ $0 != nil }) { break }
            }
        }
        var results: [BenchResult] = []
        let cotenants = tenants.map(\.name).joined(separator: ",")
        for metric in profile.metrics {
            var medians: [Double] = []
            for (i, tenant) in tenants.enumerated() {
                let list = values[i][metric.name] ?? []
                var result = base(profile, metric, tenant: tenant.name, tenants: tenants.count, cotenants: cotenants, suite: suite,
                                  manifest: manifest, inventory: inventory, partition: tenant.partition, topology: topology, runID: runID)
                result.logs = Self.json(logPaths[i])
                result.values = Self.json(list)
                if list.isEmpty {
                    result.status = "failed"
                    result.failure = failures[i] ?? "no '\(metric.name)' measurements"
                } else {
                    let summary = Statistics.summarize(list)
                    medians.append(summary.median)
                    result.median = summary.median
                    result.mad = summary.mad
                    result.cv = summary.cv
                    result.ciLow = summary.ciLow
                    result.ciHigh = summary.ciHigh
                    result.outliers = Self.json(summary.outliers)
                    result.failure = failures[i]
                }
                results.append(result)
            }
            if tenants.count > 1 && medians.count == tenants.count {
                var aggregate = base(profile, metric, tenant: "(aggregate)", tenants: tenants.count, cotenants: cotenants, suite: suite,
                                     manifest: manifest, inventory: inventory, partition: nil, topology: topology, runID: runID)
                aggregate.median = medians.reduce(0, +)
                aggregate.values = Self.json(medians)
                aggregate.fairness = Statistics.jainFairness(medians)
                results.append(aggregate)
            }
        }
        return results
    }

    func base(_ profile: WorkloadProfile, _ metric: WorkloadProfile.Metric, tenant: String, tenants: Int, cotenants: String,
              suite: BenchmarkSpec, manifest: Manifest, inventory: Inventory, partition: DesiredPartition?, topology: String,
              runID: String) -> BenchResult {
        let gpu = partition.flatMap { p in inventory.gpus.first { $0.address == p.gpu } }
        return BenchResult(
            id: nil, runID: runID, time: Date(), topology: topology, suite: suite.suite, workload: profile.name,
            workloadVersion: profile.version, metric: metric.name, unit: metric.unit, better: metric.better, tenant: tenant,
            tenants: tenants, cotenants: cotenants, host: ProcessInfo.processInfo.hostName, gpuModel: gpu?.model,
            gpuUUID: gpu?.mig?.uuid, driver: gpu?.driver, partitionKind: partition?.kind.rawValue,
            partitionProfile: partition?.typeName ?? partition?.type, manifestHash: manifest.sha256Prefix, forbcVersion: ForbcBench.version,
            status: "ok", failure: nil, values: "[]", outliers: "[]", logs: "[]", median: nil, mad: nil, cv: nil, ciLow: nil,
            ciHigh: nil, fairness: nil, source: "forbc")
    }

    static func json<T: Encodable>(_ value: T) -> String {
        (try? JSONEncoder().encode(value)).map { String(decoding: $0, as: UTF8.self) } ?? "[]"
    }
}

public enum ForbcBench {
    public static let version = "0.1.0"
}

/// A value behind a lock, for results written from concurrent tenants.
public final class Locked<T>: @unchecked Sendable {
    private var stored: T
    private let lock = NSLock()
    public init(_ value: T) { stored = value }
    public var value: T { lock.withLock { stored } }
    public func update(_ body: (inout T) -> Void) { lock.withLock { body(&stored) } }
}
