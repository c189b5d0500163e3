import ArgumentParser
import ForbcCore

/// `forbc export`: the current state as a manifest that plans to zero changes (YAML, or JSON with `--output json`).
struct Export: HostCommand {
    static let configuration = CommandConfiguration(
        commandName: "export",
        abstract: "Print the host's partitions as a manifest.",
        discussion: """
            Examples:
              forbc export > host.yaml && forbc plan host.yaml   # plans zero changes
              forbc export --name gpu-node-01 --output json
            """)

    @OptionGroup var global: GlobalOptions

    @Option(
        help: ArgumentHelp(
            "metadata.name of the exported manifest (default: the name forbc recorded).", valueName: "NAME"))
    var name: String?

    func execute() throws {
        if let name, !Patterns.isObjectName(name, max: 63) {
            throw ForbcError(
                .invalidInput, "'--name' is '\(name)'; a host name is 1 to 63 letters, digits, '-', '_', '.' or '+'")
        }
        let host = try global.openHost()
        let named = try host.recordedAddresses()
        var inventory = try host.discover(named: named)
        do {
            inventory = try host.discover(domains: true, named: named)
        } catch let error as ForbcError {
            Console.current.err("note: the export has no 'vms': \(error.message)")
        }
        let exporter = Exporter(inventory: inventory, state: try host.store.load())
        if global.json {
            Console.current.out(try Render.json(exporter.jsonObject(hostName: name)))
        } else {
            Console.current.out(try exporter.manifest(hostName: name))
        }
    }
}
