import ArgumentParser
import ForbcBench
import ForbcCore
import Foundation

/// `forbc bench campaign FILE`: every topology of a campaign in turn (apply, converge, run the suites, record),
/// then the host put back as it was (an apply of the snapshot taken at the start, verified by drift), also after a
/// failure, SIGINT or SIGTERM; one comparison and one report over the campaign's topologies.
struct BenchCampaign: HostCommand {
    static let configuration = CommandConfiguration(
        commandName: "campaign",
        abstract: "Measure every topology of a campaign in turn, then restore the host.",
        discussion: """
            The whole plan is printed first and confirmed once (or '--yes'). The host is exported to \
            STATE/campaign-NAME/snapshot.yaml before anything changes and applied back at the end, after a failure \
            or on SIGINT/SIGTERM, then checked by drift. Finished topologies are recorded in \
            STATE/campaign-NAME/progress.json: '--resume' continues an interrupted campaign from there.

            Examples:
              forbc bench campaign Manifests/campaigns/mig-sim.yaml --simulate nvidia-a100-40gb --yes
              forbc bench campaign Manifests/campaigns/mig-sim.yaml --simulate nvidia-a100-40gb --yes --resume

            With '--output json' every line above goes to stderr and stdout holds one JSON summary: each \
            topology's status and results, whether the host was restored (drift 0), the report; a campaign that \
            stops before it runs (a missing or invalid file, no confirmation) gives outcome "error" and the error.
            """)

    @OptionGroup var global: GlobalOptions
    @OptionGroup var store: StoreOptions

    @Argument(help: ArgumentHelp("The campaign (kind: Campaign).", valueName: "FILE"))
    var file: String

    @Flag(help: "Change the host without asking.")
    var yes = false

    @Flag(help: "Continue an interrupted campaign: skip the topologies whose results are stored.")
    var resume = false

    @Option(help: ArgumentHelp("Workload profiles (default: the campaign's spec.workloads).", valueName: "DIR"))
    var workloads: String?

    @Option(help: ArgumentHelp("Process launches per workload at least (default: spec.launches, else 10)."))
    var launches: Int?

    @Option(name: .customLong("max-launches"), help: "Process launches per workload at most (default 20).")
    var maxLaunches: Int?

    @Flag(
        name: .customLong("reset-gpu"),
        help: "Reset a GPU whose MIG mode change is pending (a topology or the restore may need it).")
    var resetGPU = false

    @Option(help: ArgumentHelp("The HTML report (default: STATE/campaign-NAME/report.html).", valueName: "FILE"))
    var report: String?

    func execute() throws {
        guard global.json else { return try measure() }
        // Every text line to stderr; stdout holds the summary alone.
        let real = Console.current
        let quiet = Console(out: { real.err($0) }, err: { real.err($0) })
        var summarized = false
        do {
            try Console.$current.withValue(quiet) {
                try measure(summary: {
                    summarized = true
                    real.out($0.json)
                })
            }
        } catch {
            // A failure before the summary (the file, the host, a plan): still one JSON object on stdout.
            if !summarized && !(error is ExitCode) { real.out(CampaignSummary(file: file, error: error).json) }
            throw error
        }
    }

    /// The campaign from its check to its report; `summary` gets what it did once the host was restored.
    func measure(summary: ((CampaignSummary) -> Void)? = nil) throws {
        let campaign = try CampaignParser.parse(contentsOf: file, streams: .read)
        let folder = WorkloadFolder.path(for: campaign, override: workloads)
        try WorkloadFolder.check(campaign, folder: folder)
        let host = try global.openHost()
        let run = try CampaignRun(
            campaign: campaign, host: host, folder: folder, directory: directory(campaign, host), resume: resume,
            resetGPU: resetGPU)
        let plans = try run.validate()
        try confirm(campaign, plans: plans)
        // From here on a signal leads to the restore (a signal before the snapshot exists finds nothing changed).
        let interrupter = Interrupter.install(file: file, snapshot: run.snapshotPath)
        defer { interrupter.uninstall() }
        try run.start()
        var options = BenchRunner.Options()
        options.launches = max(1, launches ?? campaign.launches ?? 10)
        options.maxLaunches = max(options.launches, maxLaunches ?? campaign.maxLaunches ?? 20)
        let outcome = run.measure(options: options, store: try store.open(host), interrupter: interrupter)
        interrupter.phase.update { $0 = .restoring }
        let restored = run.restore()
        interrupter.phase.update { $0 = .restored }
        if restored == nil, case .completed = outcome { try run.restored() }
        var failure: Error?
        do { try finish(run, outcome: outcome, restored: restored, host: host) } catch { failure = error }
        summary?(
            CampaignSummary(
                run, outcome: outcome, restoreError: restored,
                report: report ?? run.directory.appendingPathComponent("report.html").path,
                error: failure.flatMap { $0 is ExitCode ? nil : $0 }))
        if let failure { throw failure }
    }

