import ArgumentParser
import ForbcCore

/// `forbc plan FILE`: the ordered actions that would converge the host, each with its reason.
struct PlanCommand: HostCommand {
    static let configuration = CommandConfiguration(
        commandName: "plan",
        abstract: "Show what apply would change, and why.",
        discussion: """
            Examples:
              forbc plan host.yaml
              forbc plan host.yaml --detailed-exitcode --output json   # 2 when something would change
            """)

    @OptionGroup var global: GlobalOptions

    @OptionGroup var arguments: ManifestArguments

    @Flag(name: .customLong("detailed-exitcode"), help: "Exit 0 when converged, 2 when there are changes, 1 on error.")
    var detailedExitCode = false

    func execute() throws {
        let host = try global.openHost()
        let (manifest, plan) = try arguments.plan(on: host)
        Console.current.out(
            global.json
                ? try Render.planJSON(plan, manifest: manifest)
                : Render.planText(plan, manifest: manifest, verbose: global.verbose))
        if detailedExitCode && !plan.isEmpty { throw ExitCode(2) }
    }
}
