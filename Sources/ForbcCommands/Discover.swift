import ArgumentParser
import ForbcCore

/// `forbc discover`: the inventory, read-only.
struct Discover: ForbcSubcommand {
    static let configuration = CommandConfiguration(abstract: "Show GPUs, their partitioning capabilities and existing partitions.")

    @OptionGroup var global: GlobalOptions

    func execute() throws {
        let host = try global.openHost()
        var inventory = try host.discover()
        // Domains are part of the inventory when libvirt answers; discovery of partitions does not depend on it.
        do {
            inventory = try host.discover(domains: true)
        } catch let error as ForbcError {
            Console.current.err("note: no VM attachments shown: \(error.message)")
        }
        Console.current.out(global.json ? Render.json(encodable: inventory) : Render.inventoryText(inventory))
    }
}
