import ArgumentParser
import ForbcCore

/// `forbc discover`: the inventory, read-only.
struct Discover: HostCommand {
    static let configuration = CommandConfiguration(
        commandName: "discover",
        abstract: "Show GPUs, their partitioning capabilities and existing partitions.",
        discussion: """
            Examples:
              forbc discover
              forbc discover --simulate nvidia-t4 --output json
            """)

    @OptionGroup var global: GlobalOptions

    @Option(
        name: .customLong("include"),
        help: ArgumentHelp(
            "Also inventory this PCI function, GPU or not (an SR-IOV NIC or NVMe).", valueName: "ADDRESS"))
    var include: [String] = []

    func execute() throws {
        for address in include where !Patterns.isPCIAddress(address) {
            throw ForbcError(.invalidInput, "'--include' is '\(address)'; a PCI address looks like '0000:3b:00.0'")
        }
        let host = try global.openHost()
        let named = Set(include.map { $0.lowercased() }).union(try host.recordedAddresses())
        var inventory = try host.discover(named: named)
        // Domains are part of the inventory when libvirt answers; discovery of partitions does not depend on it.
        do {
            inventory = try host.addingDomains(to: inventory)
        } catch let error as ForbcError {
            Console.current.err("note: no VM attachments shown: \(error.message)")
        }
        Console.current.out(global.json ? try Render.json(encodable: inventory) : Render.inventoryText(inventory))
    }
}
