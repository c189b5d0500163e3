import ArgumentParser
import ForbcCore

/// `forbc discover`: the inventory, read-only.
struct Discover: ForbcSubcommand {
    static let configuration = CommandConfiguration(abstract: "Show GPUs, their partitioning capabilities and existing partitions.")

    @OptionGroup var global: GlobalOptions

    func execute() throws {
        let host = try global.openHost()
        let inventory = try host.discover()
        Console.current.out(global.json ? Render.json(encodable: inventory) : Render.inventoryText(inventory))
    }
}