    /// STATE/campaign-NAME.
    func directory(_ campaign: Campaign, _ host: HostSession) -> URL {
        host.store.directory.appendingPathComponent("campaign-\(campaign.name)")
    }

    /// Prints every topology's plan and asks once.
    func confirm(_ campaign: Campaign, plans: [Plan]) throws {
        let console = Console.current
        console.out(
            "Campaign '\(campaign.name)': \(campaign.topologies.count) topologies, each applied, checked by drift "
                + "and measured in turn; the host is then restored to the snapshot taken now. Each plan below is "
                + "made from the host as it is now; each is made again when its turn comes.")
        for (i, (topology, plan)) in zip(campaign.topologies, plans).enumerated() {
            let suites = campaign.suites(of: topology).map(\.suite).joined(separator: ", ")
            console.out(
                "\nTopology \(i + 1)/\(plans.count) '\(topology.name)' (\(topology.file ?? "inline")), suites: "
                    + suites)
            console.out(Render.planText(plan, manifest: topology.manifest, verbose: global.verbose))
        }
        guard !yes else { return }
        guard Console.current.isInteractive else {
            throw ForbcError(
                .notConfirmed,
                "the campaign changes the host \(plans.count) times; refusing without confirmation: rerun with '--yes'")
        }
        guard Console.current.confirm("Run campaign '\(campaign.name)' (\(plans.count) topologies)?") else {
            throw ForbcError(.notConfirmed, "nothing changed: the campaign was not confirmed")
        }
    }

    /// Says how it ended: the comparison and the report when every topology was measured and the host restored.
    func finish(_ run: CampaignRun, outcome: CampaignRun.Outcome, restored: Error?, host: HostSession) throws {
        let console = Console.current
        if let restored {
            console.err("error: the host was NOT restored: \(describe(restored)); the snapshot is \(run.snapshotPath)")
        }
        switch outcome {
        case .interrupted(let signal):
            console.err(
                "error: the campaign was interrupted by \(signal) after \(run.progress.finished.count) of "
                    + "\(run.campaign.topologies.count) topologies\(restored == nil ? "; the host is restored" : ""); "
                    + "continue with '--resume'")
            throw ExitCode.failure
        case .failed(let error):
            console.err("error: \(describe(error)); continue with '--resume' once it is fixed")
            throw ExitCode.failure
        case .completed(let failures):
            if restored != nil { throw ExitCode.failure }
            try run.summarize(store: try store.open(host), report: report, baseline: run.campaign.baselineTopology)
            if failures > 0 {
                console.err("error: \(failures) result(s) failed (listed above)")
                throw ExitCode.failure
            }
        }
    }
}

extension WorkloadFolder {
    /// The campaign's workload folder, and the workloads its suites name (a suite's missing workload once).
    static func check(_ campaign: Campaign, folder: String) throws {
        var seen = Set<String>()
        let problems = campaign.topologies.flatMap { diagnostics(campaign.measured($0), folder: folder) }.filter {
            seen.insert($0.description).inserted
        }
        if !problems.isEmpty { throw DiagnosticsError(problems) }
    }

    /// The folder a campaign's workloads are in: `override`, else its `spec.workloads`, else `workloads/` beside it.
    static func path(for campaign: Campaign, override: String?) -> String {
        override ?? campaign.workloads ?? path(for: campaign.file, override: nil)
    }
}

/// An error in forbc's words.
func describe(_ error: Error) -> String {
    if let error = error as? ForbcError { return error.message }
    if let error = error as? DiagnosticsError { return error.description }
    return "\(error)"
}
