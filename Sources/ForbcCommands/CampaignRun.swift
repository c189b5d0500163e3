import ArgumentParser
import ForbcBench
import ForbcCore
import Foundation

/// One campaign on one host: validated before anything changes, the snapshot and the progress in its folder
/// (STATE/campaign-NAME), each topology applied, checked and measured, the host restored.
final class CampaignRun {
    /// What `progress.json` records: the campaign it belongs to and the topologies measured, with their runs.
    struct Progress: Codable {
        struct Finished: Codable {
            var topology: String
            var runID: String
            var results: Int
            var failed: Int
        }
        var campaign: String
        var file: String
        var contentHash: String
        /// The simulated profile, when the host was simulated.
        var simulated: String?
        var started: Date
        var finished: [Finished] = []
        var complete = false
    }

    enum Outcome {
        case completed(failures: Int)
        case interrupted(String)
        case failed(Error)
    }

    let campaign: Campaign
    let host: HostSession
    let folder: String
    let directory: URL
    let resume: Bool
    let resetGPU: Bool
    var progress: Progress
    let console = Console.current

    var snapshotPath: String { directory.appendingPathComponent("snapshot.yaml").path }
    var progressURL: URL { directory.appendingPathComponent("progress.json") }

    /// Reads the progress of an earlier run of this campaign: `resume` needs one for this very campaign; a fresh
    /// start refuses to overwrite an interrupted one.
    init(
        campaign: Campaign, host: HostSession, folder: String, directory: URL, resume: Bool, resetGPU: Bool = false
    ) throws {
        self.campaign = campaign
        self.host = host
        self.folder = folder
        self.directory = directory
        self.resume = resume
        self.resetGPU = resetGPU
        let url = directory.appendingPathComponent("progress.json")
        let earlier = FileManager.default.fileExists(atPath: url.path) ? try Self.read(url) : nil
        let fresh = Progress(
            campaign: campaign.name, file: campaign.file, contentHash: campaign.contentHash,
            simulated: host.simulation?.profile, started: Date())
        if resume {
            guard let earlier, !earlier.complete else {
                throw ForbcError(
                    .invalidInput,
                    "'--resume': campaign '\(campaign.name)' has no interrupted run in \(directory.path)"
                        + (earlier == nil ? "" : " (the last one completed)") + "; run it without '--resume'")
            }
            guard earlier.contentHash == campaign.contentHash else {
                throw ForbcError(
                    .invalidInput,
                    "'--resume': \(campaign.file) changed since the interrupted run (\(earlier.file)); remove "
                        + "\(directory.path) to start over (the host was restored to its snapshot)")
            }
            progress = earlier
        } else {
            if let earlier, !earlier.complete {
                throw ForbcError(
                    .invalidInput,
                    "campaign '\(campaign.name)' was interrupted after \(earlier.finished.count) of "
                        + "\(campaign.topologies.count) topologies (\(url.path)); continue it with '--resume', or "
                        + "remove \(directory.path) to start over")
            }
            progress = fresh
        }
    }

    static func read(_ url: URL) throws -> Progress {
        guard let data = try StateDirFile.read(url, what: "a campaign's progress") else {
            throw ForbcError(.invalidInput, "the campaign's progress \(url.path) is missing", path: url.path)
        }
        do {
            let decoder = JSONDecoder()
            decoder.dateDecodingStrategy = .iso8601
            return try decoder.decode(Progress.self, from: data)
        } catch {
            throw ForbcError(.invalidInput, "cannot read the campaign's progress \(url.path): \(error)")
        }
    }

    func saveProgress() throws {
        let encoder = JSONEncoder()
        encoder.dateEncodingStrategy = .iso8601
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        // AtomicFile: a failure names the file and the kernel's errno, not Foundation's sentence.
        try AtomicFile.write(try encoder.encode(progress), to: progressURL)
    }

    // MARK: Before anything changes

    /// Every topology planned on this host (an impossible one is an error naming it), and every suite's
    /// partitions found in the plan of each topology it runs on; all problems at once, nothing changed.
    func validate() throws -> [Plan] {
        var problems: [Diagnostic] = []
        var plans: [Plan] = []
        for topology in campaign.topologies {
            let manifest = campaign.measured(topology)
            let place = "topology '\(topology.name)' (\(topology.file ?? "inline in \(campaign.file)"))"
            do {
                let plan = try host.plan(manifest)
                plans.append(plan)
                let names = Set(plan.partitions.map(\.name))
                for suite in manifest.benchmarks {
                    for (name, location) in zip(suite.on, suite.onLocations) where !names.contains(name) {
                        problems.append(
                            Diagnostic(
                                "suite '\(suite.suite)' runs on '\(name)', which \(place) does not have on this "
                                    + "host", at: location))
                    }
                }
            } catch let error as DiagnosticsError {
                problems.append(Diagnostic("\(place) cannot be planned on this host:", at: topology.location))
                problems += error.diagnostics
            } catch let error as ForbcError {
                problems.append(
                    Diagnostic(
                        "\(place) cannot be applied on this host: \(error.message)", at: topology.location))
            }
        }
        if !problems.isEmpty { throw DiagnosticsError(problems) }
        return plans
    }

