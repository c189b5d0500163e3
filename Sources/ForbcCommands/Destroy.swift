import ArgumentParser
import ForbcCore

/// `forbc destroy FILE`: remove everything the manifest manages.
struct Destroy: ForbcSubcommand {
    static let configuration = CommandConfiguration(abstract: "Remove every partition the manifest manages.")

    @OptionGroup var global: GlobalOptions

    @Argument(help: ArgumentHelp("The manifest.", valueName: "FILE"))
    var file: String

    @Flag(help: "Do not ask before destroying.")
    var yes = false

    @Flag(help: "Detach partitions from running domains (live) so that they can be destroyed.")
    var force = false

    func execute() throws {
        let manifest = try loadManifest(file)
        let host = try global.openHost()
        let plan = try host.destroyPlan(manifest, force: force)
        try executePlan(plan, on: host, global: global, yes: yes, verb: "destroy")
    }
}
