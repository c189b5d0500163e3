import ArgumentParser
import ForbcCore

/// `forbc sysfs-write PATH VALUE`: one write through forbc's sysfs channel, as another tool would make it behind
/// forbc's back; prints the kernel's (or the simulated kernel's) answer. For labs, demos and bug reports.
struct SysfsWrite: HostCommand {
    static let configuration = CommandConfiguration(
        commandName: "sysfs-write",
        abstract: "Write one sysfs attribute (under --root, or of a --simulate host) and print the kernel's answer.",
        shouldDisplay: false)

    @OptionGroup var global: GlobalOptions

    @Argument(help: ArgumentHelp("A kernel path such as /sys/bus/mdev/devices/UUID/remove.", valueName: "PATH"))
    var path: String

    @Argument(help: ArgumentHelp("The value, written with one write(2).", valueName: "VALUE"))
    var value: String

    func execute() throws {
        let host = try global.openHost()
        defer { try? host.persist() }
        do {
            try host.sysfs.write(path, value)
            Console.current.out("ok")
        } catch let error as ForbcError {
            Console.current.out("error \(error.errno.map(Errno.name) ?? "?")")
            throw error
        }
    }
}
