import ArgumentParser
import ForbcCore

/// `forbc sysfs-write PATH VALUE`: one write through forbc's sysfs channel, as another tool would make it behind
/// forbc's back; prints the kernel's (or the simulated kernel's) answer. For labs, demos and bug reports.
struct SysfsWrite: HostCommand {
    static let configuration = CommandConfiguration(
        commandName: "sysfs-write",
        abstract:
            "Write one sysfs attribute (under /sys, inside --root, or of a --simulate host); print the answer.",
        shouldDisplay: false)

    @OptionGroup var global: GlobalOptions

    @Argument(help: ArgumentHelp("A kernel path such as /sys/bus/mdev/devices/UUID/remove.", valueName: "PATH"))
    var path: String

    @Argument(help: ArgumentHelp("The value, written with one write(2).", valueName: "VALUE"))
    var value: String

    /// Refuses a path outside '/sys' before anything is opened; on a real host the write is resolved inside the
    /// root's 'sys' directory, so that no link takes it elsewhere.
    func execute() throws {
        try SysPath.requireSysfs(path)
        let host = try global.openHost()
        defer { try? host.persist() }
        do {
            if let real = host.sysfs as? RealSysfs {
                try real.writeAttribute(path, value)
            } else {
                try host.sysfs.write(path, value)
            }
            Console.current.out("ok")
        } catch let error as ForbcError {
            // The kernel's answer when there is one; a refusal before any write is only the error.
            if let code = error.errno { Console.current.out("error \(Errno.name(code))") }
            throw error
        }
    }
}
