import ArgumentParser
import ForbcCore

/// `forbc apply FILE`: plan, confirm destruction, execute.
struct Apply: HostCommand {
    static let configuration = CommandConfiguration(
        abstract: "Make the host match the manifest.",
        discussion: """
            Examples:
              forbc apply host.yaml
              forbc apply host.yaml --yes --no-bench   # unattended, e.g. at boot
            """)

    @OptionGroup var global: GlobalOptions

    @OptionGroup var arguments: ManifestArguments

    @Flag(help: "Destroy partitions without asking.")
    var yes = false

    @Flag(name: .customLong("no-bench"), help: "Do not run the manifest's benchmarks afterwards.")
    var noBench = false

    @OptionGroup var store: StoreOptions

    @Flag(
        name: .customLong("reset-gpu"),
        help: "Reset a GPU whose MIG mode change is pending (otherwise apply stops there and says so).")
    var resetGPU = false

    func execute() throws {
        let host = try global.openHost()
        // One lock from discovery to the last step: the plan shown is the plan applied.
        let manifest = try host.locked {
            let (manifest, plan) = try arguments.plan(on: host)
            try executePlan(
                plan, on: host, global: global, yes: yes, verb: "apply", force: arguments.force, resetGPU: resetGPU)
            return manifest
        }
        if !noBench && !manifest.benchmarks.isEmpty && host.simulation != nil {
            Console.current.err(
                "note: the manifest's \(manifest.benchmarks.count) benchmark suite(s) did not run: a simulated host "
                    + "has no partitions to measure"
            )
        } else if !noBench && !manifest.benchmarks.isEmpty {
            // The host now matches the manifest: its suites measure this topology.
            let converged = try host.plan(manifest)
            try BenchRun.runSuites(
                manifest: manifest, file: arguments.file, plan: converged, host: host, store: store,
                topology: nil, workloads: nil)
        }
    }
}

/// Confirms, applies and reports a plan; shared by apply and destroy.
func executePlan(
    _ plan: Plan, on host: HostSession, global: GlobalOptions, yes: Bool, verb: String, force: Bool = false,
    resetGPU: Bool = false
) throws {
    let console = Console.current
    if plan.isEmpty {
        // Zero writes to the host; the state dir still records that it owns what is declared.
        _ = try host.apply(plan)
        if global.json {
            console.out(Render.reportJSON(Applier.Report(), plan: plan))
        } else {
            console.out("No changes: host '\(plan.host)'\(plan.simulated ? " (simulated)" : "") already matches.")
        }
        return
    }
    if !global.json {
        console.out(Render.planText(plan, manifest: Manifest(file: "", name: plan.host), verbose: global.verbose))
    }
    let destroys = plan.destroys
    if !destroys.isEmpty && !yes {
        let names = destroys.map { "'\($0.target)'" }.joined(separator: ", ")
        guard console.isInteractive else {
            throw ForbcError(
                .notConfirmed,
                "\(verb) would destroy \(destroys.count) partition\(destroys.count == 1 ? "" : "s") (\(names)); "
                    + "refusing without confirmation: rerun with '--yes'"
            )
        }
        guard console.confirm("\(verb) will destroy \(names). Proceed?") else {
            throw ForbcError(.notConfirmed, "nothing changed: destruction of \(names) was not confirmed")
        }
    }
    let report = try host.apply(plan, force: force, resetGPU: resetGPU)
    for note in report.notes { console.err("note: \(note)") }
    if global.json {
        console.out(Render.reportJSON(report, plan: plan))
    } else {
        console.out(Render.reportText(report, total: plan.actions.count))
    }
    if let failed = report.failed {
        console.err("error: \(failed.error.message)")
        throw ExitCode.failure
    }
}