    /// The snapshot (an export of the host now) and a fresh progress file; a resumed campaign keeps both.
    func start() throws {
        if resume {
            guard FileManager.default.fileExists(atPath: snapshotPath) else {
                throw ForbcError(.invalidInput, "'--resume': the campaign's snapshot \(snapshotPath) is missing")
            }
            let done = progress.finished.map { "'\($0.topology)'" }.joined(separator: ", ")
            console.err("campaign: resuming '\(campaign.name)'; measured already: \(done.isEmpty ? "none" : done)")
            return
        }
        do { try Directories.make(directory.deletingLastPathComponent().path) } catch let failure as Directories.Failure
        {
            throw ForbcError(
                .system, "creating \(failure.path) failed: \(failure.reason)", path: failure.path, errno: failure.errno)
        }
        // In the state dir: a link in its place is refused, not followed.
        try StateDirFile.makeFolder(directory.path)
        let named = try host.recordedAddresses()
        var inventory = try host.discover(named: named)
        if let withDomains = try? host.discover(domains: true, named: named) { inventory = withDomains }
        let snapshot = try Exporter(inventory: inventory, state: try host.store.load()).snapshot()
        try AtomicFile.write(Data(snapshot.utf8), to: URL(fileURLWithPath: snapshotPath))
        try saveProgress()
        console.err("campaign: the host as it is now is saved in \(snapshotPath); it is restored at the end")
    }

    // MARK: Each topology

    /// Applies, checks and measures each topology not measured yet; stops at the first failure or signal (the
    /// results of a topology interrupted mid-way are not stored: `--resume` measures it again).
    func measure(options: BenchRunner.Options, store: ResultStore, interrupter: Interrupter) -> Outcome {
        let clock = Clock(campaign: campaign, skipping: Set(progress.finished.map(\.topology)))
        for (i, topology) in campaign.topologies.enumerated() {
            let tag = "[\(i + 1)/\(campaign.topologies.count) \(topology.name)]"
            if progress.finished.contains(where: { $0.topology == topology.name }) {
                console.err("campaign: \(tag) measured already; skipped")
                continue
            }
            if let signal = interrupter.received { return .interrupted(signal) }
            do {
                console.err("campaign: \(tag) applying \(topology.file ?? "the inline manifest")")
                let plan = try converge(topology)
                if let signal = interrupter.received { return .interrupted(signal) }
                console.err("campaign: \(tag) converged (drift 0); measuring")
                var results = try bench(topology, plan: plan, options: options, processes: interrupter.processes) {
                    clock.line(tag, $0)
                }
                if let signal = interrupter.received { return .interrupted(signal) }
                try record(&results, topology: topology, store: store)
                clock.finished(topology)
            } catch {
                return .failed(error)
            }
        }
        // Complete once the restore succeeds (`restored()`): until then the snapshot is the only record of the host
        // as it was, and a fresh run must not replace it ('--resume' restores again).
        return .completed(failures: progress.finished.map(\.failed).reduce(0, +))
    }

    /// Applies a topology and checks by drift that the host now matches it; the converged plan.
    func converge(_ topology: Campaign.Topology) throws -> Plan {
        let manifest = campaign.measured(topology)
        try host.locked {
            let plan = try host.plan(manifest)
            guard !plan.isEmpty else { return }
            let report = try host.apply(plan, resetGPU: resetGPU)
            for note in report.notes { console.err("note: \(note)") }
            console.out(Render.reportText(report, total: plan.actions.count))
            if let failed = report.failed {
                throw ForbcError(.system, "topology '\(topology.name)': \(failed.error.message)")
            }
        }
        let check = try host.plan(manifest)
        let drift = DriftReport(plan: check, manifest: manifest)
        guard drift.inSync else {
            throw ForbcError(
                .system,
                "topology '\(topology.name)' did not converge: drift in \(drift.items.count) partition(s): "
                    + drift.items.map { "\($0.kind) '\($0.partition)': \($0.detail)" }.joined(separator: "; "))
        }
        return check
    }

    /// The topology's suites through the benchmark runner `bench run` uses, tagged with the topology's name.
    func bench(
        _ topology: Campaign.Topology, plan: Plan, options: BenchRunner.Options, processes: CancellableProcesses,
        progress: @escaping @Sendable (String) -> Void
    ) throws -> [BenchResult] {
        let manifest = campaign.measured(topology)
        let inDomains = manifest.benchmarks.contains { !$0.vms.isEmpty } || !manifest.vms.isEmpty
        let agent = inDomains ? try host.hypervisor() as? any GuestAgentChannel : nil
        let runner = BenchRunner(
            profiles: try WorkloadProfile.loadAll(in: folder), options: options, agent: agent, processes: processes)
        let inventory = try host.lastInventory ?? host.discover()
        return try processes.measuring {
            try runner.run(
                manifest: manifest, plan: plan, inventory: inventory, topology: topology.name,
                logs: try host.store.folder("bench-logs"), progress: progress)
        }
    }

