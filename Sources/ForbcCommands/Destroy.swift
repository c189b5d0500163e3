import ArgumentParser
import ForbcCore

/// `forbc destroy FILE`: remove everything the manifest manages.
struct Destroy: HostCommand {
    static let configuration = CommandConfiguration(
        commandName: "destroy",
        abstract: "Remove every partition the manifest manages.",
        discussion: """
            Examples:
              forbc destroy host.yaml
              forbc destroy host.yaml --yes --force   # detaches live from running domains first
            """)

    @OptionGroup var global: GlobalOptions

    @OptionGroup var arguments: ManifestArguments

    @Flag(help: "Do not ask before destroying.")
    var yes = false

    @Flag(
        name: .customLong("reset-gpu"),
        help: "Reset a GPU whose MIG mode change (off) is pending (otherwise destroy stops there and says so).")
    var resetGPU = false

    func execute() throws {
        let host = try global.openHost()
        try host.locked {
            let (_, plan) = try arguments.plan(on: host, destroy: true)
            try executePlan(
                plan, on: host, global: global, yes: yes, verb: "destroy", force: arguments.force, resetGPU: resetGPU)
        }
    }
}
