import ArgumentParser
import ForbcCore

/// `forbc plan FILE`: the ordered actions that would converge the host, each with its reason.
struct PlanCommand: ForbcSubcommand {
    static let configuration = CommandConfiguration(commandName: "plan", abstract: "Show what apply would change, and why.")

    @OptionGroup var global: GlobalOptions

    @Argument(help: ArgumentHelp("The manifest.", valueName: "FILE"))
    var file: String

    @Flag(name: .customLong("detailed-exitcode"), help: "Exit 0 when converged, 2 when there are changes, 1 on error.")
    var detailedExitCode = false

    @Flag(help: "Plan as 'apply --force' would: detach partitions from running domains so that they can be destroyed.")
    var force = false

    func execute() throws {
        let manifest = try loadManifest(file)
        let host = try global.openHost()
        let plan = try host.plan(manifest, force: force)
        for note in plan.notes { Console.current.err("note: \(note)") }
        Console.current.out(global.json ? Render.planJSON(plan, manifest: manifest) : Render.planText(plan, manifest: manifest, verbose: global.verbose))
        if detailedExitCode && !plan.isEmpty { throw ExitCode(2) }
    }
}