    /// Stores a topology's results (a simulated host says so in each result's `host`) and records it as done.
    func record(_ results: inout [BenchResult], topology: Campaign.Topology, store: ResultStore) throws {
        if let profile = host.simulation?.profile {
            for i in results.indices { results[i].host += " (simulated \(profile))" }
        }
        try store.insert(results)
        console.out(BenchTable.results(results))
        for line in BenchTable.warnings(results) { console.err("warning: \(line)") }
        let failed = results.filter { $0.status != "ok" }
        for result in failed {
            console.err(
                "error: \(result.topology) \(result.workload) on '\(result.tenant)' failed: "
                    + "\(result.failure ?? "?"); logs: \(result.logs)")
        }
        progress.finished.append(
            Progress.Finished(
                topology: topology.name, runID: results.first?.runID ?? "", results: results.count,
                failed: failed.count))
        try saveProgress()
    }

    // MARK: At the end

    /// Marks the campaign complete after its restore succeeded.
    func restored() throws {
        progress.complete = true
        try saveProgress()
    }

    /// Applies the snapshot and checks by drift that the host equals it; the error when it does not.
    func restore() -> Error? {
        do {
            let snapshot = try ManifestParser.parse(contentsOf: snapshotPath)
            console.err("campaign: restoring the host to \(snapshotPath)")
            try host.locked {
                let plan = try host.plan(snapshot)
                guard !plan.isEmpty else { return }
                let report = try host.apply(plan, force: true, resetGPU: resetGPU)
                console.out(Render.reportText(report, total: plan.actions.count))
                if let failed = report.failed { throw failed.error }
            }
            let drift = DriftReport(plan: try host.plan(snapshot), manifest: snapshot)
            guard drift.inSync else {
                throw ForbcError(
                    .system,
                    "after the restore the host still differs from the snapshot in \(drift.items.count) partition(s)")
            }
            console.err("campaign: host restored; drift against the snapshot: 0")
            return nil
        } catch {
            return error
        }
    }

    /// One comparison with the baseline and one HTML report over this campaign's runs.
    func summarize(store: ResultStore, report: String?, baseline: String) throws {
        let runs = Set(progress.finished.map(\.runID))
        let results = try store.all().filter { runs.contains($0.runID) }
        guard results.contains(where: { $0.status == "ok" }) else {
            throw ForbcError(.system, "the campaign has no successful result to compare")
        }
        console.out(BenchTable.comparison(try Comparison.compare(results, baseline: baseline)))
        var title = "forbc campaign '\(campaign.name)': \(campaign.topologies.count) topologies"
        if let profile = progress.simulated {
            title +=
                " on a SIMULATED host ('\(profile)'): its partitions are simulated, so the figures describe the "
                + "machine the workloads ran on, not the simulated GPUs"
        }
        let html = try Report.html(results, baseline: baseline, title: title)
        let path = report ?? directory.appendingPathComponent("report.html").path
        try AtomicFile.writeOutput(Data(html.utf8), to: URL(fileURLWithPath: path))
        console.out("Wrote \(path) (\(results.count) results of \(runs.count) topologies).")
    }
}

/// Elapsed and estimated remaining time: workloads (per topology and suite) still to measure, at the pace of
/// those measured so far in this run.
final class Clock: @unchecked Sendable {
    let lock = NSLock()
    let started = Date()
    /// Workload runs (suite × workload) per topology name, and how many are left in all.
    var jobs: [String: Int]
    var left: Int
    var done = 0
    var current: String?

    init(campaign: Campaign, skipping: Set<String>) {
        jobs = Dictionary(
            campaign.topologies.map { t in (t.name, campaign.suites(of: t).map(\.workloads.count).reduce(0, +)) },
            uniquingKeysWith: { a, _ in a })
        left = jobs.filter { !skipping.contains($0.key) }.values.reduce(0, +)
    }

    /// A runner line ("TOPOLOGY: WORKLOAD launch N, …") with the topology's place, elapsed and remaining time.
    func line(_ tag: String, _ text: String) {
        lock.lock()
        defer { lock.unlock() }
        let workload = text.split(separator: ":", maxSplits: 1).last?.split(separator: " ").first.map(String.init)
        if workload != current {
            if current != nil { (done, left) = (done + 1, left - 1) }
            current = workload
        }
        let elapsed = Date().timeIntervalSince(started)
        let remaining = done > 0 ? String(format: "~%.0f s left", elapsed / Double(done) * Double(left)) : "estimating"
        Console.current.err(String(format: "campaign: %@ %@ (%.0f s elapsed, %@)", tag, text, elapsed, remaining))
    }

    /// The topology's last workload is done.
    func finished(_ topology: Campaign.Topology) {
        lock.lock()
        defer { lock.unlock() }
        if current != nil { (done, left) = (done + 1, left - 1) }
        current = nil
    }
}
