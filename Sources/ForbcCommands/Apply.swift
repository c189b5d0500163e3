import ArgumentParser
import ForbcCore

/// `forbc apply FILE`: plan, confirm destruction, execute.
struct Apply: HostCommand {
    static let configuration = CommandConfiguration(
        commandName: "apply",
        abstract: "Make the host match the manifest.",
        discussion: """
            Examples:
              forbc apply host.yaml
              forbc apply host.yaml --yes --no-bench   # unattended
              forbc apply host.yaml --partitions-only --yes --no-bench   # at boot, before libvirtd
            """)

    @OptionGroup var global: GlobalOptions

    @OptionGroup var arguments: ManifestArguments

    @Flag(help: "Destroy partitions without asking.")
    var yes = false

    @Option(
        help: ArgumentHelp(
            "Run the manifest's suites afterwards: on-change (those whose targets this apply created, changed or "
                + "attached), always, never.", valueName: "WHEN"))
    var bench: BenchTrigger = .onChange

    @Flag(name: .customLong("no-bench"), help: "The same as '--bench never'.")
    var noBench = false

    @Option(help: ArgumentHelp("Workload profiles (default: workloads/ beside the manifest).", valueName: "DIR"))
    var workloads: String?

    @OptionGroup var store: StoreOptions

    @Flag(
        name: .customLong("reset-gpu"),
        help: "Reset a GPU whose MIG mode change is pending (otherwise apply stops there and says so).")
    var resetGPU = false

    @Flag(
        name: .customLong("partitions-only"),
        help: ArgumentHelp(
            "The partitions alone: libvirt is not consulted, 'vms' and 'benchmarks' are left for a later apply, "
                + "and a plan that would destroy is refused (the boot unit runs it before libvirtd starts)."))
    var partitionsOnly = false

    func execute() throws {
        let host = try global.openHost()
        let trigger = noBench || partitionsOnly ? .never : bench
        let manifest = try loadTrackedManifest(arguments.file)
        let folder = WorkloadFolder.path(for: arguments.file, override: workloads)
        if trigger != .never { try WorkloadFolder.check(manifest, folder: folder) }
        // One lock from discovery to the last step: the plan shown is the plan applied.
        let report = try host.locked {
            let plan =
                partitionsOnly
                ? try host.partitionsPlan(manifest, force: arguments.force) : try arguments.plan(manifest, on: host)
            return try executePlan(
                plan, on: host, global: global, yes: yes, verb: "apply", force: arguments.force, resetGPU: resetGPU)
        }
        try runSuites(trigger.suites(of: manifest, after: report), of: manifest, on: host, folder: folder)
    }

    /// Runs the suites an apply triggered, on the host it converged.
    func runSuites(_ suites: [BenchmarkSpec], of manifest: Manifest, on host: HostSession, folder: String) throws {
        guard !suites.isEmpty else { return }
        if host.simulation != nil {
            Console.current.err(
                "note: the manifest's \(suites.count) benchmark suite(s) did not run: a simulated host has no "
                    + "partitions to measure")
            return
        }
        var measured = manifest
        measured.benchmarks = suites
        let converged = try host.plan(measured)
        try BenchRun.runSuites(
            manifest: measured, file: arguments.file, plan: converged, host: host, store: store, topology: nil,
            workloads: folder)
    }
}

/// Confirms, applies and reports a plan; shared by apply and destroy.
@discardableResult
func executePlan(
    _ plan: Plan, on host: HostSession, global: GlobalOptions, yes: Bool, verb: String, force: Bool = false,
    resetGPU: Bool = false
) throws -> Applier.Report {
    let console = Console.current
    if plan.isEmpty {
        // Zero writes to the host; the state dir still records that it owns what is declared.
        let report = try host.apply(plan)
        if global.json {
            console.out(try Render.reportJSON(Applier.Report(), plan: plan))
        } else {
            console.out("No changes: host '\(plan.host)'\(plan.simulated ? " (simulated)" : "") already matches.")
            if let source = plan.source { console.out(Render.sourceLine(source)) }
            for note in plan.notes { console.out("Note: \(note).") }
        }
        return report
    }
    if !global.json {
        console.out(Render.planText(plan, manifest: Manifest(file: "", name: plan.host), verbose: global.verbose))
    }
    if !yes { try confirmDisruption(plan, verb: verb) }
    // A Ctrl-C from here on: the step under way finishes (its programs run in process groups of their own, which
    // the terminal's SIGINT does not reach), then apply stops.
    let interrupt = StepInterrupt.install(verb: verb)
    let report = try withExtendedLifetime(interrupt) {
        defer { interrupt.uninstall() }
        return try host.apply(plan, force: force, resetGPU: resetGPU, stop: { interrupt.received })
    }
    for note in report.notes { console.err("note: \(note)") }
    if global.json {
        console.out(try Render.reportJSON(report, plan: plan))
    } else {
        console.out(Render.reportText(report, total: plan.actions.count))
    }
    if let failed = report.failed {
        console.err("error: \(failed.error.message)")
        throw ExitCode.failure
    }
    if let stopped = report.stopped {
        console.err(
            "error: \(verb) stopped by \(stopped) after \(report.done.count + report.alreadyDone.count) of "
                + "\(plan.actions.count) steps; \(report.notAttempted.count) not attempted; run '\(verb)' again to "
                + "continue")
        throw ExitCode(interrupt.exitStatus)
    }
    if let status = interrupt.stopAfterLastStep(report, steps: plan.actions.count) { throw ExitCode(status) }
    return report
}

/// Asks before destroying partitions or hot-unplugging them from running guests; refuses without a terminal.
func confirmDisruption(_ plan: Plan, verb: String) throws {
    let console = Console.current
    let destroys = plan.destroys.map { "'\($0.target)'" }.joined(separator: ", ")
    let count = plan.destroys.count
    let unplugs = plan.liveDetaches.map { "'\($0.target)' from running '\($0.domain ?? "?")'" }
    guard count > 0 || !unplugs.isEmpty else { return }
    let unplug = unplugs.isEmpty ? "" : "hot-unplug \(unplugs.joined(separator: ", "))"
    func joined(_ destroy: String) -> String {
        [count > 0 ? destroy : "", unplug].filter { !$0.isEmpty }.joined(separator: " and ")
    }
    guard console.isInteractive else {
        let what = joined("destroy \(count) partition\(count == 1 ? "" : "s") (\(destroys))")
        throw ForbcError(.notConfirmed, "\(verb) would \(what); refusing without confirmation: rerun with '--yes'")
    }
    guard console.confirm("\(verb) will \(joined("destroy \(destroys)")). Proceed?") else {
        let refused = unplugs.isEmpty ? "destruction of \(destroys)" : "'\(verb)'"
        throw ForbcError(.notConfirmed, "nothing changed: \(refused) was not confirmed")
    }
}
